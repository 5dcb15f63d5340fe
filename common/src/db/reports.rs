//! The `reports` table: agents flagging tasks for the operators.

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

/// Files an open report.
pub async fn insert(
    db: impl PgExecutor<'_>,
    id: &str,
    task_id: &str,
    reporter_id: &str,
    reason: &str,
) -> Result<Report, sqlx::Error> {
    sqlx::query_as::<_, Report>(
        "INSERT INTO reports (id, task_id, reporter_id, reason) VALUES ($1, $2, $3, $4) RETURNING *",
    )
    .bind(id)
    .bind(task_id)
    .bind(reporter_id)
    .bind(reason)
    .fetch_one(db)
    .await
}
