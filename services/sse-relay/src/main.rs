//! `pinchwork-sse-relay`: the SSE relay.

use std::sync::Arc;

use pinchwork_common::{Config, telemetry};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Arc::new(Config::load());
    let _telemetry = telemetry::init(&config, "pinchwork-sse-relay");
    tracing::info!(?config, "starting pinchwork-sse-relay");
    let shutdown = CancellationToken::new();
    tokio::spawn(pinchwork_common::shutdown::on_signal(shutdown.clone()));
    pinchwork_sse_relay::run(config, shutdown, |_| {}).await
}
