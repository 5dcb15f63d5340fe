//! The route table. Each resource has its own file; every handler carries its
//! `#[utoipa::path]`, and [`table`] is the one list both the router and the
//! OpenAPI document are built from, so the two cannot disagree. Rate limits are
//! layered per route family, and `Idempotency-Key` on every state-changing POST.

mod admin;
mod agents;
mod directory;
pub(crate) mod docs;
mod me;
mod meta;
mod pickup;
mod social;
mod tasks;
mod webhooks;

use std::sync::LazyLock;

use axum::{Extension, Router, extract::DefaultBodyLimit, middleware, routing::MethodRouter};
use pinchwork_common::{Error, metrics};
use utoipa::OpenApi;
use utoipa_axum::{
    router::{OpenApiRouter, UtoipaMethodRouter, UtoipaMethodRouterExt},
    routes,
};

use crate::{
    AppState,
    error::ApiError,
    idempotency::{self, Scope},
    negotiate,
    openapi::ApiDoc,
    rate_limit::{self, Class},
};

/// The path prefixes an api node serves outside the document: pages for
/// people, not operations of the API — the Swagger UI (`/docs`), the public
/// web pages (`/human`, their `/assets`) and the operator console (`/admin`).
pub const UNDOCUMENTED: &[&str] = &["/docs", "/human", "/assets", "/admin"];

/// Served by the MCP SDK at this path, described by the Model Context
/// Protocol's own specification rather than by the document.
pub const PROTOCOLS: &[&str] = &["/mcp"];

/// Operations of the document that another service serves (the SSE relay,
/// behind the same load balancer), not an api node.
pub const RELAYED: &[&str] = &["/v1/events"];

/// A route of [`table`]: its handler, its rate-limit family, and whose
/// `Idempotency-Key`s it takes (a POST that changes state).
type Route = (UtoipaMethodRouter<AppState>, Option<Class>, Option<Scope>);

/// The `Idempotency-Key` scopes of [`table`], short.
const AGENT: Option<Scope> = Some(Scope::Agent);
const ADMIN: Option<Scope> = Some(Scope::Admin);
const ADDRESS: Option<Scope> = Some(Scope::Address);

/// Every documented route of the api node with its rate-limit family and,
/// for a POST that changes state, whose `Idempotency-Key`s it takes, in the
/// order the document lists them. The ops routes (`/health`, `/ready`,
/// `/metrics`) are served by the service runtime, like every service's, and
/// documented from `metrics::ops_openapi`.
fn table() -> Vec<Route> {
    vec![
        (routes!(agents::register), Some(Class::Register), ADDRESS),
        (routes!(agents::me), None, None),
        (routes!(agents::update_me), Some(Class::Profile), None),
        (routes!(agents::credits), Some(Class::Read), None),
        (routes!(me::stats), Some(Class::Read), None),
        (routes!(me::trust), Some(Class::Read), None),
        (routes!(me::rotate_key), Some(Class::Profile), None),
        (routes!(webhooks::deliveries), Some(Class::Read), None),
        (routes!(directory::search), Some(Class::Read), None),
        (routes!(directory::profile), Some(Class::Read), None),
        (routes!(tasks::create), Some(Class::Create), AGENT),
        (routes!(tasks::available), Some(Class::Read), None),
        (routes!(tasks::mine), Some(Class::Read), None),
        (routes!(tasks::show), Some(Class::Read), None),
        (routes!(pickup::next), Some(Class::Pickup), AGENT),
        (routes!(pickup::batch), Some(Class::PickupBatch), AGENT),
        (routes!(pickup::specific), Some(Class::Pickup), AGENT),
        (routes!(tasks::deliver), Some(Class::Deliver), AGENT),
        (routes!(tasks::approve), Some(Class::Write), AGENT),
        (routes!(tasks::reject), Some(Class::Write), AGENT),
        (routes!(tasks::cancel), Some(Class::Write), AGENT),
        (routes!(tasks::abandon), Some(Class::Write), AGENT),
        (routes!(social::rate), Some(Class::Write), AGENT),
        (routes!(social::report), Some(Class::Write), AGENT),
        (routes!(social::questions), Some(Class::Read), None),
        (routes!(social::ask), Some(Class::Write), AGENT),
        (routes!(social::answer), Some(Class::Write), AGENT),
        (routes!(social::messages), Some(Class::Read), None),
        (routes!(social::send_message), Some(Class::Write), AGENT),
        (routes!(meta::capabilities), None, None),
        (routes!(admin::grant), Some(Class::Admin), ADMIN),
        (routes!(admin::suspend), Some(Class::Admin), ADMIN),
        (routes!(admin::infra), Some(Class::Admin), ADMIN),
        (routes!(docs::root), None, None),
        (routes!(docs::skill_md), None, None),
        (routes!(docs::terms), None, None),
        (routes!(docs::llms_txt), None, None),
        (routes!(crate::a2a::agent_card), None, None),
        (routes!(crate::a2a::legacy_agent_card), None, None),
        (routes!(crate::a2a::rpc), None, None),
        (routes!(docs::openapi_json), None, None),
    ]
}

