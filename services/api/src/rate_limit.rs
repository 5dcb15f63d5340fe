//! Per-route rate limits, counted in PostgreSQL so they hold for the whole
//! cluster. Authenticated calls are counted per API key, others per client IP.

use std::net::SocketAddr;

use axum::{
    extract::{ConnectInfo, Request, State},
    http::{Extensions, HeaderMap, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use pinchwork_common::{Error, config::RateLimit, db::rate_limits};
use sha2::{Digest, Sha256};

use crate::{AppState, error::ApiError};

/// The limited route families (pickup and batch pickup count separately).
#[derive(Debug, Clone, Copy)]
pub enum Class {
    Register,
    Create,
    Pickup,
    PickupBatch,
    Deliver,
    Read,
    Admin,
}

impl Class {
    fn name(self) -> &'static str {
        match self {
            Self::Register => "register",
            Self::Create => "create",
            Self::Pickup => "pickup",
            Self::PickupBatch => "pickup_batch",
            Self::Deliver => "deliver",
            Self::Read => "read",
            Self::Admin => "admin",
        }
    }

    fn limit(self, state: &AppState) -> RateLimit {
        let c = &state.market.config;
        match self {
            Self::Register => c.rate_limit_register,
            Self::Create => c.rate_limit_create,
            Self::Pickup | Self::PickupBatch => c.rate_limit_pickup,
            Self::Deliver => c.rate_limit_deliver,
            Self::Read => c.rate_limit_read,
            Self::Admin => c.rate_limit_admin,
        }
    }
}

/// Who a request is counted against: its bearer key's digest, else its client IP
/// (the first `X-Forwarded-For` hop set by our load balancer, else the peer).
fn caller(request: &Request) -> String {
    let headers = request.headers();
    if let Some(key) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        return format!(
            "key:{}",
            hex::encode(&Sha256::digest(key.trim().as_bytes())[..12])
        );
    }
    format!("ip:{}", client_ip(headers, request.extensions()))
}

/// The client's IP: the first `X-Forwarded-For` hop set by our load balancer,
/// else the peer address.
pub(crate) fn client_ip(headers: &HeaderMap, extensions: &Extensions) -> String {
    let forwarded = headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(str::trim)
        .filter(|v| !v.is_empty());
    match forwarded {
        Some(ip) => ip.to_string(),
        None => extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or_else(|| "unknown".into(), |c| c.0.ip().to_string()),
    }
}

/// Middleware enforcing `class`'s limit.
pub async fn enforce(
    State((state, class)): State<(AppState, Class)>,
    request: Request,
    next: Next,
) -> Response {
    if !state.market.config.rate_limit_enabled {
        return next.run(request).await;
    }
    let limit = class.limit(&state);
    let bucket = format!("{}:{}", class.name(), caller(&request));
    match rate_limits::hit(&state.market.pool, &bucket, limit.window.as_secs() as i64).await {
        Ok((hits, _)) if hits <= i64::from(limit.count) => next.run(request).await,
        Ok((_, retry_after)) => ApiError(Error::TooManyRequests {
            message: format!("Rate limit exceeded: {}", limit.describe()),
            retry_after_secs: Some(retry_after.max(1) as u64),
        })
        .into_response(),
        Err(err) => ApiError::from(err).into_response(),
    }
}
