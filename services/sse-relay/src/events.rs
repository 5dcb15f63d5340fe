//! `GET /v1/events`: authenticates the caller and opens its event stream.

use std::time::Duration;

use axum::{
    extract::State,
    http::HeaderMap,
    response::{IntoResponse, Response, Sse, sse::KeepAlive},
};
use pinchwork_common::{Error, http};

use crate::{RelayState, stream};

/// `GET /v1/events`: the caller's event stream.
pub async fn events(State(state): State<RelayState>, headers: HeaderMap) -> Response {
    let agent = match http::authenticate(&state.pool, &headers).await {
        Ok(agent) => agent,
        Err(err) => return http::json_error(&err),
    };
    let last_seen = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let Some(events) = stream::open(&state, agent.id.into(), last_seen) else {
        return http::json_error(&Error::TooManyRequests {
            message: format!(
                "Too many open event streams (at most {} per agent)",
                state.config.sse_max_per_agent
            ),
            retry_after_secs: Some(5),
        });
    };
    Sse::new(events)
        .keep_alive(
            KeepAlive::new()
                .interval(Duration::from_secs(state.config.sse_keepalive_seconds))
                .text("keepalive"),
        )
        .into_response()
}
