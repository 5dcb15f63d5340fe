//! The `task_messages` table: the thread between a task's poster and worker.

use crate::ids::{AgentId, TaskId};
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};

/// One message of a task's thread.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Message {
    pub id: String,
    pub task_id: TaskId,
    pub sender_id: AgentId,
    pub message: String,
    pub created_at: DateTime<Utc>,
}

/// Stores a message.
pub async fn insert(
    conn: &mut PgConnection,
    id: &str,
    task_id: &TaskId,
    sender_id: &AgentId,
    message: &str,
) -> Result<Message, sqlx::Error> {
    sqlx::query_as::<_, Message>(
        "INSERT INTO task_messages (id, task_id, sender_id, message) VALUES ($1, $2, $3, $4) RETURNING *",
    )
    .bind(id)
    .bind(task_id)
    .bind(sender_id)
    .bind(message)
    .fetch_one(conn)
    .await
}

/// The whole thread of a task, oldest first.
pub async fn list(db: impl PgExecutor<'_>, task_id: &TaskId) -> Result<Vec<Message>, sqlx::Error> {
    sqlx::query_as::<_, Message>(
        "SELECT * FROM task_messages WHERE task_id = $1 ORDER BY created_at, id",
    )
    .bind(task_id)
    .fetch_all(db)
    .await
}
