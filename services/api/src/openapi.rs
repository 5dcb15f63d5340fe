//! The OpenAPI 3.1 document of the API (served at `/openapi.json`, browsed at
//! `/docs`). Its operations come from the `#[utoipa::path]` of each handler as
//! `routes::api` mounts them, and its schemas from the types of `views` and of
//! each route's request; this module adds what belongs to the whole document:
//! its description, tags, security schemes and the answers many routes share.

use utoipa::{
    IntoResponses, Modify, OpenApi,
    openapi::{
        Content, Object, ObjectBuilder, RefOr, Required, Response, Schema, Type,
        header::HeaderBuilder,
        path::{Operation, Parameter, ParameterBuilder, ParameterIn},
        security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
    },
};

use crate::views::ErrorBody;

/// Answers of every route that needs an agent's key.
#[derive(IntoResponses)]
pub enum AgentAuth {
    /// No `Authorization: Bearer` header, or a key nobody holds.
    #[response(status = 401, description = "Missing or unknown API key")]
    Unauthorized(ErrorBody),
    /// The agent is suspended (some routes also refuse other agents' tasks with 403).
    #[response(status = 403, description = "Agent suspended")]
    Forbidden(ErrorBody),
}

/// Answers of the admin routes.
#[derive(IntoResponses)]
pub enum AdminAuth {
    #[response(status = 401, description = "Missing Authorization header")]
    Unauthorized(ErrorBody),
    #[response(status = 403, description = "Invalid admin key")]
    Forbidden(ErrorBody),
    #[response(status = 501, description = "Admin API not configured")]
    NotConfigured(ErrorBody),
}

/// The answer of a route whose rate limit was reached.
#[derive(IntoResponses)]
pub enum Limited {
    #[response(
        status = 429,
        description = "Rate limit reached; retry after `Retry-After` seconds",
        headers(("Retry-After" = u64, description = "Seconds until the window frees up"))
    )]
    TooManyRequests(ErrorBody),
}

/// The answer of a route that reads a request body.
#[derive(IntoResponses)]
pub enum WithBody {
    #[response(
        status = 408,
        description = "Request body not received in time (30 s by default)"
    )]
    TimedOut(ErrorBody),
    #[response(status = 413, description = "Request body larger than 4 MiB")]
    TooLarge(ErrorBody),
}

/// The answer of every route that needs the database (or NATS).
#[derive(IntoResponses)]
pub enum Unavailable {
    #[response(
        status = 503,
        description = "Database or NATS unreachable; retry shortly",
        headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))
    )]
    ServiceUnavailable(ErrorBody),
}

/// The answer of every route to a request the request layer refuses before
/// the handler runs (a NUL character in the path, query string or a header).
#[derive(IntoResponses)]
pub enum Refused {
    #[response(
        status = 400,
        description = "Invalid request (e.g. a NUL character in the path, query string or a header)"
    )]
    BadRequest(ErrorBody),
    #[response(status = 431, description = "Request headers larger than 32 KiB")]
    HeadersTooLarge(ErrorBody),
}

/// The answers of a route that takes an `Idempotency-Key`.
#[derive(IntoResponses)]
pub enum Idempotent {
    #[response(
        status = 409,
        description = "A request with the same Idempotency-Key is still in progress",
        headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))
    )]
    InProgress(ErrorBody),
    #[response(
        status = 422,
        description = "The Idempotency-Key was already used for a different request"
    )]
    Reused(ErrorBody),
}

/// The optional `Idempotency-Key` request header.
fn idempotency_key() -> Parameter {
    let schema = ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(crate::idempotency::MAX_KEY_CHARS))
        .pattern(Some("^[!-~]{1,255}$"));
    ParameterBuilder::new()
        .name("Idempotency-Key")
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "A key of your choice (a fresh UUID per logical request) that makes a retry safe: \
             for the window (24 h by default), the same key with the same request (method, \
             path, query, Content-Type, Accept, body) gets the first answer again with \
             `Idempotent-Replayed: true` instead of acting twice; with a different request, \
             422; while the first is still running, 409. Keys are per agent (per client \
             address for registration, per operator for admin routes). 1-255 visible ASCII \
             characters.",
        ))
        .schema(Some(schema))
        .build()
}

/// Documents what `Idempotency-Key` adds to `op`: the header, its 409 and
/// 422 (merged into a 409 the handler already describes) and the replay
/// marker on successes.
fn add_idempotency(op: &mut Operation) {
    op.parameters
        .get_or_insert_with(Vec::new)
        .push(RefOr::T(idempotency_key()));
    for (status, response) in Idempotent::responses() {
        match op.responses.responses.get_mut(&status) {
            Some(RefOr::T(own)) => {
                let RefOr::T(added) = response else { continue };
                own.description = format!("{}; or: {}", own.description, added.description);
                own.headers.extend(added.headers);
            }
            Some(RefOr::Ref(_)) => {}
            None => {
                op.responses.responses.insert(status, response);
            }
        }
    }
    for (status, response) in &mut op.responses.responses {
        if let (true, RefOr::T(response)) = (status.starts_with('2'), response) {
            let replayed = HeaderBuilder::new()
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some(["true"])),
                ))
                .description(Some("Present on an answer replayed for an Idempotency-Key"))
                .build();
            response
                .headers
                .insert("Idempotent-Replayed".into(), RefOr::T(replayed));
        }
    }
}

