//! One span per HTTP request, continuing the caller's W3C `traceparent` when
//! it sends one; everything the handler does (outbox rows included) happens
//! inside it, so the events a command publishes carry the request's trace.

use axum::{
    extract::{MatchedPath, Request},
    middleware::Next,
    response::Response,
};
use pinchwork_common::telemetry;
use tracing::{Instrument, field::Empty};

/// Middleware: runs the rest of the request inside its span.
pub async fn layer(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    let span = tracing::info_span!(
        "http request",
        otel.name = %format_args!("{} {route}", request.method()),
        otel.kind = "server",
        http.request.method = %request.method(),
        http.route = route,
        http.response.status_code = Empty,
    );
    let incoming = request
        .headers()
        .get(telemetry::TRACEPARENT)
        .and_then(|v| v.to_str().ok());
    telemetry::continue_trace(&span, incoming);
    let response = next.run(request).instrument(span.clone()).await;
    span.record("http.response.status_code", response.status().as_u16());
    response
}
