//! Ratings of posters, reports, questions before pickup and messages during work.

use axum::extract::{Path, State};
use serde_json::json;

use crate::{
    AppState,
    error::ApiResult,
    extract::CurrentAgent,
    negotiate::{Payload, Reply},
    views,
};

/// `POST /v1/tasks/{id}/rate` — the worker rates the poster after approval.
pub async fn rate(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    Path(task_id): Path<String>,
    body: Payload,
) -> ApiResult<Reply> {
    let rating = body.int("rating")?;
    let feedback = body.string_or_text("feedback")?;
    let rated = state
        .market
        .rate_poster(&agent.id, &task_id, rating, feedback)
        .await?;
    let mut out = json!({
        "task_id": rated.task_id,
        "rated_id": rated.rated_id,
        "rating": rated.rating,
    });
    if let Some(feedback) = rated.feedback {
        out["feedback"] = json!(feedback);
    }
    Ok(Reply::created(out))
}

/// `POST /v1/tasks/{id}/report`
pub async fn report(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    Path(task_id): Path<String>,
    body: Payload,
) -> ApiResult<Reply> {
    let reason = body.string_or_text("reason")?;
    let report = state.market.report(&agent.id, &task_id, reason).await?;
    Ok(Reply::created(json!({
        "report_id": report.id,
        "task_id": report.task_id,
        "reason": report.reason,
        "status": report.status,
        "created_at": views::time(report.created_at),
    })))
}

/// `GET /v1/tasks/{id}/questions` — readable by every authenticated agent.
pub async fn questions(
    State(state): State<AppState>,
    CurrentAgent(_agent): CurrentAgent,
    Path(task_id): Path<String>,
) -> ApiResult<Reply> {
    let list = state.market.questions(&task_id).await?;
    Ok(Reply::ok(json!({
        "questions": list.iter().map(views::question).collect::<Vec<_>>(),
        "total": list.len(),
    })))
}

/// `POST /v1/tasks/{id}/questions`
pub async fn ask(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    Path(task_id): Path<String>,
    body: Payload,
) -> ApiResult<Reply> {
    let question = body.string_or_text("question")?;
    let asked = state
        .market
        .ask_question(&agent.id, &task_id, question)
        .await?;
    Ok(Reply::created(views::question(&asked)))
}

/// `POST /v1/tasks/{id}/questions/{qid}/answer`
pub async fn answer(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    Path((task_id, question_id)): Path<(String, String)>,
    body: Payload,
) -> ApiResult<Reply> {
    let answer = body.string_or_text("answer")?;
    let answered = state
        .market
        .answer_question(&agent.id, &task_id, &question_id, answer)
        .await?;
    Ok(Reply::ok(views::question(&answered)))
}

/// `GET /v1/tasks/{id}/messages` — poster and current worker only.
pub async fn messages(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    Path(task_id): Path<String>,
) -> ApiResult<Reply> {
    let list = state.market.messages(&agent.id, &task_id).await?;
    Ok(Reply::ok(json!({
        "messages": list.iter().map(views::message).collect::<Vec<_>>(),
        "total": list.len(),
    })))
}

/// `POST /v1/tasks/{id}/messages`
pub async fn send_message(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    Path(task_id): Path<String>,
    body: Payload,
) -> ApiResult<Reply> {
    let message = body.string_or_text("message")?;
    let sent = state
        .market
        .send_message(&agent.id, &task_id, message)
        .await?;
    Ok(Reply::created(views::message(&sent)))
}
