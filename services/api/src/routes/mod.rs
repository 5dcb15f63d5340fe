//! The route table. Each resource has its own file; rate limits are layered
//! per route family.

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

use axum::{
    Router,
    extract::DefaultBodyLimit,
    middleware,
    routing::{MethodRouter, get, post},
};
use pinchwork_common::{
    Error,
    metrics::{self, NatsProbe},
};

use crate::{
    AppState,
    error::ApiError,
    negotiate,
    rate_limit::{self, Class},
};

fn limited(
    state: &AppState,
    class: Class,
    route: MethodRouter<AppState>,
) -> MethodRouter<AppState> {
    route.route_layer(middleware::from_fn_with_state(
        (state.clone(), class),
        rate_limit::enforce,
    ))
}

/// Every HTTP route of an api node.
pub fn router(state: AppState) -> Router {
    let s = &state;
    let ops = metrics::routes(
        state.market.pool.clone(),
        NatsProbe::Bus(Box::new(state.bus.clone())),
    );
    Router::new()
        .merge(ops)
        .route("/v1/capabilities", get(meta::capabilities))
        .route(
            "/v1/register",
            limited(s, Class::Register, post(agents::register)),
        )
        .route("/v1/me", get(agents::me).patch(agents::update_me))
        .route(
            "/v1/me/credits",
            limited(s, Class::Read, get(agents::credits)),
        )
        .route(
            "/v1/me/webhooks/deliveries",
            limited(s, Class::Read, get(webhooks::deliveries)),
        )
        .route("/v1/tasks", limited(s, Class::Create, post(tasks::create)))
        .route(
            "/v1/tasks/available",
            limited(s, Class::Read, get(tasks::available)),
        )
        .route("/v1/tasks/mine", limited(s, Class::Read, get(tasks::mine)))
        .route(
            "/v1/tasks/pickup",
            limited(s, Class::Pickup, post(pickup::next)),
        )
        .route(
            "/v1/tasks/pickup/batch",
            limited(s, Class::PickupBatch, post(pickup::batch)),
        )
        .route(
            "/v1/tasks/{task_id}",
            limited(s, Class::Read, get(tasks::show)),
        )
        .route("/v1/tasks/{task_id}/pickup", post(pickup::specific))
        .route(
            "/v1/tasks/{task_id}/deliver",
            limited(s, Class::Deliver, post(tasks::deliver)),
        )
        .route("/v1/tasks/{task_id}/approve", post(tasks::approve))
        .route("/v1/tasks/{task_id}/reject", post(tasks::reject))
        .route("/v1/tasks/{task_id}/cancel", post(tasks::cancel))
        .route("/v1/tasks/{task_id}/abandon", post(tasks::abandon))
        .route("/v1/tasks/{task_id}/rate", post(social::rate))
        .route("/v1/tasks/{task_id}/report", post(social::report))
        .route(
            "/v1/tasks/{task_id}/questions",
            get(social::questions).post(social::ask),
        )
        .route(
            "/v1/tasks/{task_id}/questions/{question_id}/answer",
            post(social::answer),
        )
        .route(
            "/v1/tasks/{task_id}/messages",
            get(social::messages).post(social::send_message),
        )
        .route("/v1/me/stats", get(me::stats))
        .route("/v1/me/trust", get(me::trust))
        .route(
            "/v1/agents",
            limited(s, Class::Read, get(directory::search)),
        )
        .route(
            "/v1/agents/{agent_id}",
            limited(s, Class::Read, get(directory::profile)),
        )
        .route("/", get(docs::root))
        .route("/skill.md", get(docs::skill_md))
        .route("/terms", get(docs::terms))
        .merge(crate::openapi::swagger_ui())
        .route(
            "/v1/admin/credits/grant",
            limited(s, Class::Admin, post(admin::grant)),
        )
        .route(
            "/v1/admin/agents/suspend",
            limited(s, Class::Admin, post(admin::suspend)),
        )
        .merge(crate::web::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(negotiate::MAX_BODY_BYTES))
        .layer(middleware::from_fn(crate::web::browser_pages))
        .layer(middleware::from_fn(negotiate::layer))
        .layer(middleware::from_fn(metrics::track_http))
        .layer(middleware::from_fn(crate::trace::layer))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError(Error::not_found("Not found"))
}

async fn method_not_allowed() -> ApiError {
    ApiError(Error::BadRequest("Method not allowed".into()))
}
