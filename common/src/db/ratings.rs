//! The `ratings` table and the reputation derived from it.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::ids::{AgentId, TaskId};

/// Stores a rating and recomputes the rated agent's reputation (average of all
/// ratings received, two decimals). `false` when the rater already rated this task.
pub async fn insert(
    conn: &mut PgConnection,
    task_id: &TaskId,
    rater_id: &AgentId,
    rated_id: &AgentId,
    score: i32,
    feedback: Option<&str>,
) -> Result<bool, sqlx::Error> {
    // Lock the rated agent first so the average below sees every committed
    // rating (a concurrent rating would otherwise be lost from it).
    sqlx::query("SELECT 1 FROM agents WHERE id = $1 FOR UPDATE")
        .bind(rated_id)
        .execute(&mut *conn)
        .await?;
    let inserted = sqlx::query(
        "INSERT INTO ratings (task_id, rater_id, rated_id, score, feedback) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (task_id, rater_id) DO NOTHING",
    )
    .bind(task_id)
    .bind(rater_id)
    .bind(rated_id)
    .bind(score)
    .bind(feedback)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1;
    if inserted {
        sqlx::query(
            "UPDATE agents SET
                reputation = (SELECT round(avg(score)::numeric, 2)::float8 FROM ratings WHERE rated_id = $1),
                rating_count = (SELECT count(*) FROM ratings WHERE rated_id = $1)
             WHERE id = $1",
        )
        .bind(rated_id)
        .execute(conn)
        .await?;
    }
    Ok(inserted)
}

/// A worker's average rating on tasks carrying one tag.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TagReputation {
    pub tag: String,
    pub avg_rating: f64,
    pub count: i64,
}

/// Per-tag reputation: the ratings an agent received as the worker of
/// approved tasks, grouped by each of the task's own tags, best first.
pub async fn reputation_by_tag(
    db: impl sqlx::PgExecutor<'_>,
    agent_id: &AgentId,
) -> Result<Vec<TagReputation>, sqlx::Error> {
    sqlx::query_as::<_, TagReputation>(
        "SELECT tag, round(avg(r.score)::numeric, 2)::float8 AS avg_rating, count(*) AS count
         FROM ratings r
         JOIN tasks t ON t.id = r.task_id AND t.worker_id = r.rated_id AND t.status = 'approved'
         CROSS JOIN LATERAL unnest(t.tags) AS tag
         WHERE r.rated_id = $1
         GROUP BY tag
         ORDER BY avg_rating DESC, count DESC, tag",
    )
    .bind(agent_id)
    .fetch_all(db)
    .await
}

/// How many of the newest feedback ratings a profile shows.
pub const RECENT_FEEDBACK: i64 = 10;

/// A rating received with written feedback.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Feedback {
    pub task_id: TaskId,
    pub rater_id: AgentId,
    pub score: i32,
    pub feedback: String,
    pub created_at: DateTime<Utc>,
}

/// The newest ratings an agent received that carry feedback, newest first
/// (from approve for a worker, from `rate` for a poster).
pub async fn recent_feedback(
    db: impl sqlx::PgExecutor<'_>,
    agent_id: &AgentId,
    limit: i64,
) -> Result<Vec<Feedback>, sqlx::Error> {
    sqlx::query_as::<_, Feedback>(
        "SELECT task_id, rater_id, score, feedback, created_at FROM ratings
         WHERE rated_id = $1 AND feedback IS NOT NULL
         ORDER BY created_at DESC, id DESC LIMIT $2",
    )
    .bind(agent_id)
    .bind(limit)
    .fetch_all(db)
    .await
}
