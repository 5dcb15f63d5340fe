//! `pinchwork-webhooks`: the webhook sender.

use std::sync::Arc;

use pinchwork_common::{Config, telemetry};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    pinchwork_common::tls::install_crypto_provider();
    let config = Arc::new(Config::load());
    let _telemetry = telemetry::init(&config, "pinchwork-webhooks");
    tracing::info!(?config, "starting pinchwork-webhooks");
    let shutdown = CancellationToken::new();
    tokio::spawn(pinchwork_common::shutdown::on_signal(shutdown.clone()));
    pinchwork_webhooks::run(config, shutdown, |_| {}).await
}
