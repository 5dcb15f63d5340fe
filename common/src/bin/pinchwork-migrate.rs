//! `pinchwork-migrate`: applies the database migrations, makes sure the
//! platform agent exists, and exits. Services never migrate: they refuse to
//! start until this ran against their database.

use pinchwork_common::{Config, db, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::load();
    let _telemetry = telemetry::init(&config, "pinchwork-migrate");
    let pool = db::connect(&config).await?;
    db::migrate(&pool, &config).await?;
    tracing::info!("migrations applied");
    Ok(())
}
