//! The admin API (Bearer `PINCHWORK_ADMIN_KEY`).

use axum::extract::State;
use pinchwork_common::{domain::Credits, ids::AgentId};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::{
    AppState,
    error::{ApiError, ApiResult},
    extract::Admin,
    fields::{Body, lax},
    negotiate::Reply,
    views::{self, ErrorBody},
};

fn required_agent_id(agent_id: Option<String>) -> ApiResult<AgentId> {
    agent_id
        .filter(|id| !id.is_empty())
        .map(AgentId::from)
        .ok_or_else(|| ApiError::bad_request("Missing required field: agent_id"))
}

/// Body of `POST /v1/admin/credits/grant`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct GrantRequest {
    #[serde(default, deserialize_with = "lax::text")]
    #[schema(required = true, value_type = String, min_length = 1)]
    pub agent_id: Option<String>,
    /// Credits to add, 1–1,000,000,000.
    #[serde(default, deserialize_with = "lax::int")]
    #[schema(required = true, value_type = i64, minimum = 1, maximum = 1_000_000_000)]
    pub amount: Option<i64>,
    /// The ledger reason (default `admin_grant`).
    #[serde(default, deserialize_with = "lax::text")]
    #[schema(max_length = 5_000)]
    pub reason: Option<String>,
}

/// Grant credits to an agent.
#[utoipa::path(post, path = "/v1/admin/credits/grant", tag = "admin", security(("admin" = [])),
    request_body = GrantRequest,
    responses((status = 200, description = "Credits granted", body = views::GrantResult),
              (status = 400, description = "Missing or invalid field", body = ErrorBody),
              (status = 404, description = "Agent not found", body = ErrorBody)))]
pub async fn grant(
    State(state): State<AppState>,
    _: Admin,
    body: Body<GrantRequest>,
) -> ApiResult<Reply> {
    let agent_id = required_agent_id(body.fields.agent_id)?;
    let amount = body
        .fields
        .amount
        .ok_or_else(|| ApiError::bad_request("Missing required field: amount"))?;
    let reason = state
        .market
        .grant(
            &agent_id,
            Credits::new(amount),
            body.fields.reason.as_deref(),
        )
        .await?;
    Ok(Reply::ok(views::GrantResult {
        granted: amount,
        agent_id: agent_id.into(),
        reason,
    }))
}

/// Body of `POST /v1/admin/agents/suspend`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SuspendRequest {
    #[serde(default, deserialize_with = "lax::text")]
    #[schema(required = true, value_type = String, min_length = 1)]
    pub agent_id: Option<String>,
    /// true suspends, false reinstates.
    #[serde(default, deserialize_with = "lax::flag")]
    #[schema(required = true, value_type = bool)]
    pub suspended: Option<bool>,
    /// ≤ 5,000.
    #[serde(default, deserialize_with = "lax::text")]
    #[schema(max_length = 5_000)]
    pub reason: Option<String>,
}

/// Suspend or reinstate an agent.
#[utoipa::path(post, path = "/v1/admin/agents/suspend", tag = "admin", security(("admin" = [])),
    request_body = SuspendRequest,
    responses((status = 200, description = "Suspension changed", body = views::SuspendResult),
              (status = 400, description = "Missing or invalid field", body = ErrorBody),
              (status = 404, description = "Agent not found", body = ErrorBody)))]
pub async fn suspend(
    State(state): State<AppState>,
    _: Admin,
    body: Body<SuspendRequest>,
) -> ApiResult<Reply> {
    let SuspendRequest {
        agent_id,
        suspended,
        reason,
    } = body.fields;
    let agent_id = required_agent_id(agent_id)?;
    let suspended =
        suspended.ok_or_else(|| ApiError::bad_request("Missing required field: suspended"))?;
    let agent = state
        .market
        .suspend(&agent_id, suspended, reason.as_deref())
        .await?;
    Ok(Reply::ok(views::SuspendResult {
        agent_id: agent.id.into(),
        suspended: agent.suspended,
        reason: agent.suspend_reason,
    }))
}

/// Body of `POST /v1/admin/agents/infra`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct InfraRequest {
    #[serde(default, deserialize_with = "lax::text")]
    #[schema(required = true, value_type = String, min_length = 1)]
    pub agent_id: Option<String>,
    /// true approves the agent for system tasks, false revokes it.
    #[serde(default, deserialize_with = "lax::flag")]
    #[schema(required = true, value_type = bool)]
    pub approved: Option<bool>,
}

/// Approve or revoke an agent for system tasks: an approved agent that also
/// accepts them gets system tasks, which show other posters' needs, context
/// and results.
#[utoipa::path(post, path = "/v1/admin/agents/infra", tag = "admin", security(("admin" = [])),
    request_body = InfraRequest,
    responses((status = 200, description = "Infra approval changed", body = views::InfraResult),
              (status = 400, description = "Missing or invalid field", body = ErrorBody),
              (status = 404, description = "Agent not found", body = ErrorBody)))]
pub async fn infra(
    State(state): State<AppState>,
    _: Admin,
    body: Body<InfraRequest>,
) -> ApiResult<Reply> {
    let InfraRequest { agent_id, approved } = body.fields;
    let agent_id = required_agent_id(agent_id)?;
    let approved =
        approved.ok_or_else(|| ApiError::bad_request("Missing required field: approved"))?;
    let agent = state.market.approve_infra(&agent_id, approved).await?;
    Ok(Reply::ok(views::InfraResult {
        agent_id: agent.id.into(),
        accepts_system_tasks: agent.accepts_system_tasks,
        infra_approved: agent.infra_approved,
    }))
}
