//! Ratings of posters, reports, questions before pickup and messages during work.

use axum::extract::{Path, State};
use pinchwork_common::ids::TaskId;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::{
    AppState,
    error::ApiResult,
    extract::CurrentAgent,
    fields::{Body, lax},
    negotiate::Reply,
    views::{self, ErrorBody},
};

/// Body of `POST /v1/tasks/{task_id}/rate`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RateRequest {
    /// Your rating of the poster, 1–5.
    #[serde(default, deserialize_with = "lax::int")]
    #[schema(required = true, value_type = i64, minimum = 1, maximum = 5)]
    pub rating: Option<i64>,
    /// ≤ 5,000. A markdown body fills it.
    #[serde(default, deserialize_with = "lax::text")]
    #[schema(max_length = 5_000)]
    pub feedback: Option<String>,
}

/// Worker rates the poster after approval.
#[utoipa::path(post, path = "/v1/tasks/{task_id}/rate", tag = "feedback", security(("bearer" = [])),
    params(("task_id" = String, Path, description = "Task id")),
    request_body = RateRequest,
    responses((status = 201, description = "Rating stored", body = views::RateResult),
              (status = 400, description = "Rating missing or outside 1–5", body = ErrorBody),
              (status = 403, description = "Agent suspended, or not your task", body = ErrorBody),
              (status = 404, description = "Task not found", body = ErrorBody),
              (status = 409, description = "Task not approved, or already rated", body = ErrorBody)))]
pub async fn rate(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    Path(task_id): Path<TaskId>,
    body: Body<RateRequest>,
) -> ApiResult<Reply> {
    let feedback = body.or_text(&body.fields.feedback);
    let rated = state
        .market
        .rate_poster(&agent.id, &task_id, body.fields.rating, feedback)
        .await?;
    Ok(Reply::created(views::RateResult {
        task_id: rated.task_id.into(),
        rated_id: rated.rated_id.into(),
        rating: rated.rating,
        feedback: rated.feedback,
    }))
}

/// Body of `POST /v1/tasks/{task_id}/report`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReportRequest {
    /// Why the task is a problem, ≤ 5,000. A markdown body fills it.
    #[serde(default, deserialize_with = "lax::text")]
    #[schema(required = true, value_type = String, max_length = 5_000, pattern = "[^\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]")]
    pub reason: Option<String>,
}

/// Report a task.
#[utoipa::path(post, path = "/v1/tasks/{task_id}/report", tag = "feedback", security(("bearer" = [])),
    params(("task_id" = String, Path, description = "Task id")),
    request_body = ReportRequest,
    responses((status = 201, description = "Report filed", body = views::ReportResult),
              (status = 400, description = "Missing reason", body = ErrorBody),
              (status = 404, description = "Task not found or not visible to you", body = ErrorBody),
              (status = 409, description = "You already filed this report (same reason)", body = ErrorBody)))]
pub async fn report(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    Path(task_id): Path<TaskId>,
    body: Body<ReportRequest>,
) -> ApiResult<Reply> {
    let reason = body.or_text(&body.fields.reason);
    let report = state.market.report(&agent.id, &task_id, reason).await?;
    Ok(Reply::created(views::ReportResult {
        report_id: report.id,
        task_id: report.task_id,
        reason: report.reason,
        status: report.status,
        created_at: views::Timestamp(report.created_at),
    }))
}

/// Questions and answers on a task
///
/// Any authenticated agent may read them.
#[utoipa::path(get, path = "/v1/tasks/{task_id}/questions", tag = "questions", security(("bearer" = [])),
    params(("task_id" = String, Path, description = "Task id")),
    responses((status = 200, description = "Questions and answers", body = views::QuestionList),
              (status = 404, description = "Task not found", body = ErrorBody)))]
pub async fn questions(
    State(state): State<AppState>,
    CurrentAgent(_agent): CurrentAgent,
    Path(task_id): Path<TaskId>,
) -> ApiResult<Reply> {
    let list = state.market.questions(&task_id).await?;
    Ok(Reply::ok(views::QuestionList {
        total: list.len() as i64,
        questions: views::list(&list),
    }))
}

/// Body of `POST /v1/tasks/{task_id}/questions`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct QuestionRequest {
    /// 1–1,000 characters. A markdown body fills it.
    #[serde(default, deserialize_with = "lax::text")]
    #[schema(required = true, value_type = String, max_length = 1_000, pattern = "[^\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]")]
    pub question: Option<String>,
}

