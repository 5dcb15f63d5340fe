//! The deadlines service: applies every timed rule of the marketplace. Due
//! times live in PostgreSQL columns, so any number of instances can run (they
//! share due rows through `SKIP LOCKED`) and a restart loses nothing.
#![forbid(unsafe_code)]

use std::{net::SocketAddr, sync::Arc, time::Duration};

use pinchwork_common::{
    Config,
    market::{Market, SweepReport},
    metrics,
    service::{Component, Runtime, Service},
};
use tokio_util::sync::CancellationToken;

/// Port used when neither `PINCHWORK_LISTEN` nor another address is given,
/// so an instance next to an api node on the same host does not collide.
pub const DEFAULT_PORT: u16 = 8200;

/// The deadlines service: no routes of its own, one sweeper. It never talks
/// to NATS: api nodes publish the outbox rows it writes.
pub const SERVICE: Service = Service::new("deadlines", start).with_default_port(DEFAULT_PORT);

fn start(rt: &Runtime) -> anyhow::Result<Component> {
    Ok(Component::new().task(sweep_until(rt.market.clone(), rt.shutdown.clone())))
}

/// Serves `/health`, `/ready` and `/metrics` and sweeps until `shutdown` is
/// cancelled; a sweep in progress finishes first. Calls `on_listen` with the bound address.
pub async fn run(
    config: Arc<Config>,
    shutdown: CancellationToken,
    on_listen: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    SERVICE.run(config, shutdown, on_listen).await
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
