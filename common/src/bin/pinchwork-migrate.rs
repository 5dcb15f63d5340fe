//! `pinchwork-migrate`: applies the database migrations and exits (the
//! services also apply them on start).

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
