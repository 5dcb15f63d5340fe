//! The `wait` long-poll of task creation: block until the task is delivered,
//! whichever api node handles the delivery, or until the timeout.

use std::time::Duration;

use async_nats::Subscriber;
use futures::StreamExt;
use pinchwork_common::{
    Error, Result,
    bus::Bus,
    db::tasks::{self, Task},
    domain::{EventType, TaskStatus},
    market::Market,
    telemetry,
};
use tokio_util::sync::CancellationToken;

/// Subscribes (core NATS) to the poster's `task_delivered` events. Done
/// before the task is created, so no delivery can be missed.
pub async fn subscribe(bus: &Bus, poster_id: &str) -> Result<Subscriber> {
    let subject = bus
        .layout
        .agent_event(poster_id, EventType::TaskDelivered.as_str());
    let sub = bus
        .client
        .subscribe(subject)
        .await
        .map_err(|e| Error::Unavailable(format!("event bus unavailable: {e}")))?;
    // Make sure the server registered the interest before we go on.
    bus.client
        .flush()
        .await
        .map_err(|e| Error::Unavailable(format!("event bus unavailable: {e}")))?;
    Ok(sub)
}

/// Waits until `task_id` is delivered (or approved), `timeout` passes or
/// `shutdown` is cancelled, and returns the task's state at that point.
pub async fn until_delivered(
    market: &Market,
    mut deliveries: Subscriber,
    task_id: &str,
    timeout: Duration,
    shutdown: &CancellationToken,
) -> Result<Task> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let task = tasks::get(&market.pool, task_id)
            .await?
            .ok_or_else(Error::task_not_found)?;
        if matches!(task.status, TaskStatus::Delivered | TaskStatus::Approved) {
            return Ok(task);
        }
        // Wait for this task's delivery event (others of the same poster are skipped).
        let woke = tokio::time::timeout_at(deadline, async {
            loop {
                let msg = tokio::select! {
                    () = shutdown.cancelled() => return false,
                    msg = deliveries.next() => msg,
                };
                let Some(msg) = msg else { return false };
                if mentions_task(&msg.payload, task_id) {
                    // The delivery is another request's trace: link it to this one.
                    telemetry::link_from_headers(&tracing::Span::current(), msg.headers.as_ref());
                    return true;
                }
            }
        })
        .await;
        match woke {
            Ok(true) => continue,
            // Timeout, shutdown, or the subscription closed: answer with the current state.
            Ok(false) | Err(_) => {
                return tasks::get(&market.pool, task_id)
                    .await?
                    .ok_or_else(Error::task_not_found);
            }
        }
    }
}

fn mentions_task(payload: &[u8], task_id: &str) -> bool {
    serde_json::from_slice::<serde_json::Value>(payload)
        .ok()
        .and_then(|v| v["task_id"].as_str().map(|t| t == task_id))
        .unwrap_or(false)
}
