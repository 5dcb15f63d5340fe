//! Reads of the public web pages (`/human`): marketplace figures, the newest
//! tasks and one task's public face. Never results, context, messages,
//! webhooks or credits of an agent; system tasks and the platform's welcome
//! tasks are never shown.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

use crate::{
    domain::TaskStatus,
    ids::{AgentId, TaskId},
};

/// The front page's live figures.
#[derive(Debug, Clone, Default, serde::Serialize, sqlx::FromRow)]
pub struct Figures {
    pub agents: i64,
    pub open_tasks: i64,
    pub in_progress: i64,
    pub completed: i64,
    /// Credits paid for approved work (before the platform fee).
    pub credits_moved: i64,
    pub completed_last_hour: i64,
    pub completed_last_day: i64,
}

/// The figures in one statement; every part is served by a partial index
/// (the pool, claimed, delivered and approved-at indexes), none scans all tasks.
pub async fn figures(
    db: impl PgExecutor<'_>,
    platform_id: &AgentId,
) -> Result<Figures, sqlx::Error> {
    sqlx::query_as::<_, Figures>(
        "SELECT
            (SELECT count(*) FROM agents WHERE id <> $1) AS agents,
            (SELECT count(*) FROM tasks WHERE status = 'posted' AND NOT is_system
                AND poster_id <> $1) AS open_tasks,
            (SELECT count(*) FROM tasks WHERE status IN ('claimed', 'delivered')
                AND NOT is_system AND poster_id <> $1) AS in_progress,
            a.completed, a.credits_moved, a.completed_last_hour, a.completed_last_day
         FROM (SELECT count(*) AS completed,
                      COALESCE(sum(credits_charged), 0)::bigint AS credits_moved,
                      count(*) FILTER (WHERE approved_at > now() - interval '1 hour')
                          AS completed_last_hour,
                      count(*) FILTER (WHERE approved_at > now() - interval '1 day')
                          AS completed_last_day
               FROM tasks WHERE status = 'approved' AND NOT is_system) a",
    )
    .bind(platform_id)
    .fetch_one(db)
    .await
}

/// What anyone may see of a task.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PublicTask {
    pub id: String,
    pub need: String,
    pub tags: Vec<String>,
    pub max_credits: i64,
    pub credits_charged: Option<i64>,
    pub status: TaskStatus,
    pub poster_id: String,
    pub poster_name: String,
    pub worker_id: Option<String>,
    pub worker_name: Option<String>,
    pub rejection_count: i32,
    pub created_at: DateTime<Utc>,
    pub claimed_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub approved_at: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
}

const PUBLIC_COLUMNS: &str = "t.id, t.need, t.tags, t.max_credits, t.credits_charged, t.status,
    t.poster_id, p.name AS poster_name, t.worker_id, w.name AS worker_name, t.rejection_count,
    t.created_at, t.claimed_at, t.delivered_at, t.approved_at, t.expires_at";

/// The newest public tasks (not system, not the platform's).
pub async fn newest_tasks(
    db: impl PgExecutor<'_>,
    platform_id: &AgentId,
    limit: i64,
) -> Result<Vec<PublicTask>, sqlx::Error> {
    let sql = format!(
        "SELECT {PUBLIC_COLUMNS} FROM tasks t
         JOIN agents p ON p.id = t.poster_id
         LEFT JOIN agents w ON w.id = t.worker_id
         WHERE NOT t.is_system AND t.poster_id <> $1
         ORDER BY t.created_at DESC LIMIT $2"
    );
    sqlx::query_as::<_, PublicTask>(sqlx::AssertSqlSafe(sql))
        .bind(platform_id)
        .bind(limit)
        .fetch_all(db)
        .await
}

/// One public task by id, with its poster's and worker's names; `None` for
/// system tasks and the platform's welcome tasks as for unknown ids.
pub async fn task(
    db: impl PgExecutor<'_>,
    platform_id: &AgentId,
    id: &TaskId,
) -> Result<Option<PublicTask>, sqlx::Error> {
    let sql = format!(
        "SELECT {PUBLIC_COLUMNS} FROM tasks t
         JOIN agents p ON p.id = t.poster_id
         LEFT JOIN agents w ON w.id = t.worker_id
         WHERE t.id = $2 AND NOT t.is_system AND t.poster_id <> $1"
    );
    sqlx::query_as::<_, PublicTask>(sqlx::AssertSqlSafe(sql))
        .bind(platform_id)
        .bind(id)
        .fetch_optional(db)
        .await
}
