//! The `webhook_deliveries` and `webhook_attempts` tables: a durable queue of
//! webhook POSTs polled with `SKIP LOCKED`, and the record of every attempt.

use crate::ids::{AgentId, TaskId};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgExecutor, PgPool};

/// A delivery claimed for one attempt, with the agent's current endpoint.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Due {
    pub id: i64,
    pub agent_id: String,
    pub event_id: i64,
    pub body: String,
    /// Number of this attempt (1 for the first).
    pub attempts: i32,
    pub webhook_url: Option<String>,
    pub webhook_secret: Option<String>,
    /// W3C trace context of the event the delivery was queued from.
    pub traceparent: Option<String>,
    /// The agent is suspended: nothing is sent to it.
    pub suspended: bool,
}

/// What an attempt decided for its delivery.
#[derive(Debug, Clone, Copy)]
pub enum Outcome {
    /// The receiver accepted it.
    Delivered,
    /// Try again after this many milliseconds.
    RetryInMs(i64),
    /// Out of attempts (or no endpoint any more).
    Failed,
}

/// One attempt as recorded, with the outcome it decided.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub delivery_id: i64,
    pub attempt: i32,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i32,
    pub outcome: Outcome,
}

/// A recent delivery of one agent, with its attempts as JSON.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliverySummary {
    pub id: i64,
    pub event_id: i64,
    pub event_type: String,
    pub task_id: Option<String>,
    pub status: String,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub next_attempt_at: DateTime<Utc>,
    /// `[{attempt, attempted_at, status_code, error, duration_ms}]`.
    pub attempt_log: Value,
}

/// A delivery to queue: one event for one agent.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub agent_id: AgentId,
    pub event_id: i64,
    pub event_type: String,
    pub task_id: Option<TaskId>,
    pub body: String,
    pub traceparent: Option<String>,
}

/// Those of `agents` that have a `webhook_url` and are not suspended: the
/// agents whose events are queued (one statement for a whole batch of events).
pub async fn hooked_among(
    db: impl PgExecutor<'_>,
    agents: &[&str],
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT id FROM agents
         WHERE id = ANY($1::text[]) AND webhook_url IS NOT NULL AND NOT suspended",
    )
    .bind(agents)
    .fetch_all(db)
    .await
}

/// Queues the deliveries in one statement, skipping those whose agent already
/// has one for that event (redelivered events change nothing). Returns the
/// number of rows written.
pub async fn enqueue(
    db: impl PgExecutor<'_>,
    deliveries: &[NewDelivery],
) -> Result<u64, sqlx::Error> {
    if deliveries.is_empty() {
        return Ok(0);
    }
    let column = |f: fn(&NewDelivery) -> Option<&str>| -> Vec<Option<&str>> {
        deliveries.iter().map(f).collect()
    };
    let done = sqlx::query(
        "INSERT INTO webhook_deliveries (agent_id, event_id, event_type, task_id, body, traceparent)
         SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[])
         ON CONFLICT (agent_id, event_id) DO NOTHING",
    )
    .bind(column(|d| Some(d.agent_id.as_str())))
    .bind(deliveries.iter().map(|d| d.event_id).collect::<Vec<_>>())
    .bind(column(|d| Some(d.event_type.as_str())))
    .bind(column(|d| d.task_id.as_ref().map(TaskId::as_str)))
    .bind(column(|d| Some(d.body.as_str())))
    .bind(column(|d| d.traceparent.as_deref()))
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Claims up to `limit` due deliveries for one attempt each: counts the
/// attempt and pushes the due time out by `lease_ms`, so a crashed sender's
/// claim expires and another instance retries.
pub async fn claim_due(pool: &PgPool, limit: i64, lease_ms: i64) -> Result<Vec<Due>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE webhook_deliveries d
         SET attempts = d.attempts + 1,
             next_attempt_at = now() + make_interval(secs => $2::double precision / 1000)
         FROM agents a
         WHERE a.id = d.agent_id AND d.id IN (
             SELECT id FROM webhook_deliveries
             WHERE status = 'pending' AND next_attempt_at <= now()
             ORDER BY next_attempt_at, id
             FOR UPDATE SKIP LOCKED LIMIT $1)
         RETURNING d.id, d.agent_id, d.event_id, d.body, d.attempts,
                   a.webhook_url, a.webhook_secret, d.traceparent, a.suspended",
    )
    .bind(limit)
    .bind(lease_ms)
    .fetch_all(pool)
    .await
}

