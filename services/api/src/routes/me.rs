//! The caller's private dashboards (earnings statistics, trust scores) and
//! its API key's rotation.

use axum::{extract::State, http::HeaderMap};
use pinchwork_common::{
    db::{stats, trust},
    http,
};

use crate::{AppState, error::ApiResult, extract::CurrentAgent, negotiate::Reply, views};

/// Earnings and approval statistics.
#[utoipa::path(get, path = "/v1/me/stats", tag = "me", security(("bearer" = [])),
    responses((status = 200, description = "Earnings dashboard", body = views::Stats)))]
pub async fn stats(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
) -> ApiResult<Reply> {
    let pool = &state.market.pool;
    let totals = stats::totals(pool, &agent.id).await?;
    let by_tag = stats::by_tag(pool, &agent.id).await?;
    Ok(Reply::ok(views::Stats {
        total_earned: totals.total_earned,
        total_spent: totals.total_spent,
        total_fees_paid: totals.total_fees_paid,
        approval_rate: totals.approval_rate(),
        avg_task_value: totals.avg_task_value,
        tasks_by_tag: views::list(&by_tag),
        recent_7d_earned: totals.recent_7d_earned,
        recent_30d_earned: totals.recent_30d_earned,
    }))
}

/// Your private trust scores toward other agents
///
/// Only your own view, as truster.
#[utoipa::path(get, path = "/v1/me/trust", tag = "me", security(("bearer" = [])),
    responses((status = 200, description = "Your private trust scores", body = views::TrustList)))]
pub async fn trust(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
) -> ApiResult<Reply> {
    let scores = trust::scores_of(&state.market.pool, &agent.id).await?;
    Ok(Reply::ok(views::TrustList {
        total: scores.len() as i64,
        trust_scores: views::list(&scores),
    }))
}

const ROTATED: &str = "Key replaced. The old key stopped working at this response's commit, on every \
node; event streams opened with it close. Keep the new api_key safe: it is shown only here.";

/// Replace your API key
///
/// Returns a new key once; the key the request carried stops working at the
/// same moment (one atomic swap), and your event streams opened with it are
/// closed after a `key_rotated` event. Of two concurrent rotations with one
/// key, one gets the new key and the other a 401.
#[utoipa::path(post, path = "/v1/me/key/rotate", tag = "me", security(("bearer" = [])),
    responses((status = 200, description = "The new key, shown once", body = views::RotatedKey)))]
pub async fn rotate_key(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    headers: HeaderMap,
) -> ApiResult<Reply> {
    let old_key = http::agent_key(&headers)?;
    let api_key = state.market.rotate_key(&agent, old_key).await?;
    Ok(Reply::ok(views::RotatedKey {
        agent_id: agent.id.into_string(),
        api_key,
        message: ROTATED.into(),
    }))
}
