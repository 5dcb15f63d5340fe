//! Events → delivery rows, a batch of events at a time. A message is acked
//! only after its batch's rows are committed (or when its recipient has no
//! webhook), so a crash redelivers it and the unique (agent, event id) key
//! makes the second write a no-op.

use std::{collections::HashSet, sync::Arc, time::Duration};

use async_nats::jetstream::{Message, consumer::pull};
use futures::{StreamExt, TryStreamExt};
use pinchwork_common::{
    bus::Bus,
    db::webhooks::{self, NewDelivery},
    ids::{AgentId, TaskId},
    metrics, telemetry,
};
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::CONSUMER;

/// Consumes events until `shutdown`, re-subscribing after errors.
pub async fn run(pool: PgPool, bus: Bus, wake: Arc<Notify>, shutdown: CancellationToken) {
    while !shutdown.is_cancelled() {
        // Not raced against shutdown: `consume` stops pulling by itself and
        // stores and acks the events in hand first.
        if let Err(err) = consume(&pool, &bus, &wake, &shutdown).await {
            tracing::warn!(error = %err, "webhook event consumer failed; restarting");
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}

/// Events taken into one batch at most (one statement to sort out the
/// recipients, one to write the rows, one commit).
const BATCH: usize = 128;

/// Batches stored at once by one instance: each is independent and
/// idempotent, so they need no order; bounded well below the database pool's
/// size so the sender keeps connections.
const INGEST_CONCURRENCY: usize = 4;

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
    // Whatever has arrived (up to BATCH) is one batch: under load batches
    // grow, a lone event is stored at once. At shutdown the stream stops
    // pulling; the batches in hand are still stored and acked. The first
    // error ends this attachment (after the messages before it are stored):
    // events not yet acked come back after the ack wait.
    messages
        .take_until(shutdown.cancelled())
        .ready_chunks(BATCH)
        .map(|chunk| async move {
            let mut batch = Vec::with_capacity(chunk.len());
            let mut failed = None;
            for msg in chunk {
                match msg {
                    Ok(msg) => batch.push(msg),
                    Err(err) => {
                        failed = Some(anyhow::anyhow!("{err}"));
                        break;
                    }
                }
            }
            ingest(pool, bus, wake, &batch).await?;
            failed.map_or(Ok(()), Err)
        })
        .buffer_unordered(INGEST_CONCURRENCY)
        .try_for_each(|()| async { Ok(()) })
        .await
}

/// Stores a batch's delivery rows in one commit, then acks every message; a
/// failed store leaves the whole batch unacked.
async fn ingest(pool: &PgPool, bus: &Bus, wake: &Notify, batch: &[Message]) -> anyhow::Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    metrics::counter!(metrics::EVENTS_CONSUMED, "consumer" => CONSUMER)
        .increment(batch.len() as u64);
    match store(pool, bus, batch).await {
        Ok(queued) => {
            for msg in batch {
                msg.ack().await.map_err(|e| anyhow::anyhow!("{e}"))?;
            }
            if queued > 0 {
                wake.notify_one();
            }
        }
        // Not acked: JetStream redelivers after ack_wait.
        Err(err) => {
            tracing::warn!(error = %err, events = batch.len(), "queueing webhooks failed")
        }
    }
    Ok(())
}

/// Binds the shared durable consumer; returns its message stream.
async fn attach(bus: &Bus) -> anyhow::Result<pull::Stream> {
    // A batch needs two statements before its acks, so a short ack wait lets
    // a crashed instance's messages come back soon.
    let consumer = bus
        .events_consumer(CONSUMER, Duration::from_secs(5))
        .await?;
    Ok(consumer
        .stream()
        .max_messages_per_batch(BATCH)
        .messages()
        .await?)
}

/// Writes the delivery rows of a batch of events; returns how many were
/// written. Events whose recipient has no webhook (or is suspended, or
/// unknown) cost one shared lookup and nothing else; their messages are acked.
async fn store(pool: &PgPool, bus: &Bus, batch: &[Message]) -> anyhow::Result<u64> {
    let recipients: Vec<Option<&str>> = batch
        .iter()
        .map(|msg| Some(bus.layout.parse_event_subject(&msg.subject)?.0))
        .collect();
    let mut distinct: Vec<&str> = recipients.iter().flatten().copied().collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.is_empty() {
        return Ok(0);
    }
    let hooked: HashSet<String> = webhooks::hooked_among(pool, &distinct)
        .await?
        .into_iter()
        .collect();
    let deliveries: Vec<NewDelivery> = batch
        .iter()
        .zip(&recipients)
        .filter_map(|(msg, recipient)| {
            let recipient = (*recipient).filter(|r| hooked.contains(*r))?;
            let span = tracing::info_span!("webhook ingest", otel.kind = "consumer", subject = %msg.subject);
            telemetry::continue_from_headers(&span, msg.headers.as_ref());
            span.in_scope(|| delivery(msg, recipient))
        })
        .collect();
    Ok(webhooks::enqueue(pool, &deliveries).await?)
}

/// The delivery row of one event for a recipient with a webhook; None (and a
/// warning) when the event cannot be read.
fn delivery(msg: &Message, recipient: &str) -> Option<NewDelivery> {
    let event = serde_json::from_slice::<Value>(&msg.payload).ok();
    let event_id = event
        .as_ref()
        .and_then(|e| e["event_id"].as_str()?.parse::<i64>().ok());
    let (Some(event), Some(event_id)) = (event, event_id) else {
        tracing::warn!(subject = %msg.subject, "dropping an unreadable event");
        return None;
    };
    let event_type = event["event"].as_str().unwrap_or_default().to_string();
    let body = json!({
        "event": event_type,
        "task_id": event["task_id"],
        "data": event["data"],
        "timestamp": event["timestamp"],
        "event_id": event_id.to_string(),
    })
    .to_string();
    Some(NewDelivery {
        agent_id: AgentId::from(recipient),
        event_id,
        task_id: event["task_id"].as_str().map(TaskId::from),
        event_type,
        body,
        traceparent: traceparent(msg),
    })
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
