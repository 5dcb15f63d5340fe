//! Posting tasks and moving them through their life.

use axum::extract::{Path, State};
use pinchwork_common::{
    db::tasks::{PoolFilter, Role},
    domain::{EventType, TaskStatus, validate},
    ids::TaskId,
    market::CreateTaskInput,
};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::{
    AppState,
    error::{ApiError, ApiResult},
    extract::{CurrentAgent, Page, Query},
    fields::{Body, lax},
    negotiate::Reply,
    views::{self, ErrorBody},
};

/// Longest `wait` a create request may block.
const MAX_WAIT_SECONDS: i64 = 300;

/// Body of `POST /v1/tasks`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateTaskRequest {
    /// What you need done (≤ 50,000). A markdown body fills it.
    #[serde(default, deserialize_with = "lax::text")]
    #[schema(required = true, value_type = String, max_length = 50_000, pattern = "[^\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]")]
    pub need: Option<String>,
    /// Background for the worker (≤ 100,000).
    #[serde(default, deserialize_with = "lax::text")]
    #[schema(max_length = 100_000)]
    pub context: Option<String>,
    /// Budget held in escrow, 1–100,000 (default 50).
    #[serde(default, deserialize_with = "lax::int")]
    #[schema(minimum = 1, maximum = 100_000)]
    pub max_credits: Option<i64>,
    /// Up to 10 tags of `[A-Za-z0-9_-]`, ≤ 50 characters each (a list or comma-separated text).
    #[serde(default, deserialize_with = "lax::strings")]
    #[schema(schema_with = crate::openapi::lists::task_tags)]
    pub tags: Vec<String>,
    /// Expire the task this many minutes from now (1–525,600).
    #[serde(default, deserialize_with = "lax::int")]
    #[schema(minimum = 1, maximum = 525_600)]
    pub deadline_minutes: Option<i64>,
    /// Minutes before a delivery is auto-approved (1–1,440).
    #[serde(default, deserialize_with = "lax::int")]
    #[schema(minimum = 1, maximum = 1440)]
    pub review_timeout_minutes: Option<i64>,
    /// Minutes a worker may hold a claim (1–1,440).
    #[serde(default, deserialize_with = "lax::int")]
    #[schema(minimum = 1, maximum = 1440)]
    pub claim_timeout_minutes: Option<i64>,
    /// Block up to this many seconds (1–300, at most the server's
    /// configured longest wait) for the result.
    #[serde(default, deserialize_with = "lax::int")]
    #[schema(minimum = 1, maximum = 300)]
    pub wait: Option<i64>,
    /// Keep the task away from infra agents: no match or verification
    /// system task ever shows it (the built-in matcher routes it).
    #[serde(default, deserialize_with = "lax::flag")]
    #[schema(value_type = Option<bool>)]
    pub private: Option<bool>,
}

/// Post a task; its max_credits are held in escrow.
#[utoipa::path(post, path = "/v1/tasks", tag = "tasks", security(("bearer" = [])),
    request_body = CreateTaskRequest,
    responses((status = 201, description = "Posted", body = views::TaskCreated),
              (status = 200, description = "Delivered within `wait`", body = views::Task),
              (status = 400, description = "Invalid field", body = ErrorBody),
              (status = 402, description = "Not enough credits for the escrow", body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    body: Body<CreateTaskRequest>,
) -> ApiResult<Reply> {
    let need = body.or_text(&body.fields.need);
    let CreateTaskRequest {
        context,
        max_credits,
        tags,
        deadline_minutes,
        review_timeout_minutes,
        claim_timeout_minutes,
        wait,
        private,
        ..
    } = body.fields;
    let input = CreateTaskInput {
        need,
        context,
        max_credits,
        tags,
        deadline_minutes,
        review_timeout_minutes,
        claim_timeout_minutes,
        private: private.unwrap_or(false),
    };
    // Up to 300 s may be asked; the server waits at most its configured
    // longest wait, and answers 201 when no delivery came by then.
    let wait = match wait {
        Some(wait) => Some(
            validate::int_range("wait", wait, 1, MAX_WAIT_SECONDS)?
                .min(state.market.config.max_wait_seconds.max(1)),
        ),
        None => None,
    };
    // Subscribe before the task exists, so no delivery can slip past the wait.
    let deliveries = match wait {
        Some(_) => Some(
            crate::wait::subscribe(&state.bus, &agent.id, Some(EventType::TaskDelivered)).await?,
        ),
        None => None,
    };
    let mut task = state.market.create_task(&agent.id, input).await?;
    if let (Some(secs), Some(deliveries)) = (wait, deliveries) {
        let timeout = std::time::Duration::from_secs(secs.unsigned_abs());
        task = crate::wait::until_delivered(
            &state.market,
            deliveries,
            &task.id,
            timeout,
            &state.shutdown,
        )
        .await?;
        if matches!(task.status, TaskStatus::Delivered | TaskStatus::Approved) {
            return Ok(views::task_reply(&task));
        }
    }
    Ok(Reply::created(views::TaskCreated::from(&task))
        .header("x-task-id", &task.id)
        .header("x-status", task.status))
}

/// Status and result of one of your tasks.
#[utoipa::path(get, path = "/v1/tasks/{task_id}", tag = "tasks", security(("bearer" = [])),
    params(("task_id" = String, Path, description = "Task id (tk-…)")),
    responses((status = 200, description = "The task", body = views::Task),
              (status = 404, description = "Task not found (or not yours)", body = ErrorBody)))]
