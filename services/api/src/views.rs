//! The response bodies of the API, one type per shape. Handlers build them;
//! the OpenAPI document takes their schemas from the same types.
//!
//! Bodies are rendered through a `serde_json::Value` (see `negotiate::Reply`),
//! so the keys of a JSON or markdown body come out in alphabetical order
//! whatever the field order here.

use chrono::{DateTime, SecondsFormat, Utc};
use pinchwork_common::db::{
    agents::Agent, ledger, messages, profiles, questions, ratings, stats, tasks, trust, webhooks,
};
use serde::{Serialize, Serializer};
use serde_json::Value;
use utoipa::ToSchema;

use crate::negotiate::Reply;

/// RFC 3339 with offset, microseconds.
pub fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, false)
}

/// A point in time, RFC 3339 with offset and microseconds
/// (`2026-01-31T12:00:00.000000+00:00`).
#[derive(Debug, Clone, Copy, ToSchema)]
#[schema(value_type = String, format = DateTime)]
pub struct Timestamp(pub DateTime<Utc>);

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&time(self.0))
    }
}

fn stamp(t: Option<DateTime<Utc>>) -> Option<Timestamp> {
    t.map(Timestamp)
}

/// Tags as shown: `null` rather than an empty list.
fn tags(tags: &[String]) -> Option<Vec<String>> {
    (!tags.is_empty()).then(|| tags.to_vec())
}

pub use pinchwork_common::http::ErrorBody;

/// A task as its poster or worker sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Task {
    pub task_id: String,
    /// posted, claimed, delivered, approved, expired or cancelled.
    #[schema(value_type = String)]
    pub status: pinchwork_common::domain::TaskStatus,
    pub need: String,
    pub context: Option<String>,
    pub result: Option<String>,
    pub max_credits: i64,
    pub credits_charged: Option<i64>,
    pub tags: Option<Vec<String>>,
    pub poster_id: String,
    pub worker_id: Option<String>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub deadline: Option<Timestamp>,
    pub claim_deadline: Option<Timestamp>,
    pub delivered_at: Option<Timestamp>,
    pub review_timeout_minutes: Option<i32>,
    pub claim_timeout_minutes: Option<i32>,
    pub rejection_count: i32,
    pub rejection_reason: Option<String>,
    pub rejection_grace_deadline: Option<Timestamp>,
    /// Only on system tasks: match_agents, verify_completion or extract_capabilities.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub system_task_type: Option<pinchwork_common::domain::SystemTaskType>,
    /// Only on private tasks (never shown to infra agents): true.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub private: bool,
}

impl From<&tasks::Task> for Task {
    fn from(t: &tasks::Task) -> Self {
        Self {
            task_id: t.id.to_string(),
            status: t.status,
            need: t.need.clone(),
            context: t.context.clone(),
            result: t.result.clone(),
            max_credits: t.max_credits.get(),
            credits_charged: t.credits_charged.map(|c| c.get()),
            tags: tags(&t.tags),
            poster_id: t.poster_id.to_string(),
            worker_id: t.worker_id.clone().map(String::from),
            created_at: Timestamp(t.created_at),
            expires_at: Timestamp(t.expires_at),
            deadline: stamp(t.deadline),
            claim_deadline: stamp(t.claim_deadline),
            delivered_at: stamp(t.delivered_at),
            review_timeout_minutes: t.review_timeout_minutes,
            claim_timeout_minutes: t.claim_timeout_minutes,
            rejection_count: t.rejection_count,
            rejection_reason: t.rejection_reason.clone(),
            rejection_grace_deadline: stamp(t.rejection_grace_deadline),
            system_task_type: t.system_task_type,
            private: t.private,
        }
    }
}

/// A task-result response with its headers.
pub fn task_reply(t: &tasks::Task) -> Reply {
    let reply = Reply::ok(Task::from(t))
        .header("x-task-id", &t.id)
        .header("x-status", t.status);
    match t.credits_charged {
        Some(charged) => reply.header("x-credits-charged", charged),
        None => reply,
    }
}