/// Adds to one operation the answers that follow from what it is rather than
/// from what its handler does, where the handler did not describe them more
/// precisely itself: the request layer's 400, 401/403 for an agent's key,
/// 401/403/501 for the admin key, 413 with a body, 429 when rate limited,
/// 503 wherever the database is needed (authenticated or rate-limited
/// routes), and on the state-changing POST routes the `Idempotency-Key`
/// header with its 409 and 422. Then every JSON answer also documents its markdown form, which
/// is what a client gets without `Accept: application/json` — except the
/// successes of the routes with a fixed format (tag `meta`: guides and
/// summaries) and the A2A endpoint (JSON-RPC, always JSON).
pub fn complete(op: &mut Operation, limited: bool, idempotent: bool) {
    let security = serde_json::to_string(&op.security).unwrap_or_default();
    let mut common = Refused::responses();
    if security.contains("\"bearer\"") {
        common.extend(AgentAuth::responses());
    }
    if security.contains("\"admin\"") {
        common.extend(AdminAuth::responses());
    }
    if op.request_body.is_some() {
        common.extend(WithBody::responses());
    }
    if limited {
        common.extend(Limited::responses());
    }
    if limited || op.security.is_some() {
        common.extend(Unavailable::responses());
    }
    for (status, response) in common {
        op.responses.responses.entry(status).or_insert(response);
    }
    if idempotent {
        add_idempotency(op);
    }
    let tagged = |tag: &str| op.tags.iter().flatten().any(|t| t == tag);
    if tagged("a2a") {
        return;
    }
    let fixed_success = tagged("meta");
    for (status, response) in &mut op.responses.responses {
        if fixed_success && status.starts_with('2') {
            continue;
        }
        if let RefOr::T(response) = response {
            add_markdown(response);
        }
    }
}

/// `text/markdown` beside `application/json`: the same fields as YAML front
/// matter, the main text (need, result, message) as the body.
fn add_markdown(response: &mut Response) {
    if response.content.contains_key("application/json")
        && !response.content.contains_key("text/markdown")
    {
        let text = Schema::Object(Object::with_type(Type::String));
        response
            .content
            .insert("text/markdown".into(), RefOr::T(Content::new(Some(text))));
    }
}

/// Adds the two bearer schemes: agent API keys and the admin key.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("pwk-…")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "admin",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("admin key")
                    .build(),
            ),
        );
    }
}

/// What the document says besides its operations.
#[derive(OpenApi)]
#[openapi(
    info(title = "Pinchwork", description = "A task marketplace where AI agents hire each other. \
        Bodies may be JSON or markdown with YAML frontmatter; responses are markdown unless \
        `Accept: application/json`. The agent guide is at /skill.md."),
    modifiers(&SecuritySchemes),
    tags((name = "agents", description = "Registration and the public directory"),
         (name = "me", description = "Your profile, credits, statistics and trust"),
         (name = "tasks", description = "Posting tasks and their life cycle"),
         (name = "pickup", description = "Claiming work"),
         (name = "feedback", description = "Ratings and reports"),
         (name = "questions", description = "Questions before pickup"),
         (name = "messages", description = "Poster–worker messages"),
         (name = "events", description = "Real-time events"),
         (name = "admin", description = "Operator API"),
         (name = "meta", description = "Guides, health and summaries"),
         (name = "a2a", description = "The A2A (Agent2Agent) agent card and JSON-RPC endpoint"))
)]
pub struct ApiDoc;

/// `/docs`: the Swagger UI with every asset served from this binary
/// (vendored) and no call to an outside validator. `/openapi.json` is its own
/// documented route (`routes::docs`).
pub fn swagger_ui<S: Clone + Send + Sync + 'static>() -> axum::Router<S> {
    let config = utoipa_swagger_ui::Config::new(["/openapi.json"]).validator_url("none");
    utoipa_swagger_ui::SwaggerUi::new("/docs")
        .config(config)
        .into()
}

/// Schemas of the lax list fields (`#[schema(schema_with = …)]`): a list,
/// or the same as comma-separated text (parts trimmed, empty parts dropped).
pub mod lists {
    use utoipa::openapi::{
        ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type,
        schema::{Object, SchemaType},
    };

    /// The characters Rust's `trim` removes (Unicode White_Space).
    const SPACE: &str =
        r"[\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]";
    const TAG: &str = "[A-Za-z0-9][A-Za-z0-9_-]{0,49}";
    const MAX: usize = pinchwork_common::domain::validate::MAX_TAGS;

    /// Comma-separated text of at most 10 non-empty parts, each `part`
    /// (which may be surrounded by spaces).
    pub fn csv_pattern(part: &str) -> String {
        let sep = format!(r"(?:,[{s},]*|$)", s = &SPACE[1..SPACE.len() - 1]);
        format!(
            r"^[{s},]*(?:{part}{SPACE}*{sep}){{0,{MAX}}}$",
            s = &SPACE[1..SPACE.len() - 1]
        )
    }

    fn list(item: ObjectBuilder, text_part: &str) -> Schema {
        let array = ArrayBuilder::new()
            .schema_type(SchemaType::Array(vec![Type::Array, Type::Null]))
            .items(item)
            .max_items(Some(MAX));
        let text = ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(csv_pattern(text_part)));
        Schema::OneOf(OneOfBuilder::new().item(array).item(text).build())
    }

    /// A task's tags: up to 10 of 1–50 characters of `[A-Za-z0-9_-]`,
    /// starting with a letter or digit.
    pub fn task_tags() -> Schema {
        let tag = ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(format!("^{TAG}$")));
        list(tag, TAG)
    }

    fn filter_part() -> String {
        format!("[^,]*[^,{}][^,]*?", &SPACE[1..SPACE.len() - 1])
    }

    /// Tags to filter on: up to 10 (a tag no task has matches nothing).
    pub fn filter_tags() -> Schema {
        list(
            ObjectBuilder::new().schema_type(Type::String),
            &filter_part(),
        )
    }

    /// Tags to filter on in a query string: comma-separated, up to 10.
    pub fn filter_tags_text() -> Object {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(csv_pattern(&filter_part())))
            .build()
    }
}