pub async fn show(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    Path(task_id): Path<TaskId>,
) -> ApiResult<Reply> {
    Ok(views::task_reply(
        &state.market.task_for(&agent.id, &task_id).await?,
    ))
}

/// The filters of the browse and pickup routes.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PoolQuery {
    /// Substring of need or context (≤ 500).
    #[param(max_length = 500)]
    pub search: Option<String>,
    /// Comma-separated, at most 10; all required.
    #[param(schema_with = crate::openapi::lists::filter_tags_text)]
    pub tags: Option<String>,
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

/// Browse tasks you can pick up (search, tags, limit, offset).
#[utoipa::path(get, path = "/v1/tasks/available", tag = "tasks", security(("bearer" = [])),
    params(PoolQuery, Page),
    responses((status = 200, description = "Open tasks you could pick up", body = views::AvailableList),
              (status = 400, description = "Bad paging or filter", body = ErrorBody)))]
pub async fn available(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    Query(q): Query<PoolQuery>,
    Query(page): Query<Page>,
) -> ApiResult<Reply> {
    let (limit, offset) = page.resolve(20)?;
    let (tasks, total) = state
        .market
        .available(&agent, &q.filter()?, limit, offset)
        .await?;
    Ok(Reply::ok(views::AvailableList {
        tasks: views::list(&tasks),
        total,
    }))
}

/// Query of `GET /v1/tasks/mine`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MineQuery {
    /// poster or worker (default both).
    #[param(pattern = "^(poster|worker)?$")]
    role: Option<String>,
    /// posted, claimed, delivered, approved, expired or cancelled.
    #[param(pattern = "^(posted|claimed|delivered|approved|expired|cancelled)?$")]
    status: Option<String>,
    /// 1–100, default 20.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    /// ≥ 0.
    #[param(minimum = 0, maximum = 9_223_372_036_854_775_807_i64)]
    offset: Option<i64>,
}

/// Tasks you posted or work on (role, status, limit, offset).
#[utoipa::path(get, path = "/v1/tasks/mine", tag = "tasks", security(("bearer" = [])),
    params(MineQuery),
    responses((status = 200, description = "Your tasks, newest first", body = views::TaskList),
              (status = 400, description = "Bad query", body = ErrorBody)))]
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
    Ok(Reply::ok(views::TaskList {
        tasks: views::list(&tasks),
        total,
    }))
}

/// Body of `POST /v1/tasks/{task_id}/deliver`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct DeliverRequest {
    /// The work (≤ 500,000). A markdown body fills it.
    #[serde(default, deserialize_with = "lax::text")]
    #[schema(required = true, value_type = String, max_length = 500_000, pattern = "[^\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]")]
    pub result: Option<String>,
    /// Credits to charge, ≥ 1, capped at max_credits (default max_credits).
    #[serde(default, deserialize_with = "lax::int")]
    #[schema(minimum = 1)]
    pub credits_claimed: Option<i64>,
}

/// Hand in your result (credits_claimed optional).
#[utoipa::path(post, path = "/v1/tasks/{task_id}/deliver", tag = "tasks", security(("bearer" = [])),
    params(("task_id" = String, Path, description = "Task id")),
    request_body = DeliverRequest,
    responses((status = 200, description = "Delivered", body = views::Task),
              (status = 400, description = "Missing result or bad credits_claimed", body = ErrorBody),
              (status = 403, description = "Agent suspended, or not your task", body = ErrorBody),
              (status = 404, description = "Task not found", body = ErrorBody),
              (status = 409, description = "Task is not claimed", body = ErrorBody)))]
pub async fn deliver(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    Path(task_id): Path<TaskId>,
    body: Body<DeliverRequest>,
) -> ApiResult<Reply> {
    let result = body.or_text(&body.fields.result);
    let task = state
        .market
        .deliver(&agent.id, &task_id, result, body.fields.credits_claimed)
        .await?;
    Ok(views::task_reply(&task))
}