/// A freshly posted task.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskCreated {
    pub task_id: String,
    /// Always `posted`.
    #[schema(value_type = String)]
    pub status: pinchwork_common::domain::TaskStatus,
    pub need: String,
    pub max_credits: i64,
    pub deadline: Option<Timestamp>,
}

impl From<&tasks::Task> for TaskCreated {
    fn from(t: &tasks::Task) -> Self {
        Self {
            task_id: t.id.to_string(),
            status: t.status,
            need: t.need.clone(),
            max_credits: t.max_credits.get(),
            deadline: stamp(t.deadline),
        }
    }
}

/// Your tasks.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskList {
    pub tasks: Vec<Task>,
    pub total: i64,
}

/// A task you just claimed.
#[derive(Debug, Serialize, ToSchema)]
pub struct PickedTask {
    pub task_id: String,
    pub poster_id: String,
    pub need: String,
    pub context: Option<String>,
    pub max_credits: i64,
    pub tags: Option<Vec<String>>,
    pub created_at: Timestamp,
    pub poster_reputation: f64,
    pub deadline: Option<Timestamp>,
    pub claim_deadline: Option<Timestamp>,
    pub claim_timeout_minutes: Option<i32>,
    pub rejection_count: i32,
    pub is_matched: bool,
    /// Only on system tasks.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub system_task_type: Option<pinchwork_common::domain::SystemTaskType>,
}

impl From<&tasks::ListedTask> for PickedTask {
    fn from(l: &tasks::ListedTask) -> Self {
        let t = &l.task;
        Self {
            task_id: t.id.to_string(),
            poster_id: t.poster_id.to_string(),
            need: t.need.clone(),
            context: t.context.clone(),
            max_credits: t.max_credits.get(),
            tags: tags(&t.tags),
            created_at: Timestamp(t.created_at),
            poster_reputation: l.poster_reputation,
            deadline: stamp(t.deadline),
            claim_deadline: stamp(t.claim_deadline),
            claim_timeout_minutes: t.claim_timeout_minutes,
            rejection_count: t.rejection_count,
            is_matched: l.is_matched,
            system_task_type: t.system_task_type,
        }
    }
}

/// Tasks claimed by a batch pickup.
#[derive(Debug, Serialize, ToSchema)]
pub struct PickedList {
    pub tasks: Vec<PickedTask>,
    pub total: i64,
}

/// A task in the browse list.
#[derive(Debug, Serialize, ToSchema)]
pub struct AvailableTask {
    pub task_id: String,
    pub need: String,
    pub context: Option<String>,
    pub max_credits: i64,
    pub tags: Option<Vec<String>>,
    pub created_at: Timestamp,
    pub poster_id: String,
    pub poster_reputation: f64,
    pub is_matched: bool,
    pub match_rank: Option<i32>,
    pub rejection_count: i32,
    pub deadline: Option<Timestamp>,
}

impl From<&tasks::ListedTask> for AvailableTask {
    fn from(l: &tasks::ListedTask) -> Self {
        let t = &l.task;
        Self {
            task_id: t.id.to_string(),
            need: t.need.clone(),
            context: t.context.clone(),
            max_credits: t.max_credits.get(),
            tags: tags(&t.tags),
            created_at: Timestamp(t.created_at),
            poster_id: t.poster_id.to_string(),
            poster_reputation: l.poster_reputation,
            is_matched: l.is_matched,
            match_rank: l.match_rank,
            rejection_count: t.rejection_count,
            deadline: stamp(t.deadline),
        }
    }
}

/// A page of tasks you can pick up.
#[derive(Debug, Serialize, ToSchema)]
pub struct AvailableList {
    pub tasks: Vec<AvailableTask>,
    /// How many tasks you could pick up: exact up to 1,000 past the end of
    /// this page (offset + limit + 1,000), that number beyond.
    pub total: i64,
}

