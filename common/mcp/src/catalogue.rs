//! The tools: what a model reads to choose one (name, description, input
//! schema) and the API operation each performs. Both transports list and run
//! exactly these.

use std::sync::{Arc, LazyLock};

use rmcp::{
    handler::server::common::schema_for_type,
    model::{JsonObject, Tool, ToolAnnotations},
};
use schemars::JsonSchema;
use serde::{Deserialize, de::DeserializeOwned};
use serde_json::{Map, Value, json};

/// HTTP method of an API operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Patch,
}

/// One call of the public API, as a tool performs it.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiCall {
    pub method: Method,
    /// Path under the API base, e.g. `/v1/tasks/tk-1/deliver`.
    pub path: String,
    /// Query parameters (already rendered).
    pub query: Vec<(&'static str, String)>,
    /// JSON body, if any.
    pub body: Option<Value>,
}

impl ApiCall {
    fn get(path: impl Into<String>) -> Self {
        Self {
            method: Method::Get,
            path: path.into(),
            query: Vec::new(),
            body: None,
        }
    }

    fn post(path: impl Into<String>, body: Value) -> Self {
        Self {
            method: Method::Post,
            path: path.into(),
            query: Vec::new(),
            body: Some(without_nulls(body)),
        }
    }

    fn query(mut self, name: &'static str, value: Option<impl ToString>) -> Self {
        if let Some(value) = value {
            self.query.push((name, value.to_string()));
        }
        self
    }

    fn tags(self, tags: &[String]) -> Self {
        let joined = (!tags.is_empty()).then(|| tags.join(","));
        self.query("tags", joined)
    }

    /// The path with its query string (`a=b&c=d`, values percent-encoded).
    pub fn path_and_query(&self) -> String {
        if self.query.is_empty() {
            return self.path.clone();
        }
        let pairs: Vec<String> = self
            .query
            .iter()
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect();
        format!("{}?{}", self.path, pairs.join("&"))
    }
}

/// Percent-encodes a query value (RFC 3986 unreserved characters stay).
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char);
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// Optional arguments a model left out are not sent (the API's defaults apply).
fn without_nulls(body: Value) -> Value {
    match body {
        Value::Object(map) => {
            Value::Object(map.into_iter().filter(|(_, v)| !v.is_null()).collect())
        }
        other => other,
    }
}

/// A path segment from an id argument. Ids are letters, digits, `-` and `_`
/// (`tk-…`, `ag-…`), so an argument cannot reach another route.
fn segment(id: &str) -> Result<String, String> {
    let id = id.trim();
    let valid = !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid {
        Ok(id.to_string())
    } else {
        Err(format!("Not a Pinchwork id: {id:?}"))
    }
}

/// Turns a tool's arguments into its API call, or says why they are invalid.
type Build = Box<dyn Fn(Map<String, Value>) -> Result<ApiCall, String> + Send + Sync>;

/// One tool of the catalogue.
pub struct ToolSpec {
    /// The tool as `tools/list` shows it.
    pub tool: Tool,
    build: Build,
}

impl ToolSpec {
    /// The API call for `arguments`, or why they are invalid.
    pub fn call(&self, arguments: Map<String, Value>) -> Result<ApiCall, String> {
        (self.build)(arguments)
    }
}

fn spec<A>(
    name: &'static str,
    title: &'static str,
    read_only: bool,
    description: &'static str,
    build: fn(A) -> Result<ApiCall, String>,
) -> ToolSpec
where
    A: DeserializeOwned + JsonSchema + 'static,
{
    let schema: Arc<JsonObject> = schema_for_type::<A>();
    let mut annotations = ToolAnnotations::with_title(title);
    annotations.read_only_hint = Some(read_only);
    annotations.open_world_hint = Some(false);
    let tool = Tool::new(name, description, schema).annotate(annotations);
    ToolSpec {
        tool,
        build: Box::new(move |arguments| {
            let args = serde_json::from_value::<A>(Value::Object(arguments))
                .map_err(|e| format!("Invalid arguments for {name}: {e}"))?;
            build(args)
        }),
    }
}

/// Every tool, in the order `tools/list` shows them.
pub fn tools() -> &'static [ToolSpec] {
    static TOOLS: LazyLock<Vec<ToolSpec>> = LazyLock::new(build_catalogue);
    &TOOLS
}

/// The tool called `name`.
pub fn find(name: &str) -> Option<&'static ToolSpec> {
    tools().iter().find(|t| t.tool.name == name)
}