/// Records attempts and applies their outcomes, all in one statement (one
/// commit for a whole batch of attempts).
pub async fn record(db: impl PgExecutor<'_>, attempts: &[Attempt]) -> Result<(), sqlx::Error> {
    if attempts.is_empty() {
        return Ok(());
    }
    let (status, delay_ms): (Vec<&str>, Vec<i64>) = attempts
        .iter()
        .map(|a| match a.outcome {
            Outcome::Delivered => ("delivered", 0),
            Outcome::RetryInMs(ms) => ("pending", ms),
            Outcome::Failed => ("failed", 0),
        })
        .unzip();
    sqlx::query(
        "WITH logged AS (
             INSERT INTO webhook_attempts (delivery_id, attempt, status_code, error, duration_ms)
             SELECT * FROM unnest($1::bigint[], $2::int[], $3::int[], $4::text[], $5::int[]))
         UPDATE webhook_deliveries d
         SET status = o.status,
             next_attempt_at = now() + make_interval(secs => o.delay_ms::double precision / 1000),
             completed_at = CASE WHEN o.status = 'pending' THEN NULL ELSE now() END
         FROM unnest($1::bigint[], $6::text[], $7::bigint[]) AS o(id, status, delay_ms)
         WHERE d.id = o.id",
    )
    .bind(attempts.iter().map(|a| a.delivery_id).collect::<Vec<_>>())
    .bind(attempts.iter().map(|a| a.attempt).collect::<Vec<_>>())
    .bind(attempts.iter().map(|a| a.status_code).collect::<Vec<_>>())
    .bind(
        attempts
            .iter()
            .map(|a| a.error.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(attempts.iter().map(|a| a.duration_ms).collect::<Vec<_>>())
    .bind(status)
    .bind(delay_ms)
    .execute(db)
    .await?;
    Ok(())
}

/// The agent's most recent deliveries, newest first, with their attempts.
pub async fn recent_for_agent(
    db: impl PgExecutor<'_>,
    agent_id: &AgentId,
    limit: i64,
    offset: i64,
) -> Result<Vec<DeliverySummary>, sqlx::Error> {
    sqlx::query_as(
        "SELECT d.id, d.event_id, d.event_type, d.task_id, d.status, d.attempts,
                d.created_at, d.completed_at, d.next_attempt_at,
                COALESCE((SELECT json_agg(json_build_object(
                            'attempt', t.attempt, 'attempted_at', t.attempted_at,
                            'status_code', t.status_code, 'error', t.error,
                            'duration_ms', t.duration_ms) ORDER BY t.attempt, t.id)
                          FROM webhook_attempts t WHERE t.delivery_id = d.id), '[]'::json)
                  AS attempt_log
         FROM webhook_deliveries d WHERE d.agent_id = $1
         ORDER BY d.id DESC LIMIT $2 OFFSET $3",
    )
    .bind(agent_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(db)
    .await
}

/// Number of the agent's deliveries.
pub async fn count_for_agent(
    db: impl PgExecutor<'_>,
    agent_id: &AgentId,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM webhook_deliveries WHERE agent_id = $1")
        .bind(agent_id)
        .fetch_one(db)
        .await
}

/// Deletes the finished deliveries (delivered or failed, with their attempts)
/// among the `limit` oldest (by id) created more than `retention_hours` ago;
/// like the outbox pruning, a sweep reads only the head of the primary key.
pub async fn prune_finished(
    conn: &mut sqlx::PgConnection,
    retention_hours: u64,
    limit: i64,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "DELETE FROM webhook_deliveries WHERE id IN (
             SELECT id FROM (SELECT id, status, created_at FROM webhook_deliveries
                             ORDER BY id LIMIT $2) head
             WHERE status <> 'pending' AND created_at < now() - make_interval(hours => $1::int))",
    )
    .bind(i32::try_from(retention_hours).unwrap_or(i32::MAX))
    .bind(limit)
    .execute(conn)
    .await?
    .rows_affected())
}