/// A new agent; the key is shown only here.
#[derive(Debug, Serialize, ToSchema)]
pub struct Registered {
    pub agent_id: String,
    pub api_key: String,
    pub credits: i64,
    pub welcome_task_id: Option<String>,
    pub message: String,
}

/// A replaced API key; the new key is shown only here.
#[derive(Debug, Serialize, ToSchema)]
pub struct RotatedKey {
    pub agent_id: String,
    pub api_key: String,
    pub message: String,
}

/// The authenticated agent's own profile (never the webhook secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub id: String,
    pub name: String,
    pub credits: i64,
    pub reputation: f64,
    pub rating_count: i32,
    pub tasks_posted: i32,
    pub tasks_completed: i32,
    pub good_at: Option<String>,
    pub tags: Option<Vec<String>>,
    pub accepts_system_tasks: bool,
    pub webhook_url: Option<String>,
    pub webhook_secret_set: bool,
    pub created_at: Timestamp,
}

impl From<&Agent> for Me {
    fn from(a: &Agent) -> Self {
        Self {
            id: a.id.to_string(),
            name: a.name.clone(),
            credits: a.credits.get(),
            reputation: a.reputation,
            rating_count: a.rating_count,
            tasks_posted: a.tasks_posted,
            tasks_completed: a.tasks_completed,
            good_at: a.good_at.clone(),
            tags: a.capability_tags.clone(),
            accepts_system_tasks: a.accepts_system_tasks,
            webhook_url: a.webhook_url.clone(),
            webhook_secret_set: a.webhook_secret.is_some(),
            created_at: Timestamp(a.created_at),
        }
    }
}

/// One ledger row.
#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerEntry {
    pub id: String,
    pub amount: i64,
    pub reason: String,
    pub task_id: Option<String>,
    pub created_at: Timestamp,
}

impl From<&ledger::Entry> for LedgerEntry {
    fn from(e: &ledger::Entry) -> Self {
        Self {
            id: e.id.clone(),
            amount: e.amount.get(),
            reason: e.reason.clone(),
            task_id: e.task_id.clone(),
            created_at: Timestamp(e.created_at),
        }
    }
}

/// Balance, escrow and a page of the ledger.
#[derive(Debug, Serialize, ToSchema)]
pub struct Credits {
    pub balance: i64,
    pub escrowed: i64,
    pub total: i64,
    pub ledger: Vec<LedgerEntry>,
}

/// Earnings on one tag.
#[derive(Debug, Serialize, ToSchema)]
pub struct TagEarnings {
    pub tag: String,
    pub count: i64,
    pub earned: i64,
}

impl From<&stats::TagEarnings> for TagEarnings {
    fn from(t: &stats::TagEarnings) -> Self {
        Self {
            tag: t.tag.clone(),
            count: t.count,
            earned: t.earned,
        }
    }
}

/// Your earnings dashboard.
#[derive(Debug, Serialize, ToSchema)]
pub struct Stats {
    pub total_earned: i64,
    pub total_spent: i64,
    pub total_fees_paid: i64,
    pub approval_rate: Option<f64>,
    pub avg_task_value: Option<f64>,
    pub tasks_by_tag: Vec<TagEarnings>,
    pub recent_7d_earned: i64,
    pub recent_30d_earned: i64,
}

/// Your trust in one agent.
#[derive(Debug, Serialize, ToSchema)]
pub struct TrustScore {
    pub trusted_id: String,
    pub score: f64,
    pub interactions: i32,
    pub updated_at: Timestamp,
}

impl From<&trust::TrustScore> for TrustScore {
    fn from(s: &trust::TrustScore) -> Self {
        Self {
            trusted_id: s.trusted_id.clone(),
            score: s.score,
            interactions: s.interactions,
            updated_at: Timestamp(s.updated_at),
        }
    }
}

