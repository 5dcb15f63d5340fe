//! `pinchwork-matcher`: one matcher instance (run as many as you like).

use std::sync::Arc;

use pinchwork_common::{Config, telemetry};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Arc::new(Config::load());
    let _telemetry = telemetry::init(&config, "pinchwork-matcher");
    tracing::info!(?config, "starting pinchwork-matcher");
    let shutdown = CancellationToken::new();
    tokio::spawn(pinchwork_common::shutdown::on_signal(shutdown.clone()));
    pinchwork_matcher::run(config, shutdown, |_| {}).await
}
