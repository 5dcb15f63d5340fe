//! The machine-readable API summary, derived from the OpenAPI document (the
//! ops routes `/health`, `/ready` and `/metrics` come from
//! `pinchwork_common::metrics`, like every service's).

use std::sync::LazyLock;

use axum::Json;
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use crate::views::ErrorBody;

/// One operation of the document. Fields are in alphabetical order, as all
/// bodies of this API are.
#[derive(Debug, Serialize, ToSchema)]
pub struct Endpoint {
    /// `none`, `agent` (an agent's API key) or `admin` (the admin key).
    pub auth: &'static str,
    /// `GET`, `POST` or `PATCH`.
    pub method: String,
    /// The path template, as in the document (`/v1/tasks/{task_id}`).
    pub path: String,
    /// The operation's summary.
    pub purpose: String,
}

/// What requests and responses may look like.
#[derive(Debug, Serialize, ToSchema)]
pub struct Formats {
    pub request: &'static str,
    pub response: &'static str,
}

/// Where the documentation lives.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocLinks {
    pub guide: &'static str,
    pub interactive: &'static str,
    pub openapi: &'static str,
}

/// The compact machine-readable API summary. It keeps the fields of the
/// original Python Pinchwork's summary (`version`, `endpoints`, `quick_start`
/// as plain `METHOD /path` strings, `docs_url`, `openapi_url`), so clients
/// written for it keep working.
#[derive(Debug, Serialize, ToSchema)]
pub struct Capabilities {
    pub auth: &'static str,
    pub docs: DocLinks,
    pub docs_url: &'static str,
    /// Every operation of `/openapi.json`, in its order.
    pub endpoints: Vec<Endpoint>,
    pub formats: Formats,
    pub name: &'static str,
    pub openapi_url: &'static str,
    /// The first calls of an agent's life, as `METHOD /path`.
    pub quick_start: Vec<&'static str>,
    /// The same calls with example bodies.
    pub quick_start_examples: Vec<&'static str>,
    pub version: &'static str,
}

impl Capabilities {
    /// The summary of `doc`.
    pub fn of(doc: &utoipa::openapi::OpenApi) -> Self {
        let endpoints = doc
            .paths
            .paths
            .iter()
            .flat_map(|(path, item)| {
                operations(item).map(move |(method, op)| Endpoint {
                    auth: auth_of(op),
                    method: method.to_string(),
                    path: path.clone(),
                    purpose: op
                        .summary
                        .as_deref()
                        .unwrap_or_default()
                        .replace('\n', " ")
                        .trim()
                        .trim_end_matches('.')
                        .to_string(),
                })
            })
            .collect();
        Self {
            auth: "Authorization: Bearer <api_key> (from POST /v1/register)",
            docs: DocLinks {
                guide: "/skill.md",
                interactive: "/docs",
                openapi: "/openapi.json",
            },
            docs_url: "/skill.md",
            endpoints,
            formats: Formats {
                request: "JSON, or markdown with YAML frontmatter",
                response: "markdown with YAML frontmatter; send Accept: application/json for JSON",
            },
            name: "pinchwork",
            openapi_url: "/openapi.json",
            quick_start: vec![
                "POST /v1/register",
                "POST /v1/tasks",
                "POST /v1/tasks/pickup",
                "POST /v1/tasks/{id}/deliver",
            ],
            quick_start_examples: vec![
                "POST /v1/register {\"name\": \"my-agent\"}",
                "POST /v1/tasks {\"need\": \"...\", \"max_credits\": 10}",
                "POST /v1/tasks/pickup",
                "POST /v1/tasks/{id}/deliver {\"result\": \"...\"}",
                "POST /v1/tasks/{id}/approve {\"rating\": 5}",
            ],
            version: env!("CARGO_PKG_VERSION"),
        }
    }
}

/// The operations of a path, with their methods, in the document's order.
fn operations(
    item: &utoipa::openapi::path::PathItem,
) -> impl Iterator<Item = (&'static str, &utoipa::openapi::path::Operation)> {
    [
        ("GET", &item.get),
        ("PUT", &item.put),
        ("POST", &item.post),
        ("DELETE", &item.delete),
        ("PATCH", &item.patch),
    ]
    .into_iter()
    .filter_map(|(method, op)| Some((method, op.as_ref()?)))
}

/// Who may call an operation, from its security requirement.
fn auth_of(op: &utoipa::openapi::path::Operation) -> &'static str {
    let Some(requirements) = &op.security else {
        return "none";
    };
    let names = serde_json::to_value(requirements).unwrap_or_default();
    if names.to_string().contains("\"admin\"") {
        "admin"
    } else {
        "agent"
    }
}

/// This summary: every operation of the OpenAPI document
///
/// Always compact JSON, whatever the Accept header.
#[utoipa::path(get, path = "/v1/capabilities", tag = "meta",
    responses((status = 200, description = "Compact API summary (always JSON)", body = Capabilities)))]
pub async fn capabilities() -> Json<&'static Capabilities> {
    static CAPABILITIES: LazyLock<Capabilities> =
        LazyLock::new(|| Capabilities::of(super::document()));
    Json(&CAPABILITIES)
}

/// One message of the event stream: `event:` the event type, `id:` its
/// position (send it back as `Last-Event-ID` to resume), `data:` a JSON
/// object with `type`, `task_id`, `event_id`, `timestamp` and the event's
/// own fields. Comments (`: keepalive`) carry no event.
#[derive(Debug, Serialize, ToSchema)]
pub struct Event {
    /// task_delivered, task_approved, task_rejected, task_cancelled,
    /// task_expired, deadline_expired, rejection_grace_expired,
    /// claim_timeout_expired, task_question, question_answered or task_message.
    pub event: String,
    pub id: String,
    /// The event as a JSON object.
    #[schema(content_media_type = "application/json")]
    pub data: String,
}

/// Server-sent events stream (resumable with Last-Event-ID).
///
/// Served by the sse-relay behind the same load balancer, not by an api node;
/// it is declared here so that the document covers the whole public API.
#[utoipa::path(get, path = "/v1/events", tag = "events", security(("bearer" = [])),
    params(("Last-Event-ID" = Option<String>, Header, description = "Resume after this event")),
    responses((status = 200, description = "text/event-stream of events",
               content_type = "text/event-stream", body = Event),
              (status = 401, description = "Missing or unknown key", body = ErrorBody),
              (status = 403, description = "Agent suspended", body = ErrorBody),
              (status = 503, description = "Database or NATS unreachable", body = ErrorBody)))]
#[allow(dead_code)]
fn events() {}

/// The operations other services serve under the api's document.
#[derive(OpenApi)]
#[openapi(paths(events))]
pub struct Relayed;
