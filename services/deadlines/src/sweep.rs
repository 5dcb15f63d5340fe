//! The sweeper: applies every due rule, batch by batch.

use std::time::Duration;

use pinchwork_common::{
    market::{Market, SweepReport},
    metrics,
};
use tokio_util::sync::CancellationToken;

/// Sweeps again at once while rules fill whole batches, otherwise waits the
/// poll interval. A failed sweep is logged and retried at the next tick: its
/// transactions rolled back, so nothing was half applied.
pub async fn sweep_until(market: Market, shutdown: CancellationToken) {
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
