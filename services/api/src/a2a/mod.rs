//! A2A (Agent2Agent): the agent card and a JSON-RPC 2.0 endpoint at
//! `POST /a2a` that speaks both protocol generations. The `A2A-Version`
//! header picks the generation (absent means 0.3): 1.0 takes `SendMessage`,
//! `GetTask`, … and answers in ProtoJSON; 0.3 takes `message/send`,
//! `tasks/get`, … and answers with `kind`-tagged objects.
//!
//! A message creates a marketplace task (text parts → need, metadata →
//! max_credits, tags, context) through the same market commands, keys, rate
//! limits and errors as the REST routes.

mod card;
mod stream;
mod wire;

use std::time::Duration;

use axum::{
    extract::{FromRequestParts, Request, State},
    http::{HeaderValue, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};
use pinchwork_common::{
    Error,
    db::{agents::Agent, tasks::Role},
    domain::{EventType, validate},
    ids::TaskId,
    market::CreateTaskInput,
};
use serde_json::{Map, Value, json};

use crate::{
    AppState,
    extract::CurrentAgent,
    negotiate::MAX_BODY_BYTES,
    rate_limit::{self, Class},
};
use wire::Version;

/// The agent card (A2A 0.3 and later).
#[utoipa::path(get, path = "/.well-known/agent-card.json", tag = "a2a",
    responses((status = 200, description = "The agent card: public, cacheable", body = Object)))]
pub async fn agent_card(state: State<AppState>) -> Response {
    card::serve(state).await
}

/// The same agent card at the path older A2A clients (and the original
/// Python Pinchwork) use.
#[utoipa::path(get, path = "/.well-known/agent.json", tag = "a2a",
    responses((status = 200, description = "The agent card: public, cacheable", body = Object)))]
pub async fn legacy_agent_card(state: State<AppState>) -> Response {
    card::serve(state).await
}

/// A JSON-RPC error, with the HTTP status it travels with (200 except for
/// authentication and rate limits, which HTTP clients handle on their own).
#[derive(Debug)]
pub struct RpcError {
    code: i64,
    message: String,
    reason: &'static str,
    http: StatusCode,
    retry_after: Option<u64>,
}