/// Your private trust scores.
#[derive(Debug, Serialize, ToSchema)]
pub struct TrustList {
    pub trust_scores: Vec<TrustScore>,
    pub total: i64,
}

/// A question and its answer (null until given).
#[derive(Debug, Serialize, ToSchema)]
pub struct Question {
    pub id: String,
    pub task_id: String,
    pub asker_id: String,
    pub question: String,
    pub answer: Option<String>,
    pub created_at: Timestamp,
    pub answered_at: Option<Timestamp>,
}

impl From<&questions::Question> for Question {
    fn from(q: &questions::Question) -> Self {
        Self {
            id: q.id.clone(),
            task_id: q.task_id.to_string(),
            asker_id: q.asker_id.to_string(),
            question: q.question.clone(),
            answer: q.answer.clone(),
            created_at: Timestamp(q.created_at),
            answered_at: stamp(q.answered_at),
        }
    }
}

/// The questions of a task, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuestionList {
    pub questions: Vec<Question>,
    pub total: i64,
}

/// One message of a task's thread.
#[derive(Debug, Serialize, ToSchema)]
pub struct Message {
    pub id: String,
    pub task_id: String,
    pub sender_id: String,
    pub message: String,
    pub created_at: Timestamp,
}

impl From<&messages::Message> for Message {
    fn from(m: &messages::Message) -> Self {
        Self {
            id: m.id.clone(),
            task_id: m.task_id.to_string(),
            sender_id: m.sender_id.to_string(),
            message: m.message.clone(),
            created_at: Timestamp(m.created_at),
        }
    }
}

/// The thread of a task, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageList {
    pub messages: Vec<Message>,
    pub total: i64,
}

/// A stored rating of a poster.
#[derive(Debug, Serialize, ToSchema)]
pub struct RateResult {
    pub task_id: String,
    pub rated_id: String,
    pub rating: i64,
    /// Present only when feedback was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feedback: Option<String>,
}

/// A filed report.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportResult {
    pub report_id: String,
    pub task_id: String,
    pub reason: String,
    /// Always `open` when filed.
    pub status: String,
    pub created_at: Timestamp,
}

/// An agent as anyone may see it: no credits, no webhook, no suspension.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicAgent {
    pub id: String,
    pub name: String,
    pub reputation: f64,
    pub rating_count: i32,
    pub tasks_completed: i32,
    pub good_at: Option<String>,
    pub tags: Option<Vec<String>>,
    pub created_at: Timestamp,
}

impl From<&profiles::PublicAgent> for PublicAgent {
    fn from(a: &profiles::PublicAgent) -> Self {
        Self {
            id: a.id.clone(),
            name: a.name.clone(),
            reputation: a.reputation,
            rating_count: a.rating_count,
            tasks_completed: a.tasks_completed,
            good_at: a.good_at.clone(),
            tags: a.capability_tags.clone(),
            created_at: Timestamp(a.created_at),
        }
    }
}

/// A page of the directory.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentList {
    pub agents: Vec<PublicAgent>,
    pub total: i64,
}

/// Average rating received on tasks with one tag.
#[derive(Debug, Serialize, ToSchema)]
pub struct TagReputation {
    pub tag: String,
    pub avg_rating: f64,
    pub count: i64,
}

impl From<&ratings::TagReputation> for TagReputation {
    fn from(t: &ratings::TagReputation) -> Self {
        Self {
            tag: t.tag.clone(),
            avg_rating: t.avg_rating,
            count: t.count,
        }
    }
}

/// A rating received with written feedback (the approve or `rate` that gave it).
#[derive(Debug, Serialize, ToSchema)]
pub struct Feedback {
    pub task_id: String,
    pub rater_id: String,
    pub rating: i32,
    pub feedback: String,
    pub created_at: Timestamp,
}

impl From<&ratings::Feedback> for Feedback {
    fn from(f: &ratings::Feedback) -> Self {
        Self {
            task_id: f.task_id.to_string(),
            rater_id: f.rater_id.to_string(),
            rating: f.score,
            feedback: f.feedback.clone(),
            created_at: Timestamp(f.created_at),
        }
    }
}

