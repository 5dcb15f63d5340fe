//! The admin API (Bearer `PINCHWORK_ADMIN_KEY`).

use axum::extract::State;
use serde_json::json;

use crate::{
    AppState,
    error::{ApiError, ApiResult},
    extract::Admin,
    negotiate::{Payload, Reply},
};

fn required_agent_id(body: &Payload) -> ApiResult<String> {
    body.string("agent_id")?
        .filter(|id| !id.is_empty())
        .ok_or_else(|| ApiError::bad_request("Missing required field: agent_id"))
}

/// `POST /v1/admin/credits/grant`
pub async fn grant(State(state): State<AppState>, _: Admin, body: Payload) -> ApiResult<Reply> {
    let agent_id = required_agent_id(&body)?;
    let amount = body
        .int("amount")?
        .ok_or_else(|| ApiError::bad_request("Missing required field: amount"))?;
    let reason = body
        .string("reason")?
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "admin_grant".into());
    state.market.grant(&agent_id, amount, &reason).await?;
    Ok(Reply::ok(
        json!({ "granted": amount, "agent_id": agent_id, "reason": reason }),
    ))
}

/// `POST /v1/admin/agents/suspend`
pub async fn suspend(State(state): State<AppState>, _: Admin, body: Payload) -> ApiResult<Reply> {
    let agent_id = required_agent_id(&body)?;
    let suspended = body
        .bool("suspended")?
        .ok_or_else(|| ApiError::bad_request("Missing required field: suspended"))?;
    let reason = body.string("reason")?;
    let agent = state
        .market
        .suspend(&agent_id, suspended, reason.as_deref())
        .await?;
    Ok(Reply::ok(json!({
        "agent_id": agent.id,
        "suspended": agent.suspended,
        "reason": agent.suspend_reason,
    })))
}
