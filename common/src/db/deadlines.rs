//! The timed rules' statements. Each takes a batch of due rows with
//! `FOR UPDATE SKIP LOCKED` (so any number of deadlines instances share the
//! work without waiting on each other) and changes them with a status guard,
//! in the caller's transaction. Time is always the database's `now()`.

use sqlx::PgConnection;

use super::tasks::Task;
use crate::{
    domain::Credits,
    ids::{AgentId, TaskId},
};

/// A task that left `posted` for `expired`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ExpiredTask {
    pub id: TaskId,
    pub poster_id: AgentId,
    pub max_credits: Credits,
    /// Whether the budget was taken from the poster (false for system tasks).
    pub escrowed: bool,
    pub is_system: bool,
}

/// A claimed task handed back to the pool, with the worker who lost it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReleasedTask {
    pub id: TaskId,
    pub previous_worker: AgentId,
}

/// Expires a batch of posted tasks whose `expires_at` passed.
#[tracing::instrument(skip(conn))]
pub async fn expire_unclaimed_tasks(
    conn: &mut PgConnection,
    limit: i64,
) -> Result<Vec<ExpiredTask>, sqlx::Error> {
    expire_posted(conn, "expires_at", limit).await
}

/// Expires a batch of posted tasks whose own `deadline` passed.
#[tracing::instrument(skip(conn))]
pub async fn expire_tasks_past_deadline(
    conn: &mut PgConnection,
    limit: i64,
) -> Result<Vec<ExpiredTask>, sqlx::Error> {
    expire_posted(conn, "deadline", limit).await
}

/// `column` is one of two fixed names, never input.
async fn expire_posted(
    conn: &mut PgConnection,
    column: &'static str,
    limit: i64,
) -> Result<Vec<ExpiredTask>, sqlx::Error> {
    let sql = format!(
        "WITH due AS (
            SELECT id FROM tasks
            WHERE status = 'posted' AND {column} < now()
            ORDER BY {column} LIMIT $1
            FOR UPDATE SKIP LOCKED
         )
         UPDATE tasks t SET status = 'expired', match_deadline = NULL
         FROM due WHERE t.id = due.id AND t.status = 'posted'
         RETURNING t.id, t.poster_id, t.max_credits, t.escrowed, t.is_system"
    );
    sqlx::query_as::<_, ExpiredTask>(sqlx::AssertSqlSafe(sql))
        .bind(limit)
        .fetch_all(conn)
        .await
}

/// Hands back a batch of claimed tasks whose `deadline` passed; the task
/// loses its deadline (it would otherwise expire at once when posted).
#[tracing::instrument(skip(conn))]
pub async fn release_claims_past_deadline(
    conn: &mut PgConnection,
    limit: i64,
    expire_hours: i64,
) -> Result<Vec<ReleasedTask>, sqlx::Error> {
    release_claimed(conn, "deadline", "TRUE", limit, expire_hours).await
}

/// Hands back a batch of claimed tasks whose rejection grace ran out.
#[tracing::instrument(skip(conn))]
pub async fn release_expired_rejection_graces(
    conn: &mut PgConnection,
    limit: i64,
    expire_hours: i64,
) -> Result<Vec<ReleasedTask>, sqlx::Error> {
    release_claimed(
        conn,
        "rejection_grace_deadline",
        "TRUE",
        limit,
        expire_hours,
    )
    .await
}

/// Hands back a batch of claimed tasks (system tasks included) whose claim
/// timed out. A task in a rejection grace is left to the grace rule.
#[tracing::instrument(skip(conn))]
pub async fn release_timed_out_claims(
    conn: &mut PgConnection,
    limit: i64,
    expire_hours: i64,
) -> Result<Vec<ReleasedTask>, sqlx::Error> {
    release_claimed(
        conn,
        "claim_deadline",
        "rejection_grace_deadline IS NULL",
        limit,
        expire_hours,
    )
    .await
}

/// claimed → posted for due rows of `column`: the worker, every claim timer
/// and the deadline that fired are cleared, the expiry restarts and a regular
/// task opens to everyone. `column` and `guard` are fixed SQL, never input.
async fn release_claimed(
    conn: &mut PgConnection,
    column: &'static str,
    guard: &'static str,
    limit: i64,
    expire_hours: i64,
) -> Result<Vec<ReleasedTask>, sqlx::Error> {
    let clear_deadline = if column == "deadline" {
        ", deadline = NULL"
    } else {
        ""
    };
    let sql = format!(
        "WITH due AS (
            SELECT id, worker_id FROM tasks
            WHERE status = 'claimed' AND {column} < now() AND {guard}
            ORDER BY {column} LIMIT $1
            FOR UPDATE SKIP LOCKED
         )
         UPDATE tasks t SET status = 'posted', worker_id = NULL, claimed_at = NULL,
                claim_deadline = NULL, rejection_grace_deadline = NULL{clear_deadline},
                expires_at = now() + make_interval(hours => $2::int),
                match_status = CASE WHEN t.is_system THEN NULL ELSE 'broadcast' END
         FROM due
         WHERE t.id = due.id AND t.status = 'claimed' AND due.worker_id IS NOT NULL
         RETURNING t.id, due.worker_id AS previous_worker"
    );
    sqlx::query_as::<_, ReleasedTask>(sqlx::AssertSqlSafe(sql))
        .bind(limit)
        .bind(expire_hours as i32)
        .fetch_all(conn)
        .await
}

