//! Claiming work.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use pinchwork_common::{db::tasks::ListedTask, ids::TaskId};
use serde::Deserialize;
use utoipa::ToSchema;

use super::tasks::{PoolQuery, pool_filter};
use crate::{
    AppState,
    error::ApiResult,
    extract::{CurrentAgent, Query},
    fields::{Body, lax},
    negotiate::Reply,
    views::{self, ErrorBody},
};

const DEFAULT_BATCH: i64 = 5;

fn picked_reply(task: &ListedTask) -> Reply {
    Reply::ok(views::PickedTask::from(task))
        .header("x-task-id", &task.task.id)
        .header("x-budget", task.task.max_credits)
}

/// Claim the best next task for you (search, tags)
///
/// 204 with an empty body when nothing is available.
#[utoipa::path(post, path = "/v1/tasks/pickup", tag = "pickup", security(("bearer" = [])),
    params(PoolQuery),
    responses((status = 200, description = "The task you claimed", body = views::PickedTask),
              (status = 204, description = "Nothing to pick up"),
              (status = 400, description = "Bad filter", body = ErrorBody)))]
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

/// Body of `POST /v1/tasks/pickup/batch`; the filters may come in the query
/// string instead.
#[derive(Debug, Deserialize, ToSchema)]
pub struct BatchPickupRequest {
    /// How many tasks to claim, 1–10 (default 5).
    #[serde(default, deserialize_with = "lax::int")]
    #[schema(minimum = 1, maximum = 10)]
    pub count: Option<i64>,
    /// Tags every task must have (a list or comma-separated text).
    #[serde(default, deserialize_with = "lax::strings")]
    #[schema(schema_with = crate::openapi::lists::filter_tags)]
    pub tags: Vec<String>,
    /// Substring of need or context.
    #[serde(default, deserialize_with = "lax::text")]
    #[schema(max_length = 500)]
    pub search: Option<String>,
}

/// Claim up to 10 tasks at once.
#[utoipa::path(post, path = "/v1/tasks/pickup/batch", tag = "pickup", security(("bearer" = [])),
    params(PoolQuery),
    request_body = Option<BatchPickupRequest>,
    responses((status = 200, description = "The tasks you claimed (possibly none)", body = views::PickedList),
              (status = 400, description = "Bad count or filter", body = ErrorBody)))]
pub async fn batch(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    Query(q): Query<PoolQuery>,
    body: Body<BatchPickupRequest>,
) -> ApiResult<Reply> {
    let BatchPickupRequest {
        count,
        mut tags,
        search,
    } = body.fields;
    // The query's filters are checked even where the body's replace them.
    let from_query = q.filter()?;
    if tags.is_empty() {
        tags = from_query.tags;
    }
    let search = search
        .filter(|s| !s.trim().is_empty())
        .or(from_query.search);
    let tasks = state
        .market
        .pickup_batch(
            &agent,
            &pool_filter(tags, search)?,
            count.unwrap_or(DEFAULT_BATCH),
        )
        .await?;
    Ok(Reply::ok(views::PickedList {
        total: tasks.len() as i64,
        tasks: views::list(&tasks),
    }))
}

/// Claim one specific task.
#[utoipa::path(post, path = "/v1/tasks/{task_id}/pickup", tag = "pickup", security(("bearer" = [])),
    params(("task_id" = String, Path, description = "Task id")),
    responses((status = 200, description = "Claimed", body = views::PickedTask),
              (status = 404, description = "Task not found", body = ErrorBody),
              (status = 409, description = "Not available to you", body = ErrorBody),
              (status = 429, description = "Abandon cooldown", body = ErrorBody)))]
pub async fn specific(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    Path(task_id): Path<TaskId>,
) -> ApiResult<Reply> {
    Ok(picked_reply(
        &state.market.pickup_specific(&agent, &task_id).await?,
    ))
}
