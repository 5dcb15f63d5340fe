//! The Pinchwork matcher: consumes the `task_created` and `profile_changed`
//! commands and routes work (design §4). Its results are ordinary rows written
//! in transactions; any number of instances may run, each command is applied
//! once. A periodic sweep routes tasks whose command never arrived and applies
//! the match and verification timers.
#![forbid(unsafe_code)]

mod consumer;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::Router;
use pinchwork_common::{
    Config, db,
    market::Market,
    metrics::{self, NatsProbe},
};
use tokio_util::sync::CancellationToken;

pub use consumer::{Command, cmd_stream_name, cmd_subject, ensure_cmd_stream};

/// Tasks the sweep routes per round.
const SWEEP_BATCH: i64 = 200;

/// Connects, migrates, then consumes commands and sweeps until `shutdown` is
/// cancelled. Serves `/health`, `/ready` and `/metrics`; calls `on_listen` with the bound address.
pub async fn run(
    config: Arc<Config>,
    shutdown: CancellationToken,
    on_listen: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    metrics::install();
    let pool = db::connect(&config).await?;
    db::migrate(&pool, &config).await?;
    let market = Market::new(pool.clone(), config.clone());
    let nats_up = Arc::new(std::sync::atomic::AtomicBool::new(false));

    let listener = tokio::net::TcpListener::bind(config.listen_addr()).await?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "matcher listening");
    on_listen(addr);

    let consumer = tokio::spawn(consumer::consume(
        market.clone(),
        nats_up.clone(),
        shutdown.clone(),
    ));
    let sweeper = tokio::spawn(sweep(market.clone(), shutdown.clone()));
    let lag = tokio::spawn(consumer::sample_lag(config.clone(), shutdown.clone()));
    let app: Router = metrics::routes(pool.clone(), NatsProbe::Flag(nats_up));
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.clone().cancelled_owned())
        .await?;
    shutdown.cancel();
    let _ = consumer.await;
    let _ = sweeper.await;
    let _ = lag.await;
    pool.close().await;
    Ok(())
}

/// Routes tasks still pending without a decision and applies the match and
/// verification timers, every `PINCHWORK_MATCHER_SWEEP_MS`. Running in every
/// instance (and next to the deadlines service) is harmless: each step is guarded.
async fn sweep(market: Market, shutdown: CancellationToken) {
    let period = Duration::from_millis(market.config.matcher_sweep_ms);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(period) => {}
        }
        match market.route_unrouted(SWEEP_BATCH).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(routed = n, "sweep routed tasks"),
            Err(err) => tracing::warn!(error = %err, "sweep: routing failed"),
        }
        match market.expire_match_deadlines().await {
            Ok(flipped) if !flipped.is_empty() => {
                tracing::info!(tasks = flipped.len(), "match timeout: tasks broadcast");
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "sweep: match timers failed"),
        }
    }
}
