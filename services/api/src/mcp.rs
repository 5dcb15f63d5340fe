//! `/mcp`: the MCP tools over Streamable HTTP. Stateless (no MCP session
//! lives in a node's memory), so any node behind the balancer serves any call.
//!
//! Each tool is one operation of the REST API (see `pinchwork_mcp::catalogue`);
//! this node hands it in process to its own REST route table, with the
//! caller's `Authorization` and client address. So a tool call passes the same
//! extractors, rate limits, market command and error rendering as the REST
//! call, and an MCP client can never do more than the key allows.

use std::{net::SocketAddr, time::Duration};

use axum::{
    Router,
    body::Body,
    extract::{ConnectInfo, FromRequestParts, Request, State},
    http::{HeaderValue, header, request::Parts},
    middleware::Next,
    response::{IntoResponse, Response},
};
use pinchwork_common::telemetry;
use pinchwork_mcp::{
    ApiCall, ApiReply, Backend, McpServer, Method,
    rmcp::{
        model::Extensions,
        transport::streamable_http_server::{
            StreamableHttpServerConfig, StreamableHttpService, session::never::NeverSessionManager,
        },
    },
};
use serde_json::Value;
use tower::ServiceExt;

use crate::{AppState, extract::CurrentAgent, negotiate::MAX_BODY_BYTES};

/// Runs tool calls through the REST routes of this node.
#[derive(Clone)]
pub struct InProcess {
    rest: Router,
}

/// Headers of the MCP request that the REST call carries on.
///
/// Retries: a tool call reaches the REST route in process, so nothing between
/// the two can fail on its own and this node never retries a call. What a
/// host may retry is its `tools/call` HTTP request to `/mcp`; one that sends
/// an `Idempotency-Key` header with it (a fresh key per tool call, the same
/// on its retries) has it carried on to the REST call, which then answers a
/// retry with the first answer like any REST retry. The stdio server
/// (`pinchwork mcp`) calls the API over HTTP through the CLI's client, which
/// sends its own key per call and retries with it.
const FORWARDED: [&str; 3] = ["authorization", "x-forwarded-for", "idempotency-key"];

impl Backend for InProcess {
    async fn call(&self, call: ApiCall, extensions: &Extensions) -> Result<ApiReply, String> {
        let method = match call.method {
            Method::Get => axum::http::Method::GET,
            Method::Post => axum::http::Method::POST,
            Method::Patch => axum::http::Method::PATCH,
        };
        let body = match &call.body {
            Some(json) => Body::from(json.to_string()),
            None => Body::empty(),
        };
        let mut request = Request::builder()
            .method(method)
            .uri(call.path_and_query())
            .header(header::ACCEPT, "application/json")
            .header(header::CONTENT_TYPE, "application/json")
            .body(body)
            .map_err(|e| format!("invalid request: {e}"))?;
        if let Some(parts) = extensions.get::<Parts>() {
            for name in FORWARDED {
                if let Some(value) = parts.headers.get(name) {
                    request.headers_mut().insert(name, value.clone());
                }
            }
            if let Some(peer) = parts.extensions.get::<ConnectInfo<SocketAddr>>() {
                request.extensions_mut().insert(*peer);
            }
        }
        if let Some(tp) = telemetry::current_traceparent()
            && let Ok(value) = HeaderValue::from_str(&tp)
        {
            request.headers_mut().insert(telemetry::TRACEPARENT, value);
        }
        let response = self
            .rest
            .clone()
            .oneshot(request)
            .await
            .map_err(|e| format!("internal error: {e}"))?;
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .map_err(|e| format!("reading the response failed: {e}"))?;
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Ok(ApiReply { status, body })
    }
}

/// The `/mcp` service over `rest`, the node's REST routes.
pub fn service(rest: Router) -> StreamableHttpService<McpServer<InProcess>, NeverSessionManager> {
    let server = McpServer::new(InProcess { rest });
    // Host and Origin checks guard unauthenticated servers on a developer's
    // machine against DNS rebinding. Ours sits behind a load balancer that
    // rewrites Host, and every call is authorised by its Bearer key, which a
    // rebinding page cannot send.
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(Some(Duration::from_secs(15)))
        .with_max_request_body_bytes(MAX_BODY_BYTES)
        .disable_allowed_hosts()
        .disable_allowed_origins();
    StreamableHttpService::new(
        move || Ok(server.clone()),
        NeverSessionManager::default().into(),
        config,
    )
}

/// Middleware of `/mcp`: a request that sends a key must send a valid one
/// (401 or 403 like REST), so a misconfigured client learns at connect time.
/// Without a key the tools still list, and `pinchwork_register` works.
pub async fn check_key(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !request.headers().contains_key(header::AUTHORIZATION) {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    if let Err(err) = CurrentAgent::from_request_parts(&mut parts, &state).await {
        return err.into_response();
    }
    next.run(Request::from_parts(parts, body)).await
}
