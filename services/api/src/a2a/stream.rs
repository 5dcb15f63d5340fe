//! The SSE answer of `SendStreamingMessage` and `SubscribeToTask`: the task
//! first, then an update each time it changes, until it ends (completed,
//! canceled) or waits for its poster (input-required).
//!
//! The updates are fed by the poster's events on the bus (the events
//! `/v1/events` relays, read with the subscription `wait` uses). A claim or a
//! cancel sends the poster no event, so the task is also re-read now and then.

use std::{convert::Infallible, time::Duration};

use async_nats::Subscriber;
use axum::{
    http::HeaderValue,
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
};
use futures::{StreamExt, stream};
use pinchwork_common::{
    db::tasks::Task,
    domain::TaskStatus,
    ids::{AgentId, TaskId},
    market::Market,
};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::{
    RpcError,
    wire::{self, Version},
};
use crate::{
    AppState,
    wait::{self, Woke},
};

/// How often the task is re-read when no event arrives.
const REREAD: Duration = Duration::from_secs(3);
/// Longest life of one stream; the client subscribes again to go on.
const MAX_STREAM: Duration = Duration::from_secs(3600);

struct Watch {
    market: Market,
    events: Subscriber,
    agent_id: AgentId,
    task_id: TaskId,
    status: TaskStatus,
    had_result: bool,
    ends_at: Instant,
    done: bool,
    version: Version,
    shutdown: tokio_util::sync::CancellationToken,
}

impl Watch {
    /// The next batch of updates, or `None` when the stream is over.
    async fn next(&mut self) -> Option<Vec<Value>> {
        loop {
            if self.done || Instant::now() >= self.ends_at {
                return None;
            }
            let woke = wait::next_about(
                &mut self.events,
                &self.task_id,
                Instant::now() + REREAD,
                &self.shutdown,
            )
            .await;
            let task = self
                .market
                .task_for(&self.agent_id, &self.task_id)
                .await
                .ok()?;
            if woke == Woke::Closed {
                // The node is shutting down: end here, the client resubscribes elsewhere.
                self.done = true;
            }
            if task.status != self.status {
                let updates = self.changed(&task);
                return Some(updates);
            }
        }
    }

    fn changed(&mut self, task: &Task) -> Vec<Value> {
        let updates = wire::updates(task, self.had_result, self.version);
        self.status = task.status;
        self.had_result = task.result.is_some();
        self.done |= wire::stream_ends(task.status);
        updates
    }
}

/// Opens the stream on `task` for `agent_id`; a failure to subscribe is a
/// JSON-RPC error instead.
pub async fn open(
    state: &AppState,
    agent_id: AgentId,
    task: Task,
    id: Value,
    v: Version,
) -> Response {
    let events = match wait::subscribe(&state.bus, &agent_id, None).await {
        Ok(events) => events,
        Err(err) => return RpcError::from_http(err).into_response(&id),
    };
    let first = wire::stream_start(&task, v);
    let watch = Watch {
        market: state.market.clone(),
        events,
        agent_id,
        task_id: task.id.clone(),
        status: task.status,
        had_result: task.result.is_some(),
        ends_at: Instant::now() + MAX_STREAM,
        done: wire::stream_ends(task.status),
        version: v,
        shutdown: state.shutdown.clone(),
    };
    let updates = stream::unfold(watch, move |mut watch| async move {
        let batch = watch.next().await?;
        Some((stream::iter(batch), watch))
    })
    .flatten();
    let frames = stream::once(async move { first })
        .chain(updates)
        .map(move |result| {
            let body = json!({ "jsonrpc": "2.0", "id": id, "result": result });
            Ok::<_, Infallible>(Event::default().data(body.to_string()))
        });
    let mut response = Sse::new(frames)
        .keep_alive(KeepAlive::default())
        .into_response();
    // Proxies must pass each event on at once.
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}
