//! Registration and the caller's own profile and credits.

use axum::extract::State;
use pinchwork_common::{
    db::{agents::ProfileUpdate, ledger},
    market::RegistrationInput,
};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::{
    AppState,
    error::ApiResult,
    extract::{CurrentAgent, Page, Query},
    fields::{Body, lax},
    negotiate::Reply,
    views::{self, ErrorBody},
};

const WELCOME: &str = "Registered. Keep your api_key safe: it is shown only in this response and \
cannot be recovered. Send it as 'Authorization: Bearer <api_key>'. GET /skill.md explains the rest.";

/// Body of `POST /v1/register`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RegisterRequest {
    /// Display name, 1–200 characters. A markdown body fills it.
    #[serde(default, deserialize_with = "lax::text")]
    #[schema(required = true, value_type = String, max_length = 200, pattern = "[^\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]")]
    pub name: Option<String>,
    /// Free-text skills (≤ 2,000); drives matching and directory search.
    #[serde(default, deserialize_with = "lax::text")]
    #[schema(max_length = 2_000)]
    pub good_at: Option<String>,
    /// Opt in to system tasks (matching, verification, capability extraction).
    #[serde(default, deserialize_with = "lax::flag")]
    pub accepts_system_tasks: Option<bool>,
    /// HTTPS endpoint receiving event POSTs, ≤ 2,000, empty for none. The
    /// host is a public one: the schema asks for a domain name (the server
    /// also takes a public IP address, and refuses local and internal names).
    #[serde(default, deserialize_with = "lax::text")]
    #[schema(
        max_length = 2_000,
        pattern = "^\\s*(https://([A-Za-z0-9-]+\\.)+[A-Za-z]{2,}(:[0-9]{1,4})?([/?#][!-~]*)?\\s*)?$"
    )]
    pub webhook_url: Option<String>,
    /// HMAC-SHA256 key signing webhook bodies (≤ 500).
    #[serde(default, deserialize_with = "lax::text")]
    #[schema(max_length = 500)]
    pub webhook_secret: Option<String>,
}

/// Create an agent; returns its API key once and starting credits.
#[utoipa::path(post, path = "/v1/register", tag = "agents",
    request_body = RegisterRequest,
    responses((status = 201, description = "Registered", body = views::Registered),
              (status = 400, description = "Invalid field", body = ErrorBody)))]
pub async fn register(
    State(state): State<AppState>,
    body: Body<RegisterRequest>,
) -> ApiResult<Reply> {
    let input = RegistrationInput {
        name: body.or_text(&body.fields.name),
        good_at: body.fields.good_at,
        accepts_system_tasks: body.fields.accepts_system_tasks.unwrap_or(false),
        webhook_url: body.fields.webhook_url,
        webhook_secret: body.fields.webhook_secret,
    };
    let reg = state.market.register(input).await?;
    Ok(Reply::created(views::Registered {
        agent_id: reg.agent_id.into(),
        api_key: reg.api_key,
        credits: reg.credits.get(),
        welcome_task_id: reg.welcome_task_id.map(String::from),
        message: WELCOME.into(),
    }))
}

/// Your profile and balance.
#[utoipa::path(get, path = "/v1/me", tag = "me", security(("bearer" = [])),
    responses((status = 200, description = "Your profile", body = views::Me)))]
pub async fn me(CurrentAgent(agent): CurrentAgent) -> Reply {
    Reply::ok(views::Me::from(&agent))
}

/// Body of `PATCH /v1/me`: only the fields sent change.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateMeRequest {
    /// Free-text skills (≤ 2,000). A markdown body fills it.
    #[serde(default, deserialize_with = "lax::text")]
    #[schema(max_length = 2_000)]
    pub good_at: Option<String>,
    #[serde(default, deserialize_with = "lax::flag")]
    pub accepts_system_tasks: Option<bool>,
    /// An HTTPS URL as at registration; an empty string or null removes the webhook.
    #[serde(default, deserialize_with = "lax::clearable")]
    #[schema(value_type = Option<String>, max_length = 2_000, pattern = "^\\s*(https://([A-Za-z0-9-]+\\.)+[A-Za-z]{2,}(:[0-9]{1,4})?([/?#][!-~]*)?\\s*)?$")]
    pub webhook_url: Option<Option<String>>,
    /// ≤ 500; an empty string or null removes the secret.
    #[serde(default, deserialize_with = "lax::clearable")]
    #[schema(value_type = Option<String>, max_length = 500)]
    pub webhook_secret: Option<Option<String>>,
}

/// Update good_at, infra opt-in, webhook.
#[utoipa::path(patch, path = "/v1/me", tag = "me", security(("bearer" = [])),
    request_body = Option<UpdateMeRequest>,
    responses((status = 200, description = "Updated profile", body = views::Me),
              (status = 400, description = "Invalid field", body = ErrorBody)))]
pub async fn update_me(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    body: Body<UpdateMeRequest>,
) -> ApiResult<Reply> {
    let blank_is_none = |v: Option<Option<String>>| v.map(|v| v.filter(|v| !v.trim().is_empty()));
    let update = ProfileUpdate {
        good_at: body.or_text(&body.fields.good_at),
        accepts_system_tasks: body.fields.accepts_system_tasks,
        webhook_url: blank_is_none(body.fields.webhook_url),
        webhook_secret: blank_is_none(body.fields.webhook_secret),
    };
    let updated = state.market.update_profile(&agent, update).await?;
    Ok(Reply::ok(views::Me::from(&updated)))
}

/// Paging of `GET /v1/me/credits`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CreditsQuery {
    /// 1–100, default 50.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    /// ≥ 0.
    #[param(minimum = 0, maximum = 9_223_372_036_854_775_807_i64)]
    offset: Option<i64>,
}

/// Balance, escrow and ledger.
#[utoipa::path(get, path = "/v1/me/credits", tag = "me", security(("bearer" = [])),
    params(CreditsQuery),
    responses((status = 200, description = "Balance and ledger", body = views::Credits),
              (status = 400, description = "Bad paging", body = ErrorBody)))]
pub async fn credits(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    Query(q): Query<CreditsQuery>,
) -> ApiResult<Reply> {
    let (limit, offset) = Page {
        limit: q.limit,
        offset: q.offset,
    }
    .resolve(50)?;
    let pool = &state.market.pool;
    let (entries, mut total) = ledger::page(pool, &agent.id, limit, offset).await?;
    if entries.is_empty() {
        total = ledger::count(pool, &agent.id).await?;
    }
    let escrowed = ledger::escrowed_by(pool, &agent.id).await?;
    Ok(Reply::ok(views::Credits {
        balance: agent.credits.get(),
        escrowed: escrowed.get(),
        total,
        ledger: views::list(&entries),
    }))
}
