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

/// One attempt as recorded.
#[derive(Debug, Clone)]
pub struct Attempt<'a> {
    pub delivery_id: i64,
    pub attempt: i32,
    pub status_code: Option<i32>,
    pub error: Option<&'a str>,
    pub duration_ms: i32,
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

/// Queues a delivery unless this agent already has one for this event
/// (redelivered events change nothing). True when a row was written.
pub async fn enqueue(
    db: impl PgExecutor<'_>,
    agent_id: &AgentId,
    event_id: i64,
    event_type: &str,
    task_id: Option<&TaskId>,
    body: &str,
    traceparent: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO webhook_deliveries (agent_id, event_id, event_type, task_id, body, traceparent)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (agent_id, event_id) DO NOTHING",
    )
    .bind(agent_id)
    .bind(event_id)
    .bind(event_type)
    .bind(task_id)
    .bind(body)
    .bind(traceparent)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
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

/// Records an attempt and applies its outcome, in one transaction.
pub async fn record(
    pool: &PgPool,
    attempt: &Attempt<'_>,
    outcome: Outcome,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO webhook_attempts (delivery_id, attempt, status_code, error, duration_ms)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(attempt.delivery_id)
    .bind(attempt.attempt)
    .bind(attempt.status_code)
    .bind(attempt.error)
    .bind(attempt.duration_ms)
    .execute(&mut *tx)
    .await?;
    let (status, delay_ms) = match outcome {
        Outcome::Delivered => ("delivered", 0),
        Outcome::RetryInMs(ms) => ("pending", ms),
        Outcome::Failed => ("failed", 0),
    };
    sqlx::query(
        "UPDATE webhook_deliveries
         SET status = $2,
             next_attempt_at = now() + make_interval(secs => $3::double precision / 1000),
             completed_at = CASE WHEN $2 = 'pending' THEN NULL ELSE now() END
         WHERE id = $1",
    )
    .bind(attempt.delivery_id)
    .bind(status)
    .bind(delay_ms)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
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