impl RpcError {
    fn new(code: i64, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            reason,
            http: StatusCode::OK,
            retry_after: None,
        }
    }
    fn parse(message: impl Into<String>) -> Self {
        Self::new(-32700, "PARSE_ERROR", message)
    }
    fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(-32600, "INVALID_REQUEST", message)
    }
    fn method_not_found(message: impl Into<String>) -> Self {
        Self::new(-32601, "METHOD_NOT_FOUND", message)
    }
    fn invalid_params(message: impl Into<String>) -> Self {
        Self::new(-32602, "INVALID_PARAMS", message)
    }
    fn task_not_found() -> Self {
        Self::new(-32001, "TASK_NOT_FOUND", "Task not found")
    }
    fn unsupported(message: impl Into<String>) -> Self {
        Self::new(-32004, "UNSUPPORTED_OPERATION", message)
    }

    /// A marketplace refusal in A2A terms; `conflict` is what a 409 means
    /// for this method.
    fn market(err: Error, conflict: fn(String) -> Self) -> Self {
        match err {
            Error::NotFound(_) | Error::Forbidden(_) => Self::task_not_found(),
            Error::Conflict(msg) => conflict(msg),
            Error::BadRequest(msg) | Error::PaymentRequired(msg) | Error::PayloadTooLarge(msg) => {
                Self::invalid_params(msg)
            }
            other => Self::from_http(other),
        }
    }

    /// Authentication, rate-limit and server failures: the REST status, and
    /// a JSON-RPC body (-32000, implementation-defined, or -32603).
    fn from_http(err: Error) -> Self {
        let (code, reason, http) = match &err {
            Error::Unauthorized(_) => (-32000, "UNAUTHENTICATED", StatusCode::UNAUTHORIZED),
            Error::Forbidden(_) => (-32000, "PERMISSION_DENIED", StatusCode::FORBIDDEN),
            Error::TooManyRequests { .. } => {
                (-32000, "RATE_LIMITED", StatusCode::TOO_MANY_REQUESTS)
            }
            Error::Unavailable(_) => (-32603, "UNAVAILABLE", StatusCode::SERVICE_UNAVAILABLE),
            Error::Internal(cause) => {
                tracing::error!(error = ?cause, "a2a request failed");
                (-32603, "INTERNAL", StatusCode::OK)
            }
            _ => (-32603, "INTERNAL", StatusCode::OK),
        };
        let retry_after = match &err {
            Error::TooManyRequests {
                retry_after_secs, ..
            } => *retry_after_secs,
            Error::Unavailable(_) => Some(1),
            _ => None,
        };
        Self {
            code,
            message: err.to_string(),
            reason,
            http,
            retry_after,
        }
    }

    fn into_response(self, id: &Value) -> Response {
        let body = json!({
            "jsonrpc": "2.0",
            "id": id,
            "error": {
                "code": self.code,
                "message": self.message,
                "data": [{
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": self.reason,
                    "domain": "a2a-protocol.org",
                }],
            },
        });
        let mut response = (self.http, json_headers(), body.to_string()).into_response();
        if self.http == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<crate::error::ApiError> for RpcError {
    fn from(err: crate::error::ApiError) -> Self {
        Self::from_http(err.0)
    }
}

fn json_headers() -> [(header::HeaderName, &'static str); 1] {
    [(header::CONTENT_TYPE, "application/json")]
}

fn success(id: &Value, result: Value) -> Response {
    let body = json!({ "jsonrpc": "2.0", "id": id, "result": result });
    (StatusCode::OK, json_headers(), body.to_string()).into_response()
}

/// What a method does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Send,
    Stream,
    Get,
    List,
    Cancel,
    Subscribe,
    PushConfig,
    ExtendedCard,
}

const V10_METHODS: &[(&str, Op)] = &[
    ("SendMessage", Op::Send),
    ("SendStreamingMessage", Op::Stream),
    ("GetTask", Op::Get),
    ("ListTasks", Op::List),
    ("CancelTask", Op::Cancel),
    ("SubscribeToTask", Op::Subscribe),
    ("CreateTaskPushNotificationConfig", Op::PushConfig),
    ("GetTaskPushNotificationConfig", Op::PushConfig),
    ("ListTaskPushNotificationConfigs", Op::PushConfig),
    ("DeleteTaskPushNotificationConfig", Op::PushConfig),
    ("GetExtendedAgentCard", Op::ExtendedCard),
];

const V03_METHODS: &[(&str, Op)] = &[
    ("message/send", Op::Send),
    ("message/stream", Op::Stream),
    ("tasks/get", Op::Get),
    ("tasks/cancel", Op::Cancel),
    ("tasks/resubscribe", Op::Subscribe),
    ("tasks/pushNotificationConfig/set", Op::PushConfig),
    ("tasks/pushNotificationConfig/get", Op::PushConfig),
    ("tasks/pushNotificationConfig/list", Op::PushConfig),
    ("tasks/pushNotificationConfig/delete", Op::PushConfig),
    ("agent/getAuthenticatedExtendedCard", Op::ExtendedCard),
];

fn lookup(table: &[(&str, Op)], method: &str) -> Option<Op> {
    table.iter().find(|(m, _)| *m == method).map(|(_, op)| *op)
}

/// The operation of `method` in `version`; a name of the other generation
/// is refused with a hint at the header that selects it.
fn operation(version: Version, method: &str) -> Result<Op, RpcError> {
    let (own, other, hint) = match version {
        Version::V10 => (
            V10_METHODS,
            V03_METHODS,
            "an A2A 0.3 method: send no A2A-Version header, or A2A-Version: 0.3",
        ),
        Version::V03 => (
            V03_METHODS,
            V10_METHODS,
            "an A2A 1.0 method: send the header A2A-Version: 1.0",
        ),
    };
    if let Some(op) = lookup(own, method) {
        return Ok(op);
    }
    if lookup(other, method).is_some() {
        return Err(RpcError::method_not_found(format!(
            "Method not found: {method} is {hint}"
        )));
    }
    Err(RpcError::method_not_found(format!(
        "Method not found: {method}"
    )))
}

/// The request's protocol version: the `A2A-Version` header, else the
/// query parameter of the same name, else 0.3.
fn requested_version(parts: &Parts) -> Result<Version, RpcError> {
    let from_query = parts.uri.query().and_then(|q| {
        q.split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| k.eq_ignore_ascii_case("a2a-version"))
            .map(|(_, v)| v.to_string())
    });
    let raw = match parts.headers.get("a2a-version") {
        Some(value) => value.to_str().unwrap_or("?").to_string(),
        None => from_query.unwrap_or_default(),
    };
    Version::parse(&raw).ok_or_else(|| {
        RpcError::new(
            -32009,
            "VERSION_NOT_SUPPORTED",
            format!("A2A version {raw:?} is not supported: use 1.0 or 0.3"),
        )
    })
}

