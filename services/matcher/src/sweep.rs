//! The matcher's safety net for tasks whose `task_created` command was lost.

use std::time::Duration;

use pinchwork_common::market::{Market, TERMS_BATCH};
use tokio_util::sync::CancellationToken;

/// Tasks the sweep routes per round.
const SWEEP_BATCH: i64 = 200;

/// Routes tasks still pending without a decision (their command never reached
/// NATS), every `PINCHWORK_MATCHER_SWEEP_MS`, after computing the match terms
/// of agents that have none (see migration 0015). Not a timer: the match window and
/// the verification timeout belong to the deadlines service. Running in every
/// instance is harmless: each task is locked and checked before it is routed.
pub async fn sweep(market: Market, shutdown: CancellationToken) {
    let period = Duration::from_millis(market.config.matcher_sweep_ms);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(period) => {}
        }
        index_terms(&market).await;
        match market.route_unrouted(SWEEP_BATCH).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(routed = n, "sweep routed tasks"),
            Err(err) => tracing::warn!(error = %err, "sweep: routing failed"),
        }
    }
}

/// Computes missing match terms, batch after batch, until none is left.
async fn index_terms(market: &Market) {
    loop {
        match market.index_match_terms(TERMS_BATCH).await {
            Ok(n) if (n as i64) < TERMS_BATCH => {
                if n > 0 {
                    tracing::info!(agents = n, "sweep computed match terms");
                }
                return;
            }
            Ok(n) => tracing::info!(agents = n, "sweep computed match terms"),
            Err(err) => {
                tracing::warn!(error = %err, "sweep: computing match terms failed");
                return;
            }
        }
    }
}