/// The OpenAPI document of the API, built once from [`table`] and the ops routes.
pub fn document() -> &'static utoipa::openapi::OpenApi {
    static DOCUMENT: LazyLock<utoipa::openapi::OpenApi> = LazyLock::new(|| {
        let mut doc = ApiDoc::openapi();
        for (route, class, idempotent) in table() {
            let mut part = OpenApiRouter::<AppState>::new()
                .routes(route)
                .into_openapi();
            for item in part.paths.paths.values_mut() {
                for op in [
                    &mut item.get,
                    &mut item.put,
                    &mut item.post,
                    &mut item.delete,
                    &mut item.patch,
                ]
                .into_iter()
                .flatten()
                {
                    crate::openapi::complete(op, class.is_some(), idempotent.is_some());
                }
            }
            doc.merge(part);
        }
        doc.merge(metrics::ops_openapi());
        doc.merge(meta::Relayed::openapi());
        doc
    });
    &DOCUMENT
}

/// `route` with its `Idempotency-Key` handling inside its rate limit (a
/// replay counts against the limit like any call).
fn layered(
    state: &AppState,
    class: Option<Class>,
    idempotent: Option<Scope>,
    mut route: MethodRouter<AppState>,
) -> MethodRouter<AppState> {
    if let Some(scope) = idempotent {
        route = route.route_layer(middleware::from_fn_with_state(
            (state.clone(), scope),
            idempotency::layer,
        ));
    }
    if let Some(class) = class {
        route = route.route_layer(middleware::from_fn_with_state(
            (state.clone(), class),
            rate_limit::enforce,
        ));
    }
    route
}

/// Every HTTP route of an api node (the service runtime adds the ops routes):
/// the document's routes with the A2A endpoint and, at `/mcp`, the MCP tools,
/// which run their operations through the document's routes.
pub fn router(state: AppState) -> Router {
    let rest = rest_router(state.clone());
    let mcp = Router::new()
        .route_service("/mcp", crate::mcp::service(rest.clone()))
        .route_layer(middleware::from_fn_with_state(state, crate::mcp::check_key))
        .layer(middleware::from_fn(metrics::track_http))
        .layer(middleware::from_fn(crate::trace::layer));
    rest.merge(mcp)
}

/// The routes of the document, with content negotiation.
fn rest_router(state: AppState) -> Router {
    let body_timeout = negotiate::BodyTimeout(std::time::Duration::from_secs(
        state.market.config.request_body_timeout_seconds,
    ));
    let api = table()
        .into_iter()
        .fold(OpenApiRouter::new(), |api, (route, class, idempotent)| {
            api.routes(route.map(|r| layered(&state, class, idempotent, r)))
        });
    Router::from(api)
        .merge(crate::openapi::swagger_ui())
        .merge(crate::web::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(negotiate::MAX_BODY_BYTES))
        .layer(Extension(body_timeout))
        .layer(middleware::from_fn(crate::web::browser_pages))
        .layer(middleware::from_fn(crate::input::layer))
        .layer(middleware::from_fn(negotiate::layer))
        .layer(middleware::from_fn(metrics::track_http))
        .layer(middleware::from_fn(crate::trace::layer))
        .with_state(state)
}

/// Reads `fields` as the body of every route that takes one (the fuzz
/// target's way to the lenient field readers); each ends in a value or a 400.
pub(crate) fn read_every_body(fields: &serde_json::Map<String, serde_json::Value>) {
    use crate::fields::read;
    let _ = read::<agents::RegisterRequest>(fields.clone());
    let _ = read::<agents::UpdateMeRequest>(fields.clone());
    let _ = read::<tasks::CreateTaskRequest>(fields.clone());
    let _ = read::<tasks::DeliverRequest>(fields.clone());
    let _ = read::<tasks::ApproveRequest>(fields.clone());
    let _ = read::<tasks::RejectRequest>(fields.clone());
    let _ = read::<pickup::BatchPickupRequest>(fields.clone());
    let _ = read::<social::RateRequest>(fields.clone());
    let _ = read::<social::ReportRequest>(fields.clone());
    let _ = read::<social::QuestionRequest>(fields.clone());
    let _ = read::<social::AnswerRequest>(fields.clone());
    let _ = read::<social::MessageRequest>(fields.clone());
    let _ = read::<admin::GrantRequest>(fields.clone());
    let _ = read::<admin::SuspendRequest>(fields.clone());
    let _ = read::<admin::InfraRequest>(fields.clone());
}

async fn not_found() -> ApiError {
    ApiError(Error::not_found("Not found"))
}

/// A method the path does not serve: 405, with the `Allow` header the router
/// adds (the methods the path does serve).
async fn method_not_allowed() -> negotiate::Reply {
    negotiate::Reply::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        crate::views::ErrorBody {
            error: "Method not allowed".into(),
        },
    )
}
