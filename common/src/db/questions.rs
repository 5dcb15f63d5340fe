//! The `task_questions` table: clarifying questions asked before pickup.

use crate::ids::{AgentId, TaskId};
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};

/// A question and, once given, its answer.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Question {
    pub id: String,
    pub task_id: TaskId,
    pub asker_id: AgentId,
    pub question: String,
    pub answer: Option<String>,
    pub created_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
}

/// Serialises question inserts of one task for the rest of the transaction
/// (an advisory lock, so pickups of the task are not blocked).
pub async fn lock_task_thread(
    conn: &mut PgConnection,
    task_id: &TaskId,
) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('questions:' || $1, 0))")
        .bind(task_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Questions of a task still waiting for an answer.
pub async fn count_unanswered(
    db: impl PgExecutor<'_>,
    task_id: &TaskId,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM task_questions WHERE task_id = $1 AND answer IS NULL")
        .bind(task_id)
        .fetch_one(db)
        .await
}

/// Stores a new, unanswered question.
pub async fn insert(
    conn: &mut PgConnection,
    id: &str,
    task_id: &TaskId,
    asker_id: &AgentId,
    question: &str,
) -> Result<Question, sqlx::Error> {
    sqlx::query_as::<_, Question>(
        "INSERT INTO task_questions (id, task_id, asker_id, question) VALUES ($1, $2, $3, $4) RETURNING *",
    )
    .bind(id)
    .bind(task_id)
    .bind(asker_id)
    .bind(question)
    .fetch_one(conn)
    .await
}

/// Answers a question of this task once; `None` when it is missing, of another
/// task, or already answered.
pub async fn answer(
    conn: &mut PgConnection,
    task_id: &TaskId,
    question_id: &str,
    answer: &str,
) -> Result<Option<Question>, sqlx::Error> {
    sqlx::query_as::<_, Question>(
        "UPDATE task_questions SET answer = $3, answered_at = now()
         WHERE id = $1 AND task_id = $2 AND answer IS NULL RETURNING *",
    )
    .bind(question_id)
    .bind(task_id)
    .bind(answer)
    .fetch_optional(conn)
    .await
}

/// A question by id, if it belongs to this task.
pub async fn get(
    db: impl PgExecutor<'_>,
    task_id: &TaskId,
    question_id: &str,
) -> Result<Option<Question>, sqlx::Error> {
    sqlx::query_as::<_, Question>("SELECT * FROM task_questions WHERE id = $1 AND task_id = $2")
        .bind(question_id)
        .bind(task_id)
        .fetch_optional(db)
        .await
}

/// Every question of a task, oldest first.
pub async fn list(db: impl PgExecutor<'_>, task_id: &TaskId) -> Result<Vec<Question>, sqlx::Error> {
    sqlx::query_as::<_, Question>(
        "SELECT * FROM task_questions WHERE task_id = $1 ORDER BY created_at, id",
    )
    .bind(task_id)
    .fetch_all(db)
    .await
}
