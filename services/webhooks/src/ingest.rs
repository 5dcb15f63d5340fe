//! Events → delivery rows. A message is acked only after its row is written
//! (or when its recipient has no webhook), so a crash redelivers it and the
//! unique (agent, event id) key makes the second write a no-op.

use std::{sync::Arc, time::Duration};

use async_nats::jetstream::{Message, consumer::pull};
use futures::{StreamExt, TryStreamExt};
use pinchwork_common::{
    bus::Bus,
    db::{agents, webhooks},
    ids::{AgentId, TaskId},
    metrics, telemetry,
};
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::CONSUMER;

/// Consumes events until `shutdown`, re-subscribing after errors.
pub async fn run(pool: PgPool, bus: Bus, wake: Arc<Notify>, shutdown: CancellationToken) {
    while !shutdown.is_cancelled() {
        // Not raced against shutdown: `consume` stops pulling by itself and
        // stores and acks the event in hand first.
        if let Err(err) = consume(&pool, &bus, &wake, &shutdown).await {
            tracing::warn!(error = %err, "webhook event consumer failed; restarting");
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}

/// Events stored at once by one instance: each is an independent, idempotent
/// insert, so they need no order; bounded below the database pool's size so
/// the sender keeps connections.
const INGEST_CONCURRENCY: usize = 8;

async fn consume(
    pool: &PgPool,
    bus: &Bus,
    wake: &Notify,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let messages = tokio::select! {
        () = shutdown.cancelled() => return Ok(()),
        attached = attach(bus) => attached?,
    };
    // At shutdown the stream stops pulling; the events in hand are still
    // stored and acked. The first error ends this attachment: events not yet
    // acked come back after the ack wait.
    messages
        .take_until(shutdown.cancelled())
        .map(|msg| async move {
            let msg = msg.map_err(|e| anyhow::anyhow!("{e}"))?;
            ingest(pool, bus, wake, &msg).await
        })
        .buffer_unordered(INGEST_CONCURRENCY)
        .try_for_each(|()| async { Ok(()) })
        .await
}

/// Stores one event's delivery row and acks it; a failed store is left unacked.
async fn ingest(pool: &PgPool, bus: &Bus, wake: &Notify, msg: &Message) -> anyhow::Result<()> {
    metrics::counter!(metrics::EVENTS_CONSUMED, "consumer" => CONSUMER).increment(1);
    let span =
        tracing::info_span!("webhook ingest", otel.kind = "consumer", subject = %msg.subject);
    telemetry::continue_from_headers(&span, msg.headers.as_ref());
    match store(pool, bus, msg).instrument(span).await {
        Ok(queued) => {
            msg.ack().await.map_err(|e| anyhow::anyhow!("{e}"))?;
            if queued {
                wake.notify_one();
            }
        }
        // Not acked: JetStream redelivers after ack_wait.
        Err(err) => {
            tracing::warn!(error = %err, subject = %msg.subject, "queueing a webhook failed")
        }
    }
    Ok(())
}

/// Binds the shared durable consumer; returns its message stream.
async fn attach(bus: &Bus) -> anyhow::Result<pull::Stream> {
    // Each message only needs one insert before its ack, so a short ack wait
    // (with small pull batches) lets a crashed instance's messages come back soon.
    let consumer = bus
        .events_consumer(CONSUMER, Duration::from_secs(5))
        .await?;
    Ok(consumer
        .stream()
        .max_messages_per_batch(64)
        .messages()
        .await?)
}

/// Writes the delivery row of one event; false when there is nothing to send.
async fn store(pool: &PgPool, bus: &Bus, msg: &Message) -> anyhow::Result<bool> {
    let Some((recipient, _)) = bus.layout.parse_event_subject(&msg.subject) else {
        return Ok(false);
    };
    let Ok(event) = serde_json::from_slice::<Value>(&msg.payload) else {
        tracing::warn!(subject = %msg.subject, "dropping an unreadable event");
        return Ok(false);
    };
    let recipient = AgentId::from(recipient);
    let Some(agent) = agents::get(pool, &recipient).await? else {
        return Ok(false);
    };
    // A suspended agent's webhooks stop (its events are still acked).
    if agent.webhook_url.is_none() || agent.suspended {
        return Ok(false);
    }
    let event_id: i64 = event["event_id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("event without event_id"))?;
    let event_type = event["event"].as_str().unwrap_or_default();
    let body = json!({
        "event": event_type,
        "task_id": event["task_id"],
        "data": event["data"],
        "timestamp": event["timestamp"],
        "event_id": event_id.to_string(),
    })
    .to_string();
    let written = webhooks::enqueue(
        pool,
        &recipient,
        event_id,
        event_type,
        event["task_id"].as_str().map(TaskId::from).as_ref(),
        &body,
        traceparent(msg).as_deref(),
    )
    .await?;
    Ok(written)
}

/// The trace context the delivery continues: this ingest span's, or the
/// message's own when this process exports no spans.
fn traceparent(msg: &Message) -> Option<String> {
    telemetry::current_traceparent().or_else(|| {
        msg.headers
            .as_ref()?
            .get(telemetry::TRACEPARENT)
            .map(|v| v.as_str().to_string())
    })
}