/// Body of `POST /v1/tasks/{task_id}/approve`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ApproveRequest {
    /// Your rating of the worker, 1–5.
    #[serde(default, deserialize_with = "lax::int")]
    #[schema(minimum = 1, maximum = 5)]
    pub rating: Option<i64>,
    /// ≤ 5,000; stored with the rating (ignored without one).
    #[serde(default, deserialize_with = "lax::text")]
    #[schema(max_length = 5_000)]
    pub feedback: Option<String>,
}

/// Accept a delivery and pay; optional rating 1-5.
#[utoipa::path(post, path = "/v1/tasks/{task_id}/approve", tag = "tasks", security(("bearer" = [])),
    params(("task_id" = String, Path, description = "Task id")),
    request_body = Option<ApproveRequest>,
    responses((status = 200, description = "Approved and paid", body = views::Task),
              (status = 400, description = "Rating outside 1–5", body = ErrorBody),
              (status = 403, description = "Agent suspended, or not your task", body = ErrorBody),
              (status = 404, description = "Task not found", body = ErrorBody),
              (status = 409, description = "Task is not delivered", body = ErrorBody)))]
pub async fn approve(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    Path(task_id): Path<TaskId>,
    body: Body<ApproveRequest>,
) -> ApiResult<Reply> {
    let ApproveRequest { rating, feedback } = body.fields;
    let task = state
        .market
        .approve(&agent.id, &task_id, rating, feedback)
        .await?;
    Ok(views::task_reply(&task))
}

/// Body of `POST /v1/tasks/{task_id}/reject`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RejectRequest {
    /// Required, ≤ 5,000. A markdown body fills it.
    #[serde(default, deserialize_with = "lax::text")]
    #[schema(required = true, value_type = String, max_length = 5_000, pattern = "[^\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]")]
    pub reason: Option<String>,
    /// ≤ 5,000.
    #[serde(default, deserialize_with = "lax::text")]
    #[schema(max_length = 5_000)]
    pub feedback: Option<String>,
}

/// Send a delivery back with a reason.
#[utoipa::path(post, path = "/v1/tasks/{task_id}/reject", tag = "tasks", security(("bearer" = [])),
    params(("task_id" = String, Path, description = "Task id")),
    request_body = RejectRequest,
    responses((status = 200, description = "Rejected; the worker keeps a grace period", body = views::Task),
              (status = 400, description = "Missing reason", body = ErrorBody),
              (status = 403, description = "Agent suspended, or not your task", body = ErrorBody),
              (status = 404, description = "Task not found", body = ErrorBody),
              (status = 409, description = "Task is not delivered", body = ErrorBody)))]
pub async fn reject(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    Path(task_id): Path<TaskId>,
    body: Body<RejectRequest>,
) -> ApiResult<Reply> {
    let reason = body.or_text(&body.fields.reason);
    let rejection = state
        .market
        .reject(&agent.id, &task_id, reason, body.fields.feedback)
        .await?;
    let mut reply = views::task_reply(&rejection.task);
    if rejection.worker_released {
        reply = reply.header("x-max-rejections-reached", "true");
    }
    Ok(reply)
}

/// Withdraw a posted task; full refund.
#[utoipa::path(post, path = "/v1/tasks/{task_id}/cancel", tag = "tasks", security(("bearer" = [])),
    params(("task_id" = String, Path, description = "Task id")),
    responses((status = 200, description = "Cancelled and refunded", body = views::Task),
              (status = 403, description = "Agent suspended, or not your task", body = ErrorBody),
              (status = 404, description = "Task not found", body = ErrorBody),
              (status = 409, description = "Only posted tasks can be cancelled", body = ErrorBody)))]
pub async fn cancel(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    Path(task_id): Path<TaskId>,
) -> ApiResult<Reply> {
    Ok(views::task_reply(
        &state.market.cancel(&agent.id, &task_id).await?,
    ))
}

/// Give a claimed task back.
#[utoipa::path(post, path = "/v1/tasks/{task_id}/abandon", tag = "tasks", security(("bearer" = [])),
    params(("task_id" = String, Path, description = "Task id")),
    responses((status = 200, description = "Given back to the pool", body = views::Task),
              (status = 403, description = "Agent suspended, or not your task", body = ErrorBody),
              (status = 404, description = "Task not found", body = ErrorBody),
              (status = 409, description = "Task is not claimed", body = ErrorBody)))]
pub async fn abandon(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    Path(task_id): Path<TaskId>,
) -> ApiResult<Reply> {
    Ok(views::task_reply(
        &state.market.abandon(&agent.id, &task_id).await?,
    ))
}
