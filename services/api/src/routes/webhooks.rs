//! The caller's webhook delivery log.

use axum::extract::State;
use pinchwork_common::db::webhooks;
use serde_json::json;

use crate::{
    AppState,
    error::ApiResult,
    extract::{CurrentAgent, Page, Query},
    negotiate::Reply,
    views,
};

/// `GET /v1/me/webhooks/deliveries`: recent deliveries, newest first, each
/// with its attempts. The endpoint URL and secret are never shown.
pub async fn deliveries(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    Query(page): Query<Page>,
) -> ApiResult<Reply> {
    let (limit, offset) = page.resolve(20)?;
    let pool = &state.market.pool;
    let rows = webhooks::recent_for_agent(pool, &agent.id, limit, offset).await?;
    let total = webhooks::count_for_agent(pool, &agent.id).await?;
    let deliveries: Vec<_> = rows
        .iter()
        .map(|d| {
            json!({
                "delivery_id": d.id,
                "event_id": d.event_id.to_string(),
                "event": d.event_type,
                "task_id": d.task_id,
                "status": d.status,
                "attempts": d.attempts,
                "created_at": views::time(d.created_at),
                "completed_at": d.completed_at.map(views::time),
                "next_attempt_at": (d.status == "pending").then(|| views::time(d.next_attempt_at)),
                "attempt_log": d.attempt_log,
            })
        })
        .collect();
    Ok(Reply::ok(
        json!({ "deliveries": deliveries, "total": total }),
    ))
}
