//! The transactional outbox: events and commands written with the state
//! change that causes them, published to NATS after commit.

use serde_json::Value;
use sqlx::{FromRow, PgConnection, PgPool, Postgres, pool::PoolConnection};

use crate::{
    domain::EventType,
    ids::{AgentId, TaskId},
};

/// Queues an event about a task for one recipient, in the caller's
/// transaction. The payload carries everything a subscriber needs; its event
/// id is the outbox id.
pub async fn enqueue_event(
    conn: &mut PgConnection,
    recipient: &AgentId,
    event: EventType,
    task_id: &TaskId,
    data: Value,
) -> Result<i64, sqlx::Error> {
    queue_event(conn, recipient, event, Some(task_id), data).await
}

/// Queues an event about the agent itself (no task: its `task_id` is empty).
pub async fn enqueue_agent_event(
    conn: &mut PgConnection,
    recipient: &AgentId,
    event: EventType,
    data: Value,
) -> Result<i64, sqlx::Error> {
    queue_event(conn, recipient, event, None, data).await
}

/// An event's outbox columns `(subject, payload, traceparent)` as a SQL
/// select list, for statements that fold the event in: every event's
/// envelope is built here. Each argument is a SQL expression: the
/// recipient's id, the event type's name, the task id (`''` for none), the
/// event's data (jsonb) and the trace context.
macro_rules! event_row_sql {
    (recipient: $r:literal, event: $e:literal, task: $t:literal, data: $d:literal,
     traceparent: $tp:literal) => {
        concat!(
            "'events.' || ",
            $r,
            " || '.' || ",
            $e,
            ",
             jsonb_build_object('event', ",
            $e,
            ", 'recipient', ",
            $r,
            ", 'task_id', ",
            $t,
            ",
                                'data', ",
            $d,
            ",
                                'timestamp', to_char(clock_timestamp() AT TIME ZONE 'UTC',
                                                     'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')),
             ",
            $tp
        )
    };
}
pub(crate) use event_row_sql;

async fn queue_event(
    conn: &mut PgConnection,
    recipient: &AgentId,
    event: EventType,
    task_id: Option<&TaskId>,
    data: Value,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(concat!(
        "INSERT INTO outbox (subject, payload, traceparent) SELECT ",
        event_row_sql!(recipient: "$1", event: "$2", task: "$3", data: "$4::jsonb", traceparent: "$5"),
        " RETURNING id"
    ))
    .bind(recipient)
    .bind(event.as_str())
    .bind(task_id.map_or("", TaskId::as_str))
    .bind(data)
    .bind(crate::telemetry::current_traceparent())
    .fetch_one(conn)
    .await
}

/// Queues a command for a service (`cmd.<service>.<kind>`).
pub async fn enqueue_command(
    conn: &mut PgConnection,
    service: &str,
    kind: &str,
    payload: Value,
) -> Result<i64, sqlx::Error> {
    insert(conn, &format!("cmd.{service}.{kind}"), &payload).await
}

async fn insert(
    conn: &mut PgConnection,
    subject: &str,
    payload: &Value,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO outbox (subject, payload, traceparent) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(subject)
    .bind(payload)
    .bind(crate::telemetry::current_traceparent())
    .fetch_one(conn)
    .await
}

/// An outbox row waiting to be published.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Pending {
    /// Outbox id, also the message id and the event id.
    pub id: i64,
    /// Subject below the deployment prefix.
    pub subject: String,
    /// The message body.
    pub payload: Value,
    /// Trace context of the writing transaction.
    pub traceparent: Option<String>,
}

/// Advisory lock key held by the one publisher draining the outbox, so rows
/// reach NATS in id order (per-recipient order for SSE replay).
const PUBLISHER_LOCK: i64 = 0x7069_6e63_686f_7574;

