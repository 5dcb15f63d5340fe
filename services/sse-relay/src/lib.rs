//! The Pinchwork SSE relay: serves `GET /v1/events`. One ordered JetStream
//! consumer per instance feeds an in-memory fan-out to each agent's
//! connections; every message carries `id:` = its stream sequence, so a
//! reconnect with `Last-Event-ID` replays exactly what the agent missed.
#![forbid(unsafe_code)]

mod hub;
mod stream;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    Json, Router,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use pinchwork_common::{
    Config,
    bus::Bus,
    db, ids,
    service::{Component, Runtime, Service},
};
use serde_json::json;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

pub use hub::{Hub, SseEvent};

/// What every handler can reach.
#[derive(Clone)]
pub struct RelayState {
    pool: PgPool,
    bus: Bus,
    hub: Arc<Hub>,
    config: Arc<Config>,
}

/// The relay: `GET /v1/events`, fed by one ordered consumer per instance.
pub const SERVICE: Service = Service::new("sse-relay", start).with_nats();

fn start(rt: &Runtime) -> anyhow::Result<Component> {
    let state = RelayState {
        pool: rt.pool().clone(),
        bus: rt.bus()?,
        hub: Arc::new(Hub::new(rt.config().sse_buffer)),
        config: rt.config().clone(),
    };
    // SSE streams never end by themselves: at shutdown the hub drops their
    // senders so they end, and the server's graceful shutdown can complete.
    let closing = {
        let (hub, stop) = (state.hub.clone(), rt.shutdown.clone());
        async move {
            stop.cancelled().await;
            hub.close_all();
        }
    };
    let feeder = hub::feed(state.hub.clone(), state.bus.clone(), rt.shutdown.clone());
    Ok(Component::new()
        .task(feeder)
        .task(closing)
        .routes(router(state)))
}

/// Starts the fan-out and serves until `shutdown` is cancelled. Calls
/// `on_listen` with the bound address.
pub async fn run(
    config: Arc<Config>,
    shutdown: CancellationToken,
    on_listen: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    SERVICE.run(config, shutdown, on_listen).await
}

/// The relay's own routes (the runtime adds the ops routes).
pub fn router(state: RelayState) -> Router {
    Router::new()
        .route("/v1/events", get(events))
        .with_state(state)
}

fn refuse(status: StatusCode, msg: &str) -> Response {
    (status, Json(json!({ "error": msg }))).into_response()
}

/// `GET /v1/events`: the caller's event stream.
async fn events(State(state): State<RelayState>, headers: HeaderMap) -> Response {
    let key = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|k| !k.is_empty());
    let Some(key) = key else {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "Missing or invalid Authorization header",
        );
    };
    let agent = match db::agents::find_by_key_hash(&state.pool, &ids::hash_api_key(key)).await {
        Ok(Some(agent)) => agent,
        Ok(None) => return refuse(StatusCode::UNAUTHORIZED, "Invalid API key"),
        Err(err) => {
            tracing::warn!(error = %err, "auth lookup failed");
            return refuse(StatusCode::SERVICE_UNAVAILABLE, "database unavailable");
        }
    };
    if agent.suspended {
        return refuse(StatusCode::FORBIDDEN, "Agent suspended");
    }
    let last_seen = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let Some(events) = stream::open(&state, agent.id, last_seen) else {
        let mut refused = refuse(
            StatusCode::TOO_MANY_REQUESTS,
            &format!(
                "Too many open event streams (at most {} per agent)",
                state.config.sse_max_per_agent
            ),
        );
        refused
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
        return refused;
    };
    axum::response::Sse::new(events)
        .keep_alive(
            axum::response::sse::KeepAlive::new()
                .interval(Duration::from_secs(state.config.sse_keepalive_seconds))
                .text("keepalive"),
        )
        .into_response()
}