/// A parsed JSON-RPC request.
struct Call {
    id: Value,
    op: Op,
    version: Version,
    params: Map<String, Value>,
}

/// Checks the envelope: JSON, one request object, `jsonrpc: "2.0"`, a
/// method name and an id that is a string, a number or null.
fn envelope(parts: &Parts, body: &[u8]) -> Result<Call, (Value, RpcError)> {
    let null = Value::Null;
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        (
            null.clone(),
            RpcError::parse(format!("Invalid JSON payload: {e}")),
        )
    })?;
    let Value::Object(mut request) = value else {
        let why = if value.is_array() {
            "Batch requests are not supported"
        } else {
            "The request must be a JSON-RPC 2.0 object"
        };
        return Err((null, RpcError::invalid_request(why)));
    };
    let id = request.remove("id").unwrap_or(Value::Null);
    if !(id.is_string() || id.is_number() || id.is_null()) {
        return Err((
            null,
            RpcError::invalid_request("id must be a string, a number or null"),
        ));
    }
    if request.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err((id, RpcError::invalid_request("jsonrpc must be \"2.0\"")));
    }
    let Some(method) = request.get("method").and_then(Value::as_str) else {
        return Err((id, RpcError::invalid_request("method must be a string")));
    };
    let version = requested_version(parts).map_err(|e| (id.clone(), e))?;
    let op = operation(version, method).map_err(|e| (id.clone(), e))?;
    let params = match request.remove("params") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(params)) => params,
        Some(_) => return Err((id, RpcError::invalid_params("params must be an object"))),
    };
    Ok(Call {
        id,
        op,
        version,
        params,
    })
}

/// A2A JSON-RPC 2.0: `SendMessage`, `SendStreamingMessage`, `GetTask`,
/// `ListTasks`, `CancelTask`, `SubscribeToTask` with `A2A-Version: 1.0`; the
/// 0.3 names (`message/send`, …) without the header. Errors are JSON-RPC
/// error objects; the streaming methods answer `text/event-stream`.
#[utoipa::path(post, path = "/a2a", tag = "a2a",
    request_body(content = Option<serde_json::Value>, content_type = "application/json",
        description = "A JSON-RPC 2.0 request. Any body is answered with a JSON-RPC response: \
        a malformed one (none, not JSON, not a call) with a JSON-RPC error (-32700, -32600)"),
    params(("A2A-Version" = Option<String>, Header, description = "1.0, or 0.3 (the default)")),
    responses((status = 200, description = "A JSON-RPC response (result or error), or an SSE stream of them", body = Object),
              (status = 401, description = "Missing or unknown key (JSON-RPC error -32000)", body = Object),
              (status = 403, description = "Suspended agent (JSON-RPC error -32000)", body = Object),
              (status = 429, description = "Rate limit (JSON-RPC error -32000)", body = Object),
              (status = 503, description = "A dependency is unavailable (JSON-RPC error -32603)", body = Object)),
    security(("bearer" = [])))]
pub async fn rpc(State(state): State<AppState>, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(_) => {
            return RpcError::invalid_request(format!(
                "Request body too large (limit {MAX_BODY_BYTES} bytes)"
            ))
            .into_response(&Value::Null);
        }
    };
    let call = envelope(&parts, &body);
    // The key is checked first: without one, even a malformed call is a 401,
    // answered with the call's id when it has one.
    let agent = match CurrentAgent::from_request_parts(&mut parts, &state).await {
        Ok(CurrentAgent(agent)) => agent,
        Err(err) => {
            let id = match &call {
                Ok(call) => call.id.clone(),
                Err((id, _)) => id.clone(),
            };
            return RpcError::from(err).into_response(&id);
        }
    };
    let call = match call {
        Ok(call) => call,
        Err((id, err)) => return err.into_response(&id),
    };
    let id = call.id.clone();
    match dispatch(&state, agent, call).await {
        Ok(response) => response,
        Err(err) => err.into_response(&id),
    }
}

