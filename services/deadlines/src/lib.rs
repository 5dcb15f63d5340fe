//! The deadlines service: applies every timed rule of the marketplace. Due
//! times live in PostgreSQL columns, so any number of instances can run (they
//! share due rows through `SKIP LOCKED`) and a restart loses nothing.
#![forbid(unsafe_code)]

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::Router;
use pinchwork_common::{
    Config, db,
    market::{Market, SweepReport},
    metrics::{self, NatsProbe},
};
use tokio_util::sync::CancellationToken;

/// Port used when neither `PINCHWORK_LISTEN` nor another address is given,
/// so an instance next to an api node on the same host does not collide.
pub const DEFAULT_PORT: u16 = 8200;

/// Connects, migrates, serves `/health`, `/ready` and `/metrics`, and sweeps until
/// `shutdown` is cancelled; a sweep in progress finishes first. Calls
/// `on_listen` with the bound address.
pub async fn run(
    config: Arc<Config>,
    shutdown: CancellationToken,
    on_listen: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    metrics::install();
    let pool = db::connect(&config).await?;
    db::migrate(&pool, &config).await?;
    let addr = config
        .listen
        .clone()
        .unwrap_or_else(|| format!("{}:{DEFAULT_PORT}", config.host));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "deadlines listening");
    on_listen(addr);

    let market = Market::new(pool.clone(), config);
    let sweeper = tokio::spawn(sweep_until(market, shutdown.clone()));
    // The deadlines service never talks to NATS: api nodes publish its outbox rows.
    let app: Router = metrics::routes(pool.clone(), NatsProbe::Unused);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.clone().cancelled_owned())
        .await?;
    shutdown.cancel();
    let _ = sweeper.await;
    pool.close().await;
    Ok(())
}

/// Sweeps again at once while rules fill whole batches, otherwise waits the
/// poll interval. A failed sweep is logged and retried at the next tick: its
/// transactions rolled back, so nothing was half applied.
async fn sweep_until(market: Market, shutdown: CancellationToken) {
    let poll = Duration::from_millis(market.config.deadlines_poll_ms);
    while !shutdown.is_cancelled() {
        let more_due = match market.sweep_once().await {
            Ok(report) => {
                count_transitions(&report);
                report.saturated
            }
            Err(err) => {
                tracing::warn!(error = %err, "sweep failed");
                false
            }
        };
        if more_due {
            continue;
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(poll) => {}
        }
    }
}

/// Adds a sweep's transitions to the per-rule counter.
fn count_transitions(report: &SweepReport) {
    for (rule, applied) in &report.applied {
        metrics::counter!(metrics::DEADLINE_TRANSITIONS, "rule" => rule.as_str())
            .increment(*applied as u64);
    }
}