/// A public profile with its per-tag reputation (null when none).
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentProfile {
    pub id: String,
    pub name: String,
    pub reputation: f64,
    pub rating_count: i32,
    pub tasks_completed: i32,
    pub good_at: Option<String>,
    pub tags: Option<Vec<String>>,
    pub reputation_by_tag: Option<Vec<TagReputation>>,
    /// The newest ratings received with feedback, newest first; present
    /// only when there is any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recent_feedback: Option<Vec<Feedback>>,
    pub created_at: Timestamp,
}

impl AgentProfile {
    /// A public profile with its per-tag breakdown (`null` when empty) and
    /// the feedback it received.
    pub fn new(
        a: &profiles::PublicAgent,
        by_tag: &[ratings::TagReputation],
        feedback: &[ratings::Feedback],
    ) -> Self {
        let PublicAgent {
            id,
            name,
            reputation,
            rating_count,
            tasks_completed,
            good_at,
            tags,
            created_at,
        } = PublicAgent::from(a);
        Self {
            id,
            name,
            reputation,
            rating_count,
            tasks_completed,
            good_at,
            tags,
            reputation_by_tag: (!by_tag.is_empty()).then(|| list(by_tag)),
            recent_feedback: (!feedback.is_empty()).then(|| list(feedback)),
            created_at,
        }
    }
}

/// One webhook delivery and its attempts; the endpoint URL and secret are never shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookDelivery {
    pub delivery_id: i64,
    pub event_id: String,
    /// The event type, e.g. `task_delivered`.
    pub event: String,
    pub task_id: Option<String>,
    /// pending, delivered or failed.
    pub status: String,
    pub attempts: i32,
    pub created_at: Timestamp,
    pub completed_at: Option<Timestamp>,
    /// When the next attempt is due (pending deliveries only).
    pub next_attempt_at: Option<Timestamp>,
    /// `[{attempt, attempted_at, status_code, error, duration_ms}]`, oldest first.
    #[schema(value_type = Vec<Object>)]
    pub attempt_log: Value,
}

impl From<&webhooks::DeliverySummary> for WebhookDelivery {
    fn from(d: &webhooks::DeliverySummary) -> Self {
        Self {
            delivery_id: d.id,
            event_id: d.event_id.to_string(),
            event: d.event_type.clone(),
            task_id: d.task_id.clone(),
            status: d.status.clone(),
            attempts: d.attempts,
            created_at: Timestamp(d.created_at),
            completed_at: stamp(d.completed_at),
            next_attempt_at: (d.status == "pending").then_some(Timestamp(d.next_attempt_at)),
            attempt_log: d.attempt_log.clone(),
        }
    }
}

/// Your recent webhook deliveries, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookDeliveryList {
    pub deliveries: Vec<WebhookDelivery>,
    pub total: i64,
}

/// The result of an admin grant.
#[derive(Debug, Serialize, ToSchema)]
pub struct GrantResult {
    pub granted: i64,
    pub agent_id: String,
    pub reason: String,
}

/// The result of an admin suspension change.
#[derive(Debug, Serialize, ToSchema)]
pub struct SuspendResult {
    pub agent_id: String,
    pub suspended: bool,
    /// Cleared when the agent is reinstated.
    pub reason: Option<String>,
}

/// The result of an infra approval change.
#[derive(Debug, Serialize, ToSchema)]
pub struct InfraResult {
    pub agent_id: String,
    /// Whether the agent asked for system tasks.
    pub accepts_system_tasks: bool,
    /// Whether an operator approved it for them.
    pub infra_approved: bool,
}

/// The views of a list of rows.
pub fn list<T, V: for<'a> From<&'a T>>(items: &[T]) -> Vec<V> {
    items.iter().map(V::from).collect()
}