async fn dispatch(state: &AppState, agent: Agent, call: Call) -> Result<Response, RpcError> {
    let class = match call.op {
        Op::Send | Op::Stream => Some(Class::Create),
        Op::Get | Op::List | Op::Subscribe => Some(Class::Read),
        Op::Cancel | Op::PushConfig | Op::ExtendedCard => None,
    };
    if let Some(class) = class {
        // Counted like the REST routes: per agent for these families.
        rate_limit::check(state, class, &format!("agent:{}", agent.id)).await?;
    }
    let (id, v, params) = (&call.id, call.version, &call.params);
    match call.op {
        Op::Send => send(state, &agent, id, v, params).await,
        Op::Stream => {
            let task = create(state, &agent, v, params, false).await?;
            Ok(stream::open(state, agent.id, task.task, id.clone(), v).await)
        }
        Op::Get => {
            let task = task_of(state, &agent, params).await?;
            Ok(success(id, wire::task(&task, v)))
        }
        Op::List => list(state, &agent, id, params).await,
        Op::Cancel => {
            let task_id = task_id(params)?;
            let task = state
                .market
                .cancel(&agent.id, &task_id)
                .await
                .map_err(|e| {
                    RpcError::market(e, |m| RpcError::new(-32002, "TASK_NOT_CANCELABLE", m))
                })?;
            Ok(success(id, wire::task(&task, v)))
        }
        Op::Subscribe => {
            let task = task_of(state, &agent, params).await?;
            if !task.status.holds_escrow() {
                return Err(RpcError::unsupported(format!(
                    "Task is {}: a finished task has no updates to subscribe to",
                    task.status
                )));
            }
            Ok(stream::open(state, agent.id, task, id.clone(), v).await)
        }
        Op::PushConfig => Err(RpcError::new(
            -32003,
            "PUSH_NOTIFICATION_NOT_SUPPORTED",
            "Push notifications are not supported: register a webhook_url on your profile \
             (PATCH /v1/me) to receive every event",
        )),
        Op::ExtendedCard => Err(RpcError::new(
            -32007,
            "EXTENDED_AGENT_CARD_NOT_CONFIGURED",
            "There is no extended agent card",
        )),
    }
}

/// A task that was just created, and whether the request asked to block.
struct Created {
    task: pinchwork_common::db::tasks::Task,
    blocking: Option<(async_nats::Subscriber, Duration)>,
}

/// `SendMessage` / `message/send`: creates the task; a blocking send waits
/// for its delivery like `wait` does, bounded by the longest wait.
async fn send(
    state: &AppState,
    agent: &Agent,
    id: &Value,
    v: Version,
    params: &Map<String, Value>,
) -> Result<Response, RpcError> {
    let Created { mut task, blocking } = create(state, agent, v, params, true).await?;
    if let Some((deliveries, timeout)) = blocking {
        task = crate::wait::until_delivered(
            &state.market,
            deliveries,
            &task.id,
            timeout,
            &state.shutdown,
        )
        .await
        .map_err(RpcError::from_http)?;
    }
    Ok(success(id, wire::send_result(&task, v)))
}

