//! `pinchwork-api`: one api node.

use std::sync::Arc;

use pinchwork_common::{Config, telemetry};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Arc::new(Config::load());
    let _telemetry = telemetry::init(&config, "pinchwork-api");
    tracing::info!(?config, "starting pinchwork-api");
    let shutdown = CancellationToken::new();
    tokio::spawn(pinchwork_common::shutdown::on_signal(shutdown.clone()));
    pinchwork_api::run(config, shutdown, |_| {}).await
}