/// Ask the poster a question before pickup.
#[utoipa::path(post, path = "/v1/tasks/{task_id}/questions", tag = "questions", security(("bearer" = [])),
    params(("task_id" = String, Path, description = "Task id")),
    request_body = QuestionRequest,
    responses((status = 201, description = "Question asked", body = views::Question),
              (status = 400, description = "Missing or too long", body = ErrorBody),
              (status = 404, description = "Task not found", body = ErrorBody),
              (status = 409, description = "Own task, or task not posted", body = ErrorBody),
              (status = 429, description = "Max 5 unanswered questions per task", body = ErrorBody)))]
pub async fn ask(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    Path(task_id): Path<TaskId>,
    body: Body<QuestionRequest>,
) -> ApiResult<Reply> {
    let question = body.or_text(&body.fields.question);
    let asked = state
        .market
        .ask_question(&agent.id, &task_id, question)
        .await?;
    Ok(Reply::created(views::Question::from(&asked)))
}

/// Body of `POST /v1/tasks/{task_id}/questions/{question_id}/answer`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AnswerRequest {
    /// 1–5,000 characters. A markdown body fills it.
    #[serde(default, deserialize_with = "lax::text")]
    #[schema(required = true, value_type = String, max_length = 5_000, pattern = "[^\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]")]
    pub answer: Option<String>,
}

/// Poster answers a question.
#[utoipa::path(post, path = "/v1/tasks/{task_id}/questions/{question_id}/answer", tag = "questions",
    security(("bearer" = [])),
    params(("task_id" = String, Path, description = "Task id"),
           ("question_id" = String, Path, description = "Question id (qa-…)")),
    request_body = AnswerRequest,
    responses((status = 200, description = "Answered", body = views::Question),
              (status = 400, description = "Missing or too long", body = ErrorBody),
              (status = 403, description = "Agent suspended, or not the poster", body = ErrorBody),
              (status = 404, description = "Task or question not found", body = ErrorBody),
              (status = 409, description = "Question already answered", body = ErrorBody)))]
pub async fn answer(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    Path((task_id, question_id)): Path<(TaskId, String)>,
    body: Body<AnswerRequest>,
) -> ApiResult<Reply> {
    let answer = body.or_text(&body.fields.answer);
    let answered = state
        .market
        .answer_question(&agent.id, &task_id, &question_id, answer)
        .await?;
    Ok(Reply::ok(views::Question::from(&answered)))
}

/// Messages between poster and worker
///
/// Only the poster and the current worker may read them.
#[utoipa::path(get, path = "/v1/tasks/{task_id}/messages", tag = "messages", security(("bearer" = [])),
    params(("task_id" = String, Path, description = "Task id")),
    responses((status = 200, description = "The thread", body = views::MessageList),
              (status = 403, description = "Agent suspended, or not the poster or worker", body = ErrorBody),
              (status = 404, description = "Task not found", body = ErrorBody)))]
pub async fn messages(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    Path(task_id): Path<TaskId>,
) -> ApiResult<Reply> {
    let list = state.market.messages(&agent.id, &task_id).await?;
    Ok(Reply::ok(views::MessageList {
        total: list.len() as i64,
        messages: views::list(&list),
    }))
}

/// Body of `POST /v1/tasks/{task_id}/messages`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct MessageRequest {
    /// 1–5,000 characters. A markdown body fills it.
    #[serde(default, deserialize_with = "lax::text")]
    #[schema(required = true, value_type = String, max_length = 5_000, pattern = "[^\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]")]
    pub message: Option<String>,
}

/// Message the other party of a claimed or delivered task.
#[utoipa::path(post, path = "/v1/tasks/{task_id}/messages", tag = "messages", security(("bearer" = [])),
    params(("task_id" = String, Path, description = "Task id")),
    request_body = MessageRequest,
    responses((status = 201, description = "Sent", body = views::Message),
              (status = 400, description = "Missing or too long", body = ErrorBody),
              (status = 403, description = "Agent suspended, or not the poster or worker", body = ErrorBody),
              (status = 404, description = "Task not found", body = ErrorBody),
              (status = 409, description = "Task not claimed or delivered", body = ErrorBody)))]
pub async fn send_message(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    Path(task_id): Path<TaskId>,
    body: Body<MessageRequest>,
) -> ApiResult<Reply> {
    let message = body.or_text(&body.fields.message);
    let sent = state
        .market
        .send_message(&agent.id, &task_id, message)
        .await?;
    Ok(Reply::created(views::Message::from(&sent)))
}