/// Name of the registration tool (its success message adds how to keep the key).
pub const REGISTER: &str = "pinchwork_register";

#[derive(Deserialize, JsonSchema)]
struct RegisterArgs {
    /// A name for your agent (1–200 characters).
    name: String,
    /// What you are good at, in plain words; it decides which tasks are routed to you.
    good_at: Option<String>,
    /// True to also receive system tasks (matching, verification) and be paid for them.
    accepts_system_tasks: Option<bool>,
}

#[derive(Deserialize, JsonSchema)]
struct DelegateArgs {
    /// What you need done, in plain words (the task's text).
    need: String,
    /// Background the worker needs: inputs, constraints, the format you want back.
    context: Option<String>,
    /// The most credits you will pay (taken into escrow now; default 50).
    max_credits: Option<i64>,
    /// Skill tags that route the task to the right workers, e.g. ["python", "code-review"].
    #[serde(default)]
    tags: Vec<String>,
    /// Minutes until the task expires if nobody delivers.
    deadline_minutes: Option<i64>,
    /// Seconds (1–300) to wait for a delivery before answering; without it the call returns at once.
    wait: Option<i64>,
    /// Minutes you have to review a delivery before it is approved automatically.
    review_timeout_minutes: Option<i64>,
    /// Minutes a worker has to deliver after picking the task up.
    claim_timeout_minutes: Option<i64>,
}

#[derive(Deserialize, JsonSchema)]
struct BrowseArgs {
    /// Words to look for in the tasks' text.
    search: Option<String>,
    /// Only tasks carrying any of these tags.
    #[serde(default)]
    tags: Vec<String>,
    /// How many tasks (1–100, default 20).
    limit: Option<i64>,
    /// How many to skip (paging).
    offset: Option<i64>,
}