/// One drain's transaction, on a connection of its own: [`Drain::start`]
/// opens it and takes the publisher lock and the oldest unpublished rows,
/// [`Drain::finish`] marks what was published and commits. Each is one
/// round trip (the transaction's `BEGIN` and `COMMIT` travel with the
/// statement next to them, in one simple query), so a drain costs two round
/// trips instead of four.
///
/// The transaction commits without waiting for its WAL flush
/// (`synchronous_commit = off`): it writes only the "published" marks, and
/// a mark lost in a database crash only makes the sweep publish the row
/// again under the same `Nats-Msg-Id`, which JetStream drops as a duplicate
/// — so a drain costs no disk flush.
///
/// A drain dropped before [`Drain::finish`] succeeded (an error, a
/// cancelled future) closes its connection instead of returning it to the
/// pool, which ends the transaction and releases the lock and the rows.
pub struct Drain {
    conn: PoolConnection<Postgres>,
    open: bool,
}

impl Drop for Drain {
    fn drop(&mut self) {
        if self.open {
            self.conn.close_on_drop();
        }
    }
}

impl Drain {
    /// Opens a drain: takes the publisher lock and, when it was free, locks
    /// the oldest `limit` unpublished rows (in id order). `None` when another
    /// process is draining right now (this transaction is then over).
    pub async fn start(
        pool: &PgPool,
        limit: i64,
    ) -> Result<Option<(Self, Vec<Pending>)>, sqlx::Error> {
        #[derive(sqlx::FromRow)]
        struct Row {
            held: bool,
            id: Option<i64>,
            subject: Option<String>,
            payload: Option<Value>,
            traceparent: Option<String>,
        }
        let mut drain = Self {
            conn: pool.acquire().await?,
            open: true,
        };
        // Constants only: a simple query takes no parameters.
        let sql = format!(
            "BEGIN;
             WITH lock AS (
                 SELECT pg_try_advisory_xact_lock({PUBLISHER_LOCK}) AS held,
                        set_config('synchronous_commit', 'off', true) AS sync)
             SELECT lock.held, o.id, o.subject, o.payload, o.traceparent
             FROM lock LEFT JOIN LATERAL (
                 SELECT id, subject, payload, traceparent FROM outbox
                 WHERE lock.held AND published_at IS NULL
                 ORDER BY id LIMIT {limit} FOR UPDATE SKIP LOCKED) o ON true
             ORDER BY o.id"
        );
        let rows = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .fetch_all(&mut *drain.conn)
            .await?
            .iter()
            .map(Row::from_row)
            .collect::<Result<Vec<_>, _>>()?;
        if !rows.first().is_some_and(|r| r.held) {
            drain.finish(&[]).await?;
            return Ok(None);
        }
        let pending = rows
            .into_iter()
            .filter_map(|r| {
                Some(Pending {
                    id: r.id?,
                    subject: r.subject?,
                    payload: r.payload?,
                    traceparent: r.traceparent,
                })
            })
            .collect();
        Ok(Some((drain, pending)))
    }

    /// Marks the rows `published` (ids of rows this drain locked) and
    /// commits, in one round trip.
    pub async fn finish(mut self, published: &[i64]) -> Result<(), sqlx::Error> {
        let sql = if published.is_empty() {
            "COMMIT".to_string()
        } else {
            let ids = published
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(",");
            // Integers only: a simple query takes no parameters.
            format!("UPDATE outbox SET published_at = now() WHERE id IN ({ids}); COMMIT")
        };
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut *self.conn)
            .await?;
        self.open = false;
        Ok(())
    }
}

/// Deletes the rows among the `limit` oldest (by id) that were published more
/// than `retention_seconds` ago. Reading only the head of the primary key
/// keeps a sweep's cost bounded whatever the table's size; rows not yet
/// published stay.
pub async fn prune_published(
    conn: &mut PgConnection,
    retention_seconds: u64,
    limit: i64,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "DELETE FROM outbox WHERE id IN (
             SELECT id FROM (SELECT id, published_at FROM outbox ORDER BY id LIMIT $2) head
             WHERE published_at < now() - make_interval(secs => $1))",
    )
    .bind(retention_seconds as f64)
    .bind(limit)
    .execute(conn)
    .await?
    .rows_affected())
}

/// Number of rows not yet published (tests, metrics).
pub async fn unpublished_count(db: impl sqlx::PgExecutor<'_>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        .fetch_one(db)
        .await
}
