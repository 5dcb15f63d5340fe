//! The outbox publisher: drains unpublished outbox rows to JetStream in id
//! order, right after a commit (fast path, woken by [`Market::published_soon`])
//! and on a periodic sweep that picks up rows a crashed node left behind.
//!
//! [`Market::published_soon`]: crate::market::Market::published_soon

use std::{sync::Arc, time::Duration};

use sqlx::PgPool;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::{
    bus::{Bus, BusError},
    db::outbox,
    metrics,
};

/// Rows published per transaction.
const BATCH: i64 = 256;
/// Pause before retrying when another process holds the publisher lock.
const LOCK_RETRY: Duration = Duration::from_millis(25);
/// Lock retries after a wake-up before falling back to the sweep timer.
const LOCK_ATTEMPTS: u32 = 8;

/// Why one drain pass failed.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The database failed.
    #[error("outbox database: {0}")]
    Db(#[from] sqlx::Error),
    /// NATS refused or did not acknowledge a publish.
    #[error(transparent)]
    Bus(#[from] BusError),
}

/// Runs the publisher until `shutdown`; `wake` is notified after each commit.
pub async fn run(
    pool: PgPool,
    bus: Bus,
    wake: Arc<Notify>,
    sweep: Duration,
    shutdown: CancellationToken,
) {
    let mut stem = None;
    loop {
        let woken = tokio::select! {
            () = shutdown.cancelled() => return,
            () = wake.notified() => true,
            () = tokio::time::sleep(sweep) => false,
        };
        if stem.is_none() {
            stem = message_id_stem(&pool)
                .await
                .inspect_err(|err| tracing::warn!(error = %err, "reading the database's identity failed; the sweeper retries"))
                .ok();
        }
        let Some(stem) = stem.as_deref() else {
            continue;
        };
        let attempts = if woken { LOCK_ATTEMPTS } else { 1 };
        for _ in 0..attempts {
            match drain(&pool, &bus, stem).await {
                Ok(Some(n)) => {
                    if n > 0 {
                        tracing::debug!(published = n, "outbox drained");
                    }
                    break;
                }
                Ok(None) => tokio::time::sleep(LOCK_RETRY).await,
                Err(err) => {
                    tracing::warn!(error = %err, "publishing the outbox failed; the sweeper retries");
                    break;
                }
            }
        }
    }
}

/// The first part of every `Nats-Msg-Id` this database's rows are published
/// under: the database's oid. Outbox ids start again at 1 in a database
/// created anew; with the bare ids, JetStream would drop its first events as
/// repeats of the former database's for as long as its duplicate window
/// remembers them.
pub async fn message_id_stem(pool: &PgPool) -> Result<String, sqlx::Error> {
    sqlx::query_scalar("SELECT oid::text FROM pg_database WHERE datname = current_database()")
        .fetch_one(pool)
        .await
}

/// Publishes the unpublished rows. `None` when another process holds the
/// publisher lock; otherwise the number of rows published. A batch that
/// comes back short is the whole backlog, so the drain ends after it: one
/// transaction per drain in the common case. A row committed meanwhile was
/// followed by its own wake-up, which runs the next drain.
/// Each row goes out as `Nats-Msg-Id` `<stem>.<outbox id>` (see [`message_id_stem`]).
pub async fn drain(pool: &PgPool, bus: &Bus, stem: &str) -> Result<Option<usize>, RelayError> {
    let mut total = 0;
    loop {
        let Some((tx, rows)) = outbox::Drain::start(pool, BATCH).await? else {
            return Ok(if total == 0 { None } else { Some(total) });
        };
        if rows.is_empty() {
            tx.finish(&[]).await?;
            return Ok(Some(total));
        }
        let published = publish_in_order(bus, stem, &rows).await;
        tx.finish(&published).await?;
        total += published.len();
        metrics::counter!(metrics::OUTBOX_PUBLISHED).increment(published.len() as u64);
        if published.len() < rows.len() {
            return Err(RelayError::Bus(BusError::Publish(format!(
                "{} of {} outbox rows not acknowledged",
                rows.len() - published.len(),
                rows.len()
            ))));
        }
        if (rows.len() as i64) < BATCH {
            return Ok(Some(total));
        }
    }
}

/// Sends the rows in order (pipelined), then collects acknowledgements; returns
/// the ids acknowledged before the first failure.
async fn publish_in_order(bus: &Bus, stem: &str, rows: &[outbox::Pending]) -> Vec<i64> {
    let mut acks = Vec::with_capacity(rows.len());
    for row in rows {
        let body = match serde_json::to_vec(&with_event_id(row)) {
            Ok(body) => body,
            Err(_) => break,
        };
        match bus
            .publish(
                &row.subject,
                &format!("{stem}.{}", row.id),
                row.traceparent.as_deref(),
                body.into(),
            )
            .await
        {
            Ok(ack) => acks.push((row.id, ack)),
            Err(err) => {
                tracing::warn!(error = %err, outbox_id = row.id, "publish failed");
                break;
            }
        }
    }
    let mut done = Vec::with_capacity(acks.len());
    for (id, ack) in acks {
        match ack.await {
            Ok(_) => done.push(id),
            Err(err) => {
                tracing::warn!(error = %err, outbox_id = id, "publish not acknowledged");
                break;
            }
        }
    }
    done
}

/// The message body: the outbox payload plus its `event_id` (the outbox id).
fn with_event_id(row: &outbox::Pending) -> serde_json::Value {
    let mut payload = row.payload.clone();
    if let Some(map) = payload.as_object_mut() {
        map.insert("event_id".into(), serde_json::json!(row.id.to_string()));
    }
    payload
}
