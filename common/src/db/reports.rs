//! The `reports` table: agents flagging tasks for the operators.

use crate::ids::{AgentId, TaskId};
use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

/// A filed report.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Report {
    pub id: String,
    pub task_id: String,
    pub reporter_id: String,
    pub reason: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
}

/// Files an open report; `None` when this agent already filed this report (same reason) about this task.
pub async fn insert(
    db: impl PgExecutor<'_>,
    id: &str,
    task_id: &TaskId,
    reporter_id: &AgentId,
    reason: &str,
) -> Result<Option<Report>, sqlx::Error> {
    sqlx::query_as::<_, Report>(
        "INSERT INTO reports (id, task_id, reporter_id, reason) VALUES ($1, $2, $3, $4)
         ON CONFLICT (task_id, reporter_id, md5(reason)) DO NOTHING RETURNING *",
    )
    .bind(id)
    .bind(task_id)
    .bind(reporter_id)
    .bind(reason)
    .fetch_optional(db)
    .await
}
