//! The earnings dashboard of `GET /v1/me/stats`, read from the ledger and tasks.

use crate::ids::AgentId;
use sqlx::PgExecutor;

/// Money and work totals of one agent.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Totals {
    /// Σ `payment` ledger rows (net of fees, system payouts included).
    pub total_earned: i64,
    /// Σ credits charged on approved tasks the agent posted. Refunded escrow
    /// (cancel, expiry, unused budget) is not spending, unlike the original Python Pinchwork.
    pub total_spent: i64,
    /// Σ platform fees withheld from the agent's approved work.
    pub total_fees_paid: i64,
    pub approved: i64,
    pub delivered: i64,
    /// Rejections on the tasks the agent currently works or worked.
    pub rejections: i64,
    /// Mean gross charge of the agent's approved work.
    pub avg_task_value: Option<f64>,
    pub recent_7d_earned: i64,
    pub recent_30d_earned: i64,
}

impl Totals {
    /// Accepted deliveries over all deliveries judged or awaiting judgement
    /// (approved + delivered + rejected), two decimals; `None` before any delivery.
    pub fn approval_rate(&self) -> Option<f64> {
        let all = self.approved + self.delivered + self.rejections;
        (all > 0).then(|| (self.approved as f64 / all as f64 * 100.0).round() / 100.0)
    }
}

/// The totals of one agent, in one statement.
pub async fn totals(db: impl PgExecutor<'_>, agent_id: &AgentId) -> Result<Totals, sqlx::Error> {
    sqlx::query_as::<_, Totals>(
        "WITH pay AS (
            SELECT COALESCE(sum(amount), 0)::bigint AS total_earned,
                   COALESCE(sum(amount) FILTER (WHERE created_at > now() - interval '7 days'), 0)::bigint
                       AS recent_7d_earned,
                   COALESCE(sum(amount) FILTER (WHERE created_at > now() - interval '30 days'), 0)::bigint
                       AS recent_30d_earned
            FROM ledger WHERE agent_id = $1 AND reason = 'payment'
         ), spent AS (
            SELECT COALESCE(sum(credits_charged), 0)::bigint AS total_spent
            FROM tasks WHERE poster_id = $1 AND status = 'approved' AND escrowed
         ), fees AS (
            SELECT COALESCE(sum(l.amount), 0)::bigint AS total_fees_paid
            FROM ledger l JOIN tasks t ON t.id = l.task_id
            WHERE l.reason = 'platform_fee' AND t.worker_id = $1 AND t.status = 'approved'
         ), work AS (
            SELECT count(*) FILTER (WHERE status = 'approved') AS approved,
                   count(*) FILTER (WHERE status = 'delivered') AS delivered,
                   COALESCE(sum(rejection_count), 0)::bigint AS rejections,
                   round(avg(credits_charged) FILTER (WHERE status = 'approved')::numeric, 2)::float8
                       AS avg_task_value
            FROM tasks WHERE worker_id = $1
         )
         SELECT * FROM pay, spent, fees, work",
    )
    .bind(agent_id)
    .fetch_one(db)
    .await
}

/// Earnings on approved work for one tag.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TagEarnings {
    pub tag: String,
    pub count: i64,
    /// Net credits received (the same basis as `total_earned`).
    pub earned: i64,
}

/// The agent's approved work grouped by each task's own tags, best paid first.
pub async fn by_tag(
    db: impl PgExecutor<'_>,
    agent_id: &AgentId,
) -> Result<Vec<TagEarnings>, sqlx::Error> {
    sqlx::query_as::<_, TagEarnings>(
        "SELECT tag, count(DISTINCT t.id) AS count, COALESCE(sum(l.amount), 0)::bigint AS earned
         FROM tasks t
         CROSS JOIN LATERAL unnest(t.tags) AS tag
         LEFT JOIN ledger l ON l.task_id = t.id AND l.agent_id = $1 AND l.reason = 'payment'
         WHERE t.worker_id = $1 AND t.status = 'approved'
         GROUP BY tag
         ORDER BY earned DESC, count DESC, tag",
    )
    .bind(agent_id)
    .fetch_all(db)
    .await
}
