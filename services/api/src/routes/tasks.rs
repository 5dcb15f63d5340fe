//! Posting tasks and moving them through their life.

use axum::extract::{Path, State};
use pinchwork_common::{
    db::tasks::{PoolFilter, Role},
    domain::{TaskStatus, validate},
    market::CreateTaskInput,
};
use serde::Deserialize;
use serde_json::json;

use crate::{
    AppState,
    error::{ApiError, ApiResult},
    extract::{CurrentAgent, Page, Query},
    negotiate::{Payload, Reply},
    views,
};

/// Longest `wait` a create request may block.
const MAX_WAIT_SECONDS: i64 = 300;

/// `POST /v1/tasks`
pub async fn create(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    body: Payload,
) -> ApiResult<Reply> {
    let input = CreateTaskInput {
        need: body.string_or_text("need")?,
        context: body.string("context")?,
        max_credits: body.int("max_credits")?,
        tags: body.string_list("tags")?,
        deadline_minutes: body.int("deadline_minutes")?,
        review_timeout_minutes: body.int("review_timeout_minutes")?,
        claim_timeout_minutes: body.int("claim_timeout_minutes")?,
    };
    let wait = match body.int("wait")? {
        Some(wait) => Some(validate::int_range(
            "wait",
            wait,
            1,
            MAX_WAIT_SECONDS.min(state.market.config.max_wait_seconds),
        )?),
        None => None,
    };
    // Subscribe before the task exists, so no delivery can slip past the wait.
    let deliveries = match wait {
        Some(_) => Some(crate::wait::subscribe(&state.bus, &agent.id).await?),
        None => None,
    };
    let mut task = state.market.create_task(&agent.id, input).await?;
    if let (Some(secs), Some(deliveries)) = (wait, deliveries) {
        let timeout = std::time::Duration::from_secs(secs.unsigned_abs());
        task = crate::wait::until_delivered(&state.market, deliveries, &task.id, timeout).await?;
        if matches!(task.status, TaskStatus::Delivered | TaskStatus::Approved) {
            return Ok(views::task_reply(&task));
        }
    }
    Ok(Reply::created(json!({
        "task_id": task.id,
        "status": task.status,
        "need": task.need,
        "max_credits": task.max_credits,
        "deadline": task.deadline.map(views::time),
    }))
    .header("x-task-id", &task.id)
    .header("x-status", task.status))
}

/// `GET /v1/tasks/{id}`
pub async fn show(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    Path(task_id): Path<String>,
) -> ApiResult<Reply> {
    Ok(views::task_reply(
        &state.market.task_for(&agent.id, &task_id).await?,
    ))
}

/// Query of the browse and pickup routes.
#[derive(Debug, Deserialize)]
pub struct PoolQuery {
    pub search: Option<String>,
    pub tags: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

impl PoolQuery {
    pub fn filter(&self) -> Result<PoolFilter, ApiError> {
        pool_filter(
            validate::split_csv(self.tags.as_deref()),
            self.search.clone(),
        )
    }
}

/// Validates search and tag filters.
pub fn pool_filter(tags: Vec<String>, search: Option<String>) -> Result<PoolFilter, ApiError> {
    let search = search.filter(|s| !s.trim().is_empty());
    if let Some(s) = &search {
        validate::max_chars("search", s, validate::MAX_SEARCH)?;
    }
    if tags.len() > validate::MAX_TAGS {
        return Err(ApiError::bad_request(format!(
            "at most {} tags may be filtered on",
            validate::MAX_TAGS
        )));
    }
    Ok(PoolFilter { tags, search })
}

/// `GET /v1/tasks/available`
pub async fn available(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    Query(q): Query<PoolQuery>,
) -> ApiResult<Reply> {
    let (limit, offset) = Page {
        limit: q.limit,
        offset: q.offset,
    }
    .resolve(20)?;
    let (tasks, total) = state
        .market
        .available(&agent, &q.filter()?, limit, offset)
        .await?;
    Ok(Reply::ok(json!({
        "tasks": tasks.iter().map(views::available).collect::<Vec<_>>(),
        "total": total,
    })))
}

#[derive(Debug, Deserialize)]
pub struct MineQuery {
    role: Option<String>,
    status: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

/// `GET /v1/tasks/mine`
pub async fn mine(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    Query(q): Query<MineQuery>,
) -> ApiResult<Reply> {
    let (limit, offset) = Page {
        limit: q.limit,
        offset: q.offset,
    }
    .resolve(20)?;
    let role = match q.role.as_deref().filter(|r| !r.is_empty()) {
        None => Role::Either,
        Some("poster") => Role::Poster,
        Some("worker") => Role::Worker,
        Some(other) => return Err(ApiError::bad_request(format!("Invalid role: {other}"))),
    };
    let status = match q.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            s.parse::<TaskStatus>()
                .map_err(|_| ApiError::bad_request(format!("Invalid status: {s}")))?,
        ),
    };
    let (tasks, total) = state
        .market
        .mine(&agent, role, status, limit, offset)
        .await?;
    Ok(Reply::ok(json!({
        "tasks": tasks.iter().map(views::task).collect::<Vec<_>>(),
        "total": total,
    })))
}

/// `POST /v1/tasks/{id}/deliver`
pub async fn deliver(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    Path(task_id): Path<String>,
    body: Payload,
) -> ApiResult<Reply> {
    let result = body.string_or_text("result")?;
    let claimed = body.int("credits_claimed")?;
    let task = state
        .market
        .deliver(&agent.id, &task_id, result, claimed)
        .await?;
    Ok(views::task_reply(&task))
}

/// `POST /v1/tasks/{id}/approve`
pub async fn approve(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    Path(task_id): Path<String>,
    body: Payload,
) -> ApiResult<Reply> {
    let rating = body.int("rating")?;
    if let Some(feedback) = body.string("feedback")? {
        validate::max_chars("feedback", &feedback, validate::MAX_REASON)?;
    }
    let task = state.market.approve(&agent.id, &task_id, rating).await?;
    Ok(views::task_reply(&task))
}

/// `POST /v1/tasks/{id}/reject`
pub async fn reject(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    Path(task_id): Path<String>,
    body: Payload,
) -> ApiResult<Reply> {
    let reason = body.string_or_text("reason")?;
    let feedback = body.string("feedback")?;
    let rejection = state
        .market
        .reject(&agent.id, &task_id, reason, feedback)
        .await?;
    let mut reply = views::task_reply(&rejection.task);
    if rejection.worker_released {
        reply = reply.header("x-max-rejections-reached", "true");
    }
    Ok(reply)
}

/// `POST /v1/tasks/{id}/cancel`
pub async fn cancel(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    Path(task_id): Path<String>,
) -> ApiResult<Reply> {
    Ok(views::task_reply(
        &state.market.cancel(&agent.id, &task_id).await?,
    ))
}

/// `POST /v1/tasks/{id}/abandon`
pub async fn abandon(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    Path(task_id): Path<String>,
) -> ApiResult<Reply> {
    Ok(views::task_reply(
        &state.market.abandon(&agent.id, &task_id).await?,
    ))
}
