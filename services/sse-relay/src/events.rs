//! `GET /v1/events`: authenticates the caller and opens its event stream.

use std::time::Duration;

use axum::{
    extract::State,
    http::HeaderMap,
    response::{IntoResponse, Response, Sse, sse::KeepAlive},
};
use pinchwork_common::{Error, http, ids};

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
    // The key authenticated above, named by its fingerprint.
    let key = http::agent_key(&headers).unwrap_or_default();
    let fingerprint = ids::key_fingerprint(&ids::hash_api_key(key));
    let Some(events) = stream::open(&state, agent.id, &fingerprint, last_seen) else {
        return http::json_error(&Error::TooManyRequests {
            message: format!(
                "Too many open event streams (at most {} per agent)",
                state.config.sse_max_per_agent
            ),
            retry_after_secs: Some(5),
        });
    };
    // Registered, the stream now hears a rotation or suspension; one that
    // committed between the check above and the registration is caught here.
    if let Err(err) = http::authenticate(&state.pool, &headers).await {
        return http::json_error(&err);
    }
    Sse::new(events)
        .keep_alive(
            KeepAlive::new()
                .interval(Duration::from_secs(state.config.sse_keepalive_seconds))
                .text("keepalive"),
        )
        .into_response()
}