/// Parses a send's message and creates the task.
async fn create(
    state: &AppState,
    agent: &Agent,
    v: Version,
    params: &Map<String, Value>,
    may_block: bool,
) -> Result<Created, RpcError> {
    let message = params
        .get("message")
        .and_then(Value::as_object)
        .ok_or_else(|| RpcError::invalid_params("params.message must be a Message object"))?;
    if message
        .get("taskId")
        .and_then(Value::as_str)
        .is_some_and(|t| !t.is_empty())
    {
        return Err(RpcError::unsupported(
            "Every message starts a new task; review a delivery with \
             POST /v1/tasks/{id}/approve or /reject (or the MCP tools)",
        ));
    }
    let need = message_text(message)?;
    let mut metadata = Map::new();
    for source in [message.get("metadata"), params.get("metadata")] {
        match source {
            None | Some(Value::Null) => {}
            Some(Value::Object(m)) => metadata.extend(m.clone()),
            Some(_) => return Err(RpcError::invalid_params("metadata must be an object")),
        }
    }
    let input = CreateTaskInput {
        need: Some(need),
        context: meta_string(&metadata, "context")?,
        max_credits: meta_int(&metadata, "max_credits")?,
        tags: meta_tags(&metadata)?,
        deadline_minutes: meta_int(&metadata, "deadline_minutes")?,
        review_timeout_minutes: meta_int(&metadata, "review_timeout_minutes")?,
        claim_timeout_minutes: meta_int(&metadata, "claim_timeout_minutes")?,
        private: match metadata.get("private") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(private)) => *private,
            Some(_) => {
                return Err(RpcError::invalid_params(
                    "metadata.private must be a boolean",
                ));
            }
        },
    };
    let timeout = match blocking_wait(state, v, params, &metadata)? {
        Some(timeout) if may_block => Some(timeout),
        _ => None,
    };
    // Subscribe before the task exists, so no delivery can slip past the wait.
    let deliveries = match timeout {
        Some(_) => Some(
            crate::wait::subscribe(&state.bus, &agent.id, Some(EventType::TaskDelivered))
                .await
                .map_err(RpcError::from_http)?,
        ),
        None => None,
    };
    let task = state
        .market
        .create_task(&agent.id, input)
        .await
        .map_err(|e| RpcError::market(e, RpcError::unsupported))?;
    Ok(Created {
        task,
        blocking: deliveries.zip(timeout),
    })
}

/// How long a send blocks: 1.0 blocks unless `returnImmediately`, 0.3 only
/// with `blocking: true`; `metadata.wait` (seconds) bounds it, else the
/// longest `wait` the deployment allows.
fn blocking_wait(
    state: &AppState,
    v: Version,
    params: &Map<String, Value>,
    metadata: &Map<String, Value>,
) -> Result<Option<Duration>, RpcError> {
    let config = params.get("configuration").and_then(Value::as_object);
    let flag = |name: &str| config.and_then(|c| c.get(name)).and_then(Value::as_bool);
    let blocking = match v {
        Version::V10 => !flag("returnImmediately").unwrap_or(false),
        Version::V03 => flag("blocking").unwrap_or(false),
    };
    if !blocking {
        return Ok(None);
    }
    let longest = state.market.config.max_wait_seconds.clamp(1, 300);
    let secs = match meta_int(metadata, "wait")? {
        Some(secs) => validate::int_range("wait", secs, 1, longest)
            .map_err(|e| RpcError::invalid_params(e.to_string()))?,
        None => longest,
    };
    Ok(Some(Duration::from_secs(secs.unsigned_abs())))
}

/// The text of a message's parts (joined by blank lines); other parts are refused.
fn message_text(message: &Map<String, Value>) -> Result<String, RpcError> {
    let parts = message
        .get("parts")
        .and_then(Value::as_array)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| RpcError::invalid_params("message.parts must be a non-empty array"))?;
    let mut texts = Vec::new();
    for part in parts {
        let kind = part
            .get("kind")
            .or_else(|| part.get("type"))
            .and_then(Value::as_str);
        match (kind, part.get("text")) {
            (None | Some("text"), Some(Value::String(text))) => texts.push(text.as_str()),
            _ => {
                return Err(RpcError::new(
                    -32005,
                    "CONTENT_TYPE_NOT_SUPPORTED",
                    "Only text parts are supported: describe the task in text",
                ));
            }
        }
    }
    Ok(texts.join("\n\n"))
}

fn meta_int(metadata: &Map<String, Value>, key: &str) -> Result<Option<i64>, RpcError> {
    match metadata.get(key) {
        None | Some(Value::Null) => Ok(None),
        // ProtoJSON clients send every metadata number as a double (`15.0`).
        Some(v) => v
            .as_i64()
            .or_else(|| {
                v.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 1e15)
                    .map(|f| f as i64)
            })
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            .map(Some)
            .ok_or_else(|| RpcError::invalid_params(format!("metadata.{key} must be an integer"))),
    }
}

fn meta_string(metadata: &Map<String, Value>, key: &str) -> Result<Option<String>, RpcError> {
    match metadata.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(RpcError::invalid_params(format!(
            "metadata.{key} must be a string"
        ))),
    }
}

