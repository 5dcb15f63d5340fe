//! The Pinchwork api node: every REST route except the SSE stream. It holds no
//! state between requests, so any number of nodes can serve behind a balancer.
#![forbid(unsafe_code)]

pub mod error;
pub mod extract;
mod fields;
mod input;
pub mod negotiate;
pub mod openapi;
mod rate_limit;
mod routes;
mod trace;
pub mod views;
mod wait;
pub mod web;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use pinchwork_common::{Config, bus::Bus, db, market::Market, metrics, outbox_relay};
use tokio_util::sync::CancellationToken;

pub use routes::{RELAYED, UNDOCUMENTED, document, router};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub market: Market,
    /// NATS: `wait` subscribes to task events through it.
    pub bus: Bus,
}

/// Connects, migrates, and serves until `shutdown` is cancelled; in-flight
/// requests finish first (`wait` long-polls answer early). Calls `on_listen` with the bound address.
pub async fn run(
    config: Arc<Config>,
    shutdown: CancellationToken,
    on_listen: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    metrics::install();
    let pool = db::connect(&config).await?;
    db::migrate(&pool, &config).await?;
    let bus = Bus::connect(&config).await?;
    let listener = tokio::net::TcpListener::bind(config.listen_addr()).await?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "api listening");
    on_listen(addr);

    let market = Market::new(pool.clone(), config.clone());
    let relay = tokio::spawn(outbox_relay::run(
        pool.clone(),
        bus.clone(),
        market.outbox_wake.clone(),
        Duration::from_millis(config.outbox_sweep_ms),
        shutdown.clone(),
    ));
    // Once the outbox publisher stopped, closing the NATS connection ends the
    // `wait` long-polls (they answer with the task's current state), so the
    // graceful shutdown does not sit out their timeouts.
    let nats_closer = tokio::spawn({
        let (client, shutdown) = (bus.client.clone(), shutdown.clone());
        async move {
            shutdown.cancelled().await;
            let _ = relay.await;
            if let Err(err) = client.drain().await {
                tracing::debug!(error = %err, "closing the NATS connection failed");
            }
        }
    });
    let state = AppState { market, bus };
    let pruner = tokio::spawn(prune_rate_limits(pool.clone(), shutdown.clone()));
    let backlog = tokio::spawn(metrics::sample_outbox_backlog(
        pool.clone(),
        shutdown.clone(),
    ));
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.clone().cancelled_owned())
        .await?;
    shutdown.cancel();
    let _ = pruner.await;
    let _ = backlog.await;
    let _ = nats_closer.await;
    pool.close().await;
    Ok(())
}

/// Drops old rate-limit windows now and then (any node may do it; doing it twice is harmless).
async fn prune_rate_limits(pool: sqlx::PgPool, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(300)) => {}
        }
        if let Err(err) = db::rate_limits::prune(&pool).await {
            tracing::warn!(error = %err, "pruning rate-limit windows failed");
        }
    }
}
