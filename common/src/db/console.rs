//! Reads and writes of the operator console (`/admin`): sign-in sessions,
//! agent and task searches over everything (suspended agents, system tasks),
//! the reports queue and failed webhook deliveries.

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, PgPool};

use super::{agents::Agent, ledger::Entry, profiles::contains_pattern, tasks::Task};
use crate::ids::{AgentId, TaskId};

/// Starts a session of `hours`; stores only the token's digest.
pub async fn insert_session(
    db: impl PgExecutor<'_>,
    token_hash: &[u8],
    csrf_token: &str,
    hours: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO console_sessions (token_hash, csrf_token, expires_at)
         VALUES ($1, $2, now() + make_interval(hours => $3))",
    )
    .bind(token_hash)
    .bind(csrf_token)
    .bind(hours)
    .execute(db)
    .await?;
    Ok(())
}

/// The CSRF token of a live session, `None` if the session is unknown or over.
pub async fn session_csrf(
    db: impl PgExecutor<'_>,
    token_hash: &[u8],
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT csrf_token FROM console_sessions WHERE token_hash = $1 AND expires_at > now()",
    )
    .bind(token_hash)
    .fetch_optional(db)
    .await
}

/// Ends a session (sign-out) and drops every session that is over.
pub async fn delete_session(db: impl PgExecutor<'_>, token_hash: &[u8]) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM console_sessions WHERE token_hash = $1 OR expires_at < now()")
        .bind(token_hash)
        .execute(db)
        .await?;
    Ok(())
}

/// Agents whose id, name or good_at contains `search` (all agents when
/// empty), newest first, suspended ones included.
pub async fn search_agents(
    db: impl PgExecutor<'_>,
    search: &str,
    limit: i64,
) -> Result<Vec<Agent>, sqlx::Error> {
    sqlx::query_as::<_, Agent>(
        "SELECT * FROM agents
         WHERE $1 = '' OR id = $1 OR name ILIKE $2 OR good_at ILIKE $2
         ORDER BY created_at DESC, id LIMIT $3",
    )
    .bind(search)
    .bind(contains_pattern(search))
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Tasks of any kind, newest first, filtered by status and one tag when given.
pub async fn search_tasks(
    db: impl PgExecutor<'_>,
    status: Option<&str>,
    tag: Option<&str>,
    limit: i64,
) -> Result<Vec<Task>, sqlx::Error> {
    sqlx::query_as::<_, Task>(
        "SELECT * FROM tasks
         WHERE ($1::text IS NULL OR status = $1)
           AND ($2::text IS NULL OR lower($2) = ANY (ARRAY(SELECT lower(x) FROM unnest(tags) x)))
         ORDER BY created_at DESC, id LIMIT $3",
    )
    .bind(status)
    .bind(tag)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Every ledger row that names a task, oldest first.
pub async fn task_ledger(
    db: impl PgExecutor<'_>,
    task_id: &TaskId,
) -> Result<Vec<(String, Entry)>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        agent_id: String,
        #[sqlx(flatten)]
        entry: Entry,
    }
    let rows = sqlx::query_as::<_, Row>(
        "SELECT agent_id, id, amount, reason, task_id, created_at
         FROM ledger WHERE task_id = $1 ORDER BY seq",
    )
    .bind(task_id)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.agent_id, r.entry)).collect())
}

/// A webhook delivery as the console lists it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Delivery {
    pub id: i64,
    pub agent_id: String,
    pub event_id: i64,
    pub event_type: String,
    pub task_id: Option<String>,
    pub status: String,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    /// The last attempt's HTTP status or error, if any.
    pub last_error: Option<String>,
}

const DELIVERY_COLUMNS: &str = "d.id, d.agent_id, d.event_id, d.event_type, d.task_id, d.status,
    d.attempts, d.created_at,
    (SELECT COALESCE(a.error, 'HTTP ' || a.status_code) FROM webhook_attempts a
      WHERE a.delivery_id = d.id ORDER BY a.attempt DESC, a.id DESC LIMIT 1) AS last_error";

/// The events of one task (every webhook delivery naming it), oldest first.
pub async fn task_deliveries(
    db: impl PgExecutor<'_>,
    task_id: &TaskId,
) -> Result<Vec<Delivery>, sqlx::Error> {
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d WHERE d.task_id = $1 ORDER BY d.id"
    );
    sqlx::query_as::<_, Delivery>(sqlx::AssertSqlSafe(sql))
        .bind(task_id)
        .fetch_all(db)
        .await
}

/// Failed deliveries, newest first; of one agent when `agent_id` is given.
pub async fn failed_deliveries(
    db: impl PgExecutor<'_>,
    agent_id: Option<&AgentId>,
    limit: i64,
) -> Result<Vec<Delivery>, sqlx::Error> {
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d
         WHERE d.status = 'failed' AND ($1::text IS NULL OR d.agent_id = $1)
         ORDER BY d.id DESC LIMIT $2"
    );
    sqlx::query_as::<_, Delivery>(sqlx::AssertSqlSafe(sql))
        .bind(agent_id)
        .bind(limit)
        .fetch_all(db)
        .await
}

/// Puts a failed delivery back in the queue, due now, with a fresh round of
/// retries (its attempt log is kept). False when it is not failed.
pub async fn redeliver(pool: &PgPool, delivery_id: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE webhook_deliveries
         SET status = 'pending', attempts = 0, next_attempt_at = now(), completed_at = NULL
         WHERE id = $1 AND status = 'failed'",
    )
    .bind(delivery_id)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// An open report with its task's need.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OpenReport {
    pub id: String,
    pub task_id: String,
    pub reporter_id: String,
    pub reason: String,
    pub need: String,
    pub created_at: DateTime<Utc>,
}

/// The reports queue: open reports, oldest first.
pub async fn open_reports(
    db: impl PgExecutor<'_>,
    limit: i64,
) -> Result<Vec<OpenReport>, sqlx::Error> {
    sqlx::query_as::<_, OpenReport>(
        "SELECT r.id, r.task_id, r.reporter_id, r.reason, t.need, r.created_at
         FROM reports r JOIN tasks t ON t.id = r.task_id
         WHERE r.status = 'open' ORDER BY r.created_at, r.id LIMIT $1",
    )
    .bind(limit)
    .fetch_all(db)
    .await
}