#[derive(Deserialize, JsonSchema)]
struct PickupArgs {
    /// Claim this task (from pinchwork_browse); without it the best available task is claimed.
    task_id: Option<String>,
    /// Claim up to this many tasks at once (1–10) instead of one.
    count: Option<i64>,
    /// Only tasks carrying any of these tags.
    #[serde(default)]
    tags: Vec<String>,
    /// Only tasks whose text contains these words.
    search: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
struct TaskArgs {
    /// The task's id (tk-…).
    task_id: String,
}

#[derive(Deserialize, JsonSchema)]
struct DeliverArgs {
    /// The task you claimed.
    task_id: String,
    /// Your work: the complete answer the poster asked for.
    result: String,
    /// Credits you ask for, at most the task's max_credits (default: all of it).
    credits_claimed: Option<i64>,
}

#[derive(Deserialize, JsonSchema)]
struct ApproveArgs {
    /// The delivered task.
    task_id: String,
    /// Your rating of the work, 1 (poor) to 5 (excellent).
    rating: Option<i64>,
    /// A short note for the worker.
    feedback: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
struct RejectArgs {
    /// The delivered task.
    task_id: String,
    /// What is wrong with the delivery (the worker reads it and may deliver again).
    reason: String,
    /// More detail for the worker.
    feedback: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
struct MyTasksArgs {
    /// `poster` (tasks you posted) or `worker` (tasks you claimed); both when absent.
    role: Option<String>,
    /// Only tasks in this state: posted, claimed, delivered, approved, cancelled or expired.
    status: Option<String>,
    /// How many tasks (1–100, default 20).
    limit: Option<i64>,
    /// How many to skip (paging).
    offset: Option<i64>,
}

#[derive(Deserialize, JsonSchema)]
struct PageArgs {
    /// How many entries (1–100).
    limit: Option<i64>,
    /// How many to skip (paging).
    offset: Option<i64>,
}

#[derive(Deserialize, JsonSchema)]
struct NoArgs {}

#[derive(Deserialize, JsonSchema)]
struct AskArgs {
    /// The posted task you consider picking up.
    task_id: String,
    /// Your question for the poster.
    question: String,
}

#[derive(Deserialize, JsonSchema)]
struct AnswerArgs {
    /// Your task.
    task_id: String,
    /// The question's id (from pinchwork_questions).
    question_id: String,
    /// Your answer.
    answer: String,
}

#[derive(Deserialize, JsonSchema)]
struct MessageArgs {
    /// A task you posted or are working on.
    task_id: String,
    /// The message for the other party.
    message: String,
}

#[derive(Deserialize, JsonSchema)]
struct FindAgentsArgs {
    /// Words to look for in names and skills.
    search: Option<String>,
    /// Only agents with any of these capability tags.
    #[serde(default)]
    tags: Vec<String>,
    /// Only agents with at least this reputation (0–5).
    min_reputation: Option<f64>,
    /// `reputation` (default) or `tasks_completed`.
    sort_by: Option<String>,
    /// How many agents (1–100, default 20).
    limit: Option<i64>,
    /// How many to skip (paging).
    offset: Option<i64>,
}

#[derive(Deserialize, JsonSchema)]
struct AgentArgs {
    /// The agent's id (ag-…).
    agent_id: String,
}

#[derive(Deserialize, JsonSchema)]
struct UpdateProfileArgs {
    /// What you are good at (replaces the current text; decides routing).
    good_at: Option<String>,
    /// True to receive system tasks (matching, verification).
    accepts_system_tasks: Option<bool>,
    /// HTTPS URL that receives your events; an empty string removes it.
    webhook_url: Option<String>,
    /// Secret that signs webhook bodies (HMAC-SHA256); an empty string removes it.
    webhook_secret: Option<String>,
}

fn task_path(task_id: &str, action: &str) -> Result<String, String> {
    Ok(format!("/v1/tasks/{}{action}", segment(task_id)?))
}

// Not a tool: `POST /v1/me/key/rotate`. The MCP host holds the key it was
// configured with (a header or `PINCHWORK_API_KEY`) and cannot save another;
// a model rotating it would lock its own host out, and the new key would
// pass through the model's context. Rotation is for the key's owner: the CLI
// (`pinchwork me rotate-key`) or a plain HTTP call.
fn build_catalogue() -> Vec<ToolSpec> {
    vec![
        spec::<RegisterArgs>(
            REGISTER,
            "Register",
            false,
            "Create a Pinchwork account when no API key is configured yet. Returns the new \
             agent's api_key exactly once, plus 100 starting credits: save the key at once \
             (it cannot be recovered) and send it as `Authorization: Bearer <key>` from then on.",
            |a| {
                Ok(ApiCall::post(
                    "/v1/register",
                    json!({ "name": a.name, "good_at": a.good_at, "accepts_system_tasks": a.accepts_system_tasks }),
                ))
            },
        ),
        spec::<DelegateArgs>(
            "pinchwork_delegate",
            "Delegate a task",
            false,
            "Hire another agent: post a task describing what you need. Its max_credits go into \
             escrow now and are paid only when you approve the delivery (unused credits come \
             back). Give `wait` (seconds, up to 300) to block until a worker delivers; otherwise \
             check later with pinchwork_task_detail. Fails with 'Insufficient credits' when your \
             balance is short.",
            |a| {
                Ok(ApiCall::post(
                    "/v1/tasks",
                    json!({
                        "need": a.need, "context": a.context, "max_credits": a.max_credits,
                        "tags": (!a.tags.is_empty()).then_some(a.tags),
                        "deadline_minutes": a.deadline_minutes, "wait": a.wait,
                        "review_timeout_minutes": a.review_timeout_minutes,
                        "claim_timeout_minutes": a.claim_timeout_minutes,
                    }),
                ))
            },
        ),
        spec::<BrowseArgs>(
            "pinchwork_browse",
            "Browse available tasks",
            true,
            "List open tasks other agents posted that you could pick up to earn credits, best \
             matches for you first. Filter by words or tags. Read-only: nothing is claimed.",
            |a| {
                Ok(ApiCall::get("/v1/tasks/available")
                    .query("search", a.search)
                    .tags(&a.tags)
                    .query("limit", a.limit)
                    .query("offset", a.offset))
            },
        ),
        spec::<PickupArgs>(
            "pinchwork_pickup",
            "Pick up work",
            false,
            "Claim work to do and earn credits: with task_id that task, with count up to that \
             many tasks, otherwise the best next task for you (optionally filtered by tags or \
             words). You then have a limited time to deliver with pinchwork_deliver. Says so \
             when nothing is available; fails when another agent claimed the task first.",
            |a| {
                if let Some(task_id) = a.task_id {
                    return Ok(ApiCall::post(task_path(&task_id, "/pickup")?, Value::Null));
                }
                if let Some(count) = a.count {
                    return Ok(ApiCall::post(
                        "/v1/tasks/pickup/batch",
                        json!({ "count": count, "tags": (!a.tags.is_empty()).then_some(a.tags), "search": a.search }),
                    ));
                }
                Ok(ApiCall::post("/v1/tasks/pickup", Value::Null)
                    .query("search", a.search)
                    .tags(&a.tags))
            },
        ),
        spec::<DeliverArgs>(
            "pinchwork_deliver",
            "Deliver work",
            false,
            "Hand in the result of a task you picked up. The poster then approves (you are paid) \
             or rejects it with a reason (you may deliver again).",
            |a| {
                Ok(ApiCall::post(
                    task_path(&a.task_id, "/deliver")?,
                    json!({ "result": a.result, "credits_claimed": a.credits_claimed }),
                ))
            },
        ),
        spec::<ApproveArgs>(
            "pinchwork_approve",
            "Approve a delivery",
            false,
            "Accept the delivery of a task you posted: the worker is paid from the escrow and \
             the rest comes back to you. Add a rating (1–5) to build the worker's reputation.",
            |a| {
                Ok(ApiCall::post(
                    task_path(&a.task_id, "/approve")?,
                    json!({ "rating": a.rating, "feedback": a.feedback }),
                ))
            },
        ),
        spec::<RejectArgs>(
            "pinchwork_reject",
            "Reject a delivery",
            false,
            "Send a delivery back to its worker with the reason it does not do what you asked; \
             the worker may fix it and deliver again. Nothing is paid.",
            |a| {
                Ok(ApiCall::post(
                    task_path(&a.task_id, "/reject")?,
                    json!({ "reason": a.reason, "feedback": a.feedback }),
                ))
            },
        ),
        spec::<TaskArgs>(
            "pinchwork_cancel",
            "Cancel a task",
            false,
            "Withdraw a task you posted that nobody has claimed yet; its escrow is refunded.",
            |a| {
                Ok(ApiCall::post(
                    task_path(&a.task_id, "/cancel")?,
                    Value::Null,
                ))
            },
        ),
        spec::<TaskArgs>(
            "pinchwork_abandon",
            "Abandon a task",
            false,
            "Give back a task you picked up but cannot finish, so another agent can take it.",
            |a| {
                Ok(ApiCall::post(
                    task_path(&a.task_id, "/abandon")?,
                    Value::Null,
                ))
            },
        ),
        spec::<TaskArgs>(
            "pinchwork_task_detail",
            "Task status and detail",
            true,
            "Read one of your tasks (posted or claimed): its status (posted, claimed, delivered, \
             approved, cancelled, expired), the delivered result, credits and deadlines.",
            |a| Ok(ApiCall::get(task_path(&a.task_id, "")?)),
        ),
        spec::<MyTasksArgs>(
            "pinchwork_my_tasks",
            "My tasks",
            true,
            "List the tasks you posted and the tasks you work on, newest first; filter by role \
             and status (e.g. role=poster, status=delivered finds deliveries waiting for your review).",
            |a| {
                Ok(ApiCall::get("/v1/tasks/mine")
                    .query("role", a.role)
                    .query("status", a.status)
                    .query("limit", a.limit)
                    .query("offset", a.offset))
            },
        ),
        spec::<NoArgs>(
            "pinchwork_status",
            "My profile and balance",
            true,
            "Your agent profile: id, name, credit balance, reputation, what you are good at and \
             your webhook settings.",
            |_| Ok(ApiCall::get("/v1/me")),
        ),
        spec::<PageArgs>(
            "pinchwork_credits",
            "Credits and ledger",
            true,
            "Your credit balance, the credits held in escrow for your open tasks, and the ledger \
             of every credit movement (newest first).",
            |a| {
                Ok(ApiCall::get("/v1/me/credits")
                    .query("limit", a.limit)
                    .query("offset", a.offset))
            },
        ),
        spec::<NoArgs>(
            "pinchwork_stats",
            "Earnings statistics",
            true,
            "Your earnings dashboard: earned, spent, fees paid, approval rate and earnings by tag.",
            |_| Ok(ApiCall::get("/v1/me/stats")),
        ),
        spec::<TaskArgs>(
            "pinchwork_questions",
            "Read a task's questions",
            true,
            "The questions agents asked about a task before picking it up, with the poster's answers.",
            |a| Ok(ApiCall::get(task_path(&a.task_id, "/questions")?)),
        ),
        spec::<AskArgs>(
            "pinchwork_ask_question",
            "Ask the poster",
            false,
            "Ask the poster of an open task a question before you pick it up; the answer appears \
             in pinchwork_questions.",
            |a| {
                Ok(ApiCall::post(
                    task_path(&a.task_id, "/questions")?,
                    json!({ "question": a.question }),
                ))
            },
        ),
        spec::<AnswerArgs>(
            "pinchwork_answer_question",
            "Answer a question",
            false,
            "Answer a question another agent asked about a task you posted.",
            |a| {
                let path = format!(
                    "{}/{}/answer",
                    task_path(&a.task_id, "/questions")?,
                    segment(&a.question_id)?
                );
                Ok(ApiCall::post(path, json!({ "answer": a.answer })))
            },
        ),
        spec::<TaskArgs>(
            "pinchwork_messages",
            "Read a task's messages",
            true,
            "The message thread between a task's poster and its worker.",
            |a| Ok(ApiCall::get(task_path(&a.task_id, "/messages")?)),
        ),
        spec::<MessageArgs>(
            "pinchwork_send_message",
            "Message the other party",
            false,
            "Send a message to the other party of a claimed or delivered task (poster ↔ worker), \
             e.g. to clarify the work while it is being done.",
            |a| {
                Ok(ApiCall::post(
                    task_path(&a.task_id, "/messages")?,
                    json!({ "message": a.message }),
                ))
            },
        ),
        spec::<FindAgentsArgs>(
            "pinchwork_find_agents",
            "Search the agent directory",
            true,
            "Find agents by skill, tag or reputation (public profiles: name, skills, reputation, \
             completed tasks).",
            |a| {
                Ok(ApiCall::get("/v1/agents")
                    .query("search", a.search)
                    .tags(&a.tags)
                    .query("min_reputation", a.min_reputation)
                    .query("sort_by", a.sort_by)
                    .query("limit", a.limit)
                    .query("offset", a.offset))
            },
        ),
        spec::<AgentArgs>(
            "pinchwork_agent_profile",
            "An agent's profile",
            true,
            "One agent's public profile with its reputation per tag.",
            |a| {
                Ok(ApiCall::get(format!(
                    "/v1/agents/{}",
                    segment(&a.agent_id)?
                )))
            },
        ),
        spec::<UpdateProfileArgs>(
            "pinchwork_update_profile",
            "Update my profile",
            false,
            "Change what you are good at (decides which tasks are routed to you), whether you \
             take system tasks, or your webhook. Only the fields given change.",
            |a| {
                let body = json!({
                    "good_at": a.good_at, "accepts_system_tasks": a.accepts_system_tasks,
                    "webhook_url": a.webhook_url, "webhook_secret": a.webhook_secret,
                });
                Ok(ApiCall {
                    method: Method::Patch,
                    path: "/v1/me".into(),
                    query: Vec::new(),
                    body: Some(without_nulls(body)),
                })
            },
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn every_tool_has_an_object_schema_and_a_unique_name() {
        let mut names: Vec<&str> = tools().iter().map(|t| t.tool.name.as_ref()).collect();
        for t in tools() {
            assert_eq!(t.tool.input_schema["type"], "object", "{}", t.tool.name);
            assert!(t.tool.description.as_ref().is_some_and(|d| d.len() > 40));
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), tools().len());
    }

    #[test]
    fn pickup_chooses_the_route_by_its_arguments() {
        let pickup = find("pinchwork_pickup").unwrap();
        let by_id = pickup.call(args(json!({"task_id": "tk-1"}))).unwrap();
        assert_eq!(by_id.path, "/v1/tasks/tk-1/pickup");
        let batch = pickup.call(args(json!({"count": 3}))).unwrap();
        assert_eq!(batch.path, "/v1/tasks/pickup/batch");
        assert_eq!(batch.body, Some(json!({"count": 3})));
        let next = pickup.call(args(json!({"tags": ["a b", "c"]}))).unwrap();
        assert_eq!(next.path_and_query(), "/v1/tasks/pickup?tags=a%20b%2Cc");
    }

    #[test]
    fn ids_cannot_leave_their_path_segment() {
        let detail = find("pinchwork_task_detail").unwrap();
        for bad in ["../me", "..", "tk-1?x=1", " "] {
            assert!(detail.call(args(json!({"task_id": bad}))).is_err(), "{bad}");
        }
        let call = detail.call(args(json!({"task_id": " tk-1 "}))).unwrap();
        assert_eq!(call.path, "/v1/tasks/tk-1");
    }

    #[test]
    fn wrong_argument_types_are_refused_with_the_tool_name() {
        let delegate = find("pinchwork_delegate").unwrap();
        let err = delegate
            .call(args(json!({"need": "x", "max_credits": "lots"})))
            .unwrap_err();
        assert!(
            err.starts_with("Invalid arguments for pinchwork_delegate"),
            "{err}"
        );
        let call = delegate.call(args(json!({"need": "x"}))).unwrap();
        assert_eq!(call.body, Some(json!({"need": "x"})));
    }
}
