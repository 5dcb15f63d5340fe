//! The `wait` long-poll of task creation: block until the task is delivered,
//! whichever api node handles the delivery, or until the timeout. A2A's
//! blocking sends and streams read events through the same subscription.

use std::time::Duration;

use async_nats::Subscriber;
use futures::StreamExt;
use pinchwork_common::{
    Error, Result,
    bus::Bus,
    db::tasks::{self, Task},
    domain::{EventType, TaskStatus},
    ids::{AgentId, TaskId},
    market::Market,
    telemetry,
};
use tokio_util::sync::CancellationToken;

/// Subscribes (core NATS) to the events of `agent_id`: those of one type, or
/// all of them. Done before the state it watches can change, so no event is missed.
pub async fn subscribe(
    bus: &Bus,
    agent_id: &AgentId,
    event: Option<EventType>,
) -> Result<Subscriber> {
    let subject = match event {
        Some(event) => bus.layout.agent_event(agent_id, event.as_str()),
        None => bus.layout.agent_events(agent_id),
    };
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

/// How a wait for the next event ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Woke {
    /// An event about the task arrived.
    Event,
    /// The deadline passed.
    Timeout,
    /// The node is shutting down, or the subscription ended.
    Closed,
}

/// Waits for the next event about `task_id` (others are skipped) until
/// `deadline` or `shutdown`.
pub async fn next_about(
    events: &mut Subscriber,
    task_id: &str,
    deadline: tokio::time::Instant,
    shutdown: &CancellationToken,
) -> Woke {
    tokio::time::timeout_at(deadline, async {
        loop {
            let msg = tokio::select! {
                () = shutdown.cancelled() => return Woke::Closed,
                msg = events.next() => msg,
            };
            let Some(msg) = msg else { return Woke::Closed };
            if mentions_task(&msg.payload, task_id) {
                // The event is another request's trace: link it to this one.
                telemetry::link_from_headers(&tracing::Span::current(), msg.headers.as_ref());
                return Woke::Event;
            }
        }
    })
    .await
    .unwrap_or(Woke::Timeout)
}

/// Waits until `task_id` is delivered (or approved), `timeout` passes or
/// `shutdown` is cancelled, and returns the task's state at that point.
pub async fn until_delivered(
    market: &Market,
    mut deliveries: Subscriber,
    task_id: &TaskId,
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
        if next_about(&mut deliveries, task_id, deadline, shutdown).await != Woke::Event {
            // Timeout, shutdown, or the subscription closed: answer with the current state.
            return tasks::get(&market.pool, task_id)
                .await?
                .ok_or_else(Error::task_not_found);
        }
    }
}

fn mentions_task(payload: &[u8], task_id: &str) -> bool {
    serde_json::from_slice::<serde_json::Value>(payload)
        .ok()
        .and_then(|v| v["task_id"].as_str().map(|t| t == task_id))
        .unwrap_or(false)
}
