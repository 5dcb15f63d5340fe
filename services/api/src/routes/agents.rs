//! Registration and the caller's own profile and credits.

use axum::extract::State;
use pinchwork_common::{
    db::{agents::ProfileUpdate, ledger},
    market::RegistrationInput,
};
use serde::Deserialize;
use serde_json::json;

use crate::{
    AppState,
    error::ApiResult,
    extract::{CurrentAgent, Page, Query},
    negotiate::{Payload, Reply},
    views,
};

const WELCOME: &str = "Registered. Keep your api_key safe: it is shown only in this response and \
cannot be recovered. Send it as 'Authorization: Bearer <api_key>'. GET /skill.md explains the rest.";

/// `POST /v1/register`
pub async fn register(State(state): State<AppState>, body: Payload) -> ApiResult<Reply> {
    let input = RegistrationInput {
        name: body.string_or_text("name")?,
        good_at: body.string("good_at")?,
        accepts_system_tasks: body.bool("accepts_system_tasks")?.unwrap_or(false),
        webhook_url: body.string("webhook_url")?,
        webhook_secret: body.string("webhook_secret")?,
    };
    let reg = state.market.register(input).await?;
    Ok(Reply::created(json!({
        "agent_id": reg.agent_id,
        "api_key": reg.api_key,
        "credits": reg.credits,
        "welcome_task_id": reg.welcome_task_id,
        "message": WELCOME,
    })))
}

/// `GET /v1/me`
pub async fn me(CurrentAgent(agent): CurrentAgent) -> Reply {
    Reply::ok(views::me(&agent))
}

/// `PATCH /v1/me` — only the fields sent change; `webhook_url: ""` (or null)
/// removes the webhook.
pub async fn update_me(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    body: Payload,
) -> ApiResult<Reply> {
    let clearable = |key: &str| -> ApiResult<Option<Option<String>>> {
        if !body.has(key) {
            return Ok(None);
        }
        Ok(Some(body.string(key)?.filter(|v| !v.trim().is_empty())))
    };
    let update = ProfileUpdate {
        good_at: body.string_or_text("good_at")?,
        accepts_system_tasks: body.bool("accepts_system_tasks")?,
        webhook_url: clearable("webhook_url")?,
        webhook_secret: clearable("webhook_secret")?,
    };
    let updated = state.market.update_profile(&agent, update).await?;
    Ok(Reply::ok(views::me(&updated)))
}

#[derive(Debug, Deserialize)]
pub struct CreditsQuery {
    limit: Option<i64>,
    offset: Option<i64>,
}

/// `GET /v1/me/credits`
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
    Ok(Reply::ok(json!({
        "balance": agent.credits,
        "escrowed": escrowed,
        "total": total,
        "ledger": entries.iter().map(views::ledger_entry).collect::<Vec<_>>(),
    })))
}