/// `metadata.tags`: a list of strings or one comma-separated string.
fn meta_tags(metadata: &Map<String, Value>) -> Result<Vec<String>, RpcError> {
    match metadata.get("tags") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(csv)) => Ok(validate::split_csv(Some(csv))),
        Some(Value::Array(items)) => items
            .iter()
            .map(|t| t.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| RpcError::invalid_params("metadata.tags must be a list of strings")),
        Some(_) => Err(RpcError::invalid_params(
            "metadata.tags must be a list of strings",
        )),
    }
}

/// `params.id`, the task's id.
fn task_id(params: &Map<String, Value>) -> Result<TaskId, RpcError> {
    match params.get("id") {
        Some(Value::String(id)) if !id.trim().is_empty() => Ok(id.trim().into()),
        Some(_) => Err(RpcError::invalid_params(
            "params.id must be a task id string",
        )),
        None => Err(RpcError::invalid_params("params.id is required")),
    }
}

/// The task `params.id` as its poster or worker sees it; TaskNotFound for
/// everyone else.
async fn task_of(
    state: &AppState,
    agent: &Agent,
    params: &Map<String, Value>,
) -> Result<pinchwork_common::db::tasks::Task, RpcError> {
    let task_id = task_id(params)?;
    state
        .market
        .task_for(&agent.id, &task_id)
        .await
        .map_err(|e| RpcError::market(e, RpcError::unsupported))
}

/// `ListTasks` (1.0): the caller's posted tasks, newest first; the page
/// token is the offset.
async fn list(
    state: &AppState,
    agent: &Agent,
    id: &Value,
    params: &Map<String, Value>,
) -> Result<Response, RpcError> {
    let page_size = meta_int(params, "pageSize")?.unwrap_or(50);
    if !(1..=100).contains(&page_size) {
        return Err(RpcError::invalid_params(
            "pageSize must be between 1 and 100",
        ));
    }
    let offset = match params.get("pageToken").and_then(Value::as_str) {
        None | Some("") => 0,
        Some(token) => token
            .parse::<i64>()
            .ok()
            .filter(|o| *o >= 0)
            .ok_or_else(|| RpcError::invalid_params("pageToken is not one this server issued"))?,
    };
    let status = match params.get("status").and_then(Value::as_str) {
        None | Some("" | "TASK_STATE_UNSPECIFIED") => None,
        Some(s) => Some(wire::status_of_state(s).ok_or_else(|| {
            RpcError::invalid_params(format!("status {s} is not a state of this agent's tasks"))
        })?),
    };
    let (tasks, total) = state
        .market
        .mine(agent, Role::Poster, status, page_size, offset)
        .await
        .map_err(RpcError::from_http)?;
    let next = offset + tasks.len() as i64;
    let next_token = if next < total {
        next.to_string()
    } else {
        String::new()
    };
    Ok(success(
        id,
        json!({
            "tasks": tasks.iter().map(|t| wire::task(t, Version::V10)).collect::<Vec<_>>(),
            "nextPageToken": next_token,
            "pageSize": page_size,
            "totalSize": total,
        }),
    ))
}

impl From<Error> for RpcError {
    fn from(err: Error) -> Self {
        Self::from_http(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_generation_has_its_own_method_names() {
        assert_eq!(operation(Version::V10, "SendMessage").unwrap(), Op::Send);
        assert_eq!(operation(Version::V03, "message/send").unwrap(), Op::Send);
        assert_eq!(
            operation(Version::V03, "tasks/resubscribe").unwrap(),
            Op::Subscribe
        );
        let crossed = operation(Version::V03, "GetTask").unwrap_err();
        assert_eq!(crossed.code, -32601);
        assert!(
            crossed.message.contains("A2A-Version: 1.0"),
            "{}",
            crossed.message
        );
        assert_eq!(operation(Version::V10, "nope").unwrap_err().code, -32601);
    }

    #[test]
    fn text_parts_of_both_generations_make_the_need() {
        let message = json!({ "parts": [{ "kind": "text", "text": "a" }, { "text": "b" }] });
        let text = message_text(message.as_object().unwrap()).unwrap();
        assert_eq!(text, "a\n\nb");
        let file = json!({ "parts": [{ "kind": "file", "file": {} }] });
        assert_eq!(
            message_text(file.as_object().unwrap()).unwrap_err().code,
            -32005
        );
        let empty = json!({ "parts": [] });
        assert_eq!(
            message_text(empty.as_object().unwrap()).unwrap_err().code,
            -32602
        );
    }
}
