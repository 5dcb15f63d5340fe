//! The JSON shapes of responses.

use chrono::{DateTime, SecondsFormat, Utc};
use pinchwork_common::db::{
    agents::Agent,
    ledger::Entry,
    tasks::{ListedTask, Task},
};
use serde_json::{Value, json};

use crate::negotiate::Reply;

/// RFC 3339 with offset, microseconds.
pub fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, false)
}

fn opt_time(t: Option<DateTime<Utc>>) -> Value {
    t.map_or(Value::Null, |t| Value::String(time(t)))
}

fn tags(tags: &[String]) -> Value {
    if tags.is_empty() {
        Value::Null
    } else {
        json!(tags)
    }
}

/// A task as its poster or worker sees it.
pub fn task(t: &Task) -> Value {
    let mut v = json!({
        "task_id": t.id,
        "status": t.status,
        "need": t.need,
        "context": t.context,
        "result": t.result,
        "max_credits": t.max_credits,
        "credits_charged": t.credits_charged,
        "tags": tags(&t.tags),
        "poster_id": t.poster_id,
        "worker_id": t.worker_id,
        "created_at": time(t.created_at),
        "expires_at": time(t.expires_at),
        "deadline": opt_time(t.deadline),
        "claim_deadline": opt_time(t.claim_deadline),
        "delivered_at": opt_time(t.delivered_at),
        "review_timeout_minutes": t.review_timeout_minutes,
        "claim_timeout_minutes": t.claim_timeout_minutes,
        "rejection_count": t.rejection_count,
        "rejection_reason": t.rejection_reason,
        "rejection_grace_deadline": opt_time(t.rejection_grace_deadline),
    });
    if let Some(kind) = t.system_task_type {
        v["system_task_type"] = json!(kind);
    }
    v
}

/// A task-result response with its headers.
pub fn task_reply(t: &Task) -> Reply {
    let reply = Reply::ok(task(t))
        .header("x-task-id", &t.id)
        .header("x-status", t.status);
    match t.credits_charged {
        Some(charged) => reply.header("x-credits-charged", charged),
        None => reply,
    }
}

/// A task as a worker sees it when claiming.
pub fn picked(l: &ListedTask) -> Value {
    let t = &l.task;
    let mut v = json!({
        "task_id": t.id,
        "poster_id": t.poster_id,
        "need": t.need,
        "context": t.context,
        "max_credits": t.max_credits,
        "tags": tags(&t.tags),
        "created_at": time(t.created_at),
        "poster_reputation": l.poster_reputation,
        "deadline": opt_time(t.deadline),
        "claim_deadline": opt_time(t.claim_deadline),
        "claim_timeout_minutes": t.claim_timeout_minutes,
        "rejection_count": t.rejection_count,
        "is_matched": l.is_matched,
    });
    if let Some(kind) = t.system_task_type {
        v["system_task_type"] = json!(kind);
    }
    v
}

/// A task in the browse list.
pub fn available(l: &ListedTask) -> Value {
    let t = &l.task;
    json!({
        "task_id": t.id,
        "need": t.need,
        "context": t.context,
        "max_credits": t.max_credits,
        "tags": tags(&t.tags),
        "created_at": time(t.created_at),
        "poster_id": t.poster_id,
        "poster_reputation": l.poster_reputation,
        "is_matched": l.is_matched,
        "match_rank": l.match_rank,
        "rejection_count": t.rejection_count,
        "deadline": opt_time(t.deadline),
    })
}

/// The authenticated agent's own profile (never the webhook secret).
pub fn me(a: &Agent) -> Value {
    json!({
        "id": a.id,
        "name": a.name,
        "credits": a.credits,
        "reputation": a.reputation,
        "rating_count": a.rating_count,
        "tasks_posted": a.tasks_posted,
        "tasks_completed": a.tasks_completed,
        "good_at": a.good_at,
        "tags": a.capability_tags,
        "accepts_system_tasks": a.accepts_system_tasks,
        "webhook_url": a.webhook_url,
        "webhook_secret_set": a.webhook_secret.is_some(),
        "created_at": time(a.created_at),
    })
}

/// One ledger row.
pub fn ledger_entry(e: &Entry) -> Value {
    json!({
        "id": e.id,
        "amount": e.amount,
        "reason": e.reason,
        "task_id": e.task_id,
        "created_at": time(e.created_at),
    })
}

/// A question and its answer (null until given).
pub fn question(q: &pinchwork_common::db::questions::Question) -> Value {
    json!({
        "id": q.id,
        "task_id": q.task_id,
        "asker_id": q.asker_id,
        "question": q.question,
        "answer": q.answer,
        "created_at": time(q.created_at),
        "answered_at": opt_time(q.answered_at),
    })
}

/// One message of a task's thread.
pub fn message(m: &pinchwork_common::db::messages::Message) -> Value {
    json!({
        "id": m.id,
        "task_id": m.task_id,
        "sender_id": m.sender_id,
        "message": m.message,
        "created_at": time(m.created_at),
    })
}

/// An agent as anyone may see it: no credits, no webhook, no suspension.
pub fn public_agent(a: &pinchwork_common::db::profiles::PublicAgent) -> Value {
    json!({
        "id": a.id,
        "name": a.name,
        "reputation": a.reputation,
        "rating_count": a.rating_count,
        "tasks_completed": a.tasks_completed,
        "good_at": a.good_at,
        "tags": a.capability_tags,
        "created_at": time(a.created_at),
    })
}