/// Locks a batch of delivered regular tasks whose review time ran out.
#[tracing::instrument(skip(conn))]
pub async fn lock_overdue_reviews(
    conn: &mut PgConnection,
    limit: i64,
) -> Result<Vec<Task>, sqlx::Error> {
    sqlx::query_as::<_, Task>(
        "SELECT * FROM tasks
         WHERE status = 'delivered' AND NOT is_system AND review_deadline < now()
         ORDER BY review_deadline LIMIT $1
         FOR UPDATE SKIP LOCKED",
    )
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Locks a batch of system tasks still delivered (not yet settled) `after_seconds`
/// after their delivery.
#[tracing::instrument(skip(conn))]
pub async fn lock_unsettled_system_deliveries(
    conn: &mut PgConnection,
    limit: i64,
    after_seconds: i64,
) -> Result<Vec<Task>, sqlx::Error> {
    sqlx::query_as::<_, Task>(
        "SELECT * FROM tasks
         WHERE status = 'delivered' AND is_system
           AND delivered_at < now() - make_interval(secs => $2)
         ORDER BY delivered_at LIMIT $1
         FOR UPDATE SKIP LOCKED",
    )
    .bind(limit)
    .bind(after_seconds as f64)
    .fetch_all(conn)
    .await
}

/// Closes a batch of match windows on posted tasks: a pending or matched task
/// opens to everyone. Returns the ids of the tasks that became broadcast.
#[tracing::instrument(skip(conn))]
pub async fn close_match_windows(
    conn: &mut PgConnection,
    limit: i64,
) -> Result<Vec<TaskId>, sqlx::Error> {
    sqlx::query_scalar(
        "WITH due AS (
            SELECT id, match_status FROM tasks
            WHERE status = 'posted' AND match_deadline IS NOT NULL AND match_deadline < now()
            ORDER BY match_deadline LIMIT $1
            FOR UPDATE SKIP LOCKED
         )
         UPDATE tasks t SET match_deadline = NULL,
                match_status = CASE WHEN t.match_status IN ('pending', 'matched')
                                    THEN 'broadcast' ELSE t.match_status END
         FROM due WHERE t.id = due.id AND t.status = 'posted'
         RETURNING t.id",
    )
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Gives up a batch of pending verifications whose time ran out. Returns the
/// parent task ids.
#[tracing::instrument(skip(conn))]
pub async fn end_overdue_verifications(
    conn: &mut PgConnection,
    limit: i64,
) -> Result<Vec<TaskId>, sqlx::Error> {
    sqlx::query_scalar(
        "WITH due AS (
            SELECT id FROM tasks
            WHERE verification_status = 'pending' AND verification_deadline < now()
            ORDER BY verification_deadline LIMIT $1
            FOR UPDATE SKIP LOCKED
         )
         UPDATE tasks t SET verification_status = NULL, verification_deadline = NULL
         FROM due WHERE t.id = due.id AND t.verification_status = 'pending'
         RETURNING t.id",
    )
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Cancels the open system tasks of the given kind (`None` = any kind) working
/// on these parents. Nothing was escrowed for them, so nothing is refunded.
/// Rows another transaction holds (a delivery in flight) are skipped rather
/// than waited for: parent-then-child here, child-then-parent there would
/// otherwise risk a deadlock, and a finishing delivery is a fine outcome.
pub async fn cancel_open_system_children(
    conn: &mut PgConnection,
    parent_ids: &[TaskId],
    kind: Option<&str>,
    statuses: &[&str],
) -> Result<u64, sqlx::Error> {
    if parent_ids.is_empty() {
        return Ok(0);
    }
    let statuses: Vec<String> = statuses.iter().map(|s| (*s).to_string()).collect();
    Ok(sqlx::query(
        "UPDATE tasks SET status = 'cancelled'
         WHERE id IN (
            SELECT id FROM tasks
            WHERE parent_task_id = ANY($1) AND is_system
              AND ($2::text IS NULL OR system_task_type = $2)
              AND status = ANY($3)
            FOR UPDATE SKIP LOCKED)
           AND status = ANY($3)",
    )
    .bind(parent_ids)
    .bind(kind)
    .bind(&statuses)
    .execute(conn)
    .await?
    .rows_affected())
}
