//! `pinchwork-deadlines`: one instance of the deadlines service.

use std::sync::Arc;

use pinchwork_common::{Config, telemetry};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Arc::new(Config::load());
    let _telemetry = telemetry::init(&config, "pinchwork-deadlines");
    tracing::info!(?config, "starting pinchwork-deadlines");
    let shutdown = CancellationToken::new();
    tokio::spawn(pinchwork_common::shutdown::on_signal(shutdown.clone()));
    pinchwork_deadlines::run(config, shutdown, |_| {}).await
}
