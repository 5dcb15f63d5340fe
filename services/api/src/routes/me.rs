//! The caller's private dashboards: earnings statistics and trust scores.

use axum::extract::State;
use pinchwork_common::db::{stats, trust};
use serde_json::json;

use crate::{AppState, error::ApiResult, extract::CurrentAgent, negotiate::Reply, views};

/// `GET /v1/me/stats`
pub async fn stats(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
) -> ApiResult<Reply> {
    let pool = &state.market.pool;
    let totals = stats::totals(pool, &agent.id).await?;
    let by_tag = stats::by_tag(pool, &agent.id).await?;
    Ok(Reply::ok(json!({
        "total_earned": totals.total_earned,
        "total_spent": totals.total_spent,
        "total_fees_paid": totals.total_fees_paid,
        "approval_rate": totals.approval_rate(),
        "avg_task_value": totals.avg_task_value,
        "tasks_by_tag": by_tag
            .iter()
            .map(|t| json!({ "tag": t.tag, "count": t.count, "earned": t.earned }))
            .collect::<Vec<_>>(),
        "recent_7d_earned": totals.recent_7d_earned,
        "recent_30d_earned": totals.recent_30d_earned,
    })))
}

/// `GET /v1/me/trust` — only the caller's own view (as truster).
pub async fn trust(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
) -> ApiResult<Reply> {
    let scores = trust::scores_of(&state.market.pool, &agent.id).await?;
    Ok(Reply::ok(json!({
        "trust_scores": scores
            .iter()
            .map(|s| json!({
                "trusted_id": s.trusted_id,
                "score": s.score,
                "interactions": s.interactions,
                "updated_at": views::time(s.updated_at),
            }))
            .collect::<Vec<_>>(),
        "total": scores.len(),
    })))
}
