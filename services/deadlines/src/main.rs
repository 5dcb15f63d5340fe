//! `pinchwork-deadlines`: one instance of the deadlines service.

use std::sync::Arc;

use pinchwork_common::{Config, telemetry};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Arc::new(Config::load());
    telemetry::init(&config);
    tracing::info!(?config, "starting pinchwork-deadlines");
    let shutdown = CancellationToken::new();
    tokio::spawn(shutdown_on_signal(shutdown.clone()));
    pinchwork_deadlines::run(config, shutdown, |_| {}).await
}

/// Cancels `token` on SIGINT or SIGTERM.
async fn shutdown_on_signal(token: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing a SIGTERM handler cannot fail on unix");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down");
    token.cancel();
}
