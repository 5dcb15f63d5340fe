//! Claiming work.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use pinchwork_common::db::tasks::ListedTask;
use serde_json::json;

use super::tasks::{PoolQuery, pool_filter};
use crate::{
    AppState,
    error::ApiResult,
    extract::{CurrentAgent, Query},
    negotiate::{Payload, Reply},
    views,
};

const DEFAULT_BATCH: i64 = 5;

fn picked_reply(task: &ListedTask) -> Reply {
    Reply::ok(views::picked(task))
        .header("x-task-id", &task.task.id)
        .header("x-budget", task.task.max_credits)
}

/// `POST /v1/tasks/pickup` — 204 with an empty body when nothing is available.
pub async fn next(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    Query(q): Query<PoolQuery>,
) -> ApiResult<Response> {
    match state.market.pickup(&agent, &q.filter()?).await? {
        Some(task) => Ok(picked_reply(&task).into_response()),
        None => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

/// `POST /v1/tasks/pickup/batch` — filters in the body (or the query string).
pub async fn batch(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    Query(q): Query<PoolQuery>,
    body: Payload,
) -> ApiResult<Reply> {
    let mut tags = body.string_list("tags")?;
    if tags.is_empty() {
        tags = pinchwork_common::domain::validate::split_csv(q.tags.as_deref());
    }
    let search = body.string("search")?.or(q.search);
    let count = body.int("count")?.unwrap_or(DEFAULT_BATCH);
    let tasks = state
        .market
        .pickup_batch(&agent, &pool_filter(tags, search)?, count)
        .await?;
    Ok(Reply::ok(json!({
        "tasks": tasks.iter().map(views::picked).collect::<Vec<_>>(),
        "total": tasks.len(),
    })))
}

/// `POST /v1/tasks/{id}/pickup`
pub async fn specific(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    Path(task_id): Path<String>,
) -> ApiResult<Reply> {
    Ok(picked_reply(
        &state.market.pickup_specific(&agent, &task_id).await?,
    ))
}
