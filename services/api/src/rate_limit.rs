//! Per-route rate limits, counted in PostgreSQL so they hold for the whole
//! cluster. A request counts against the agent its API key proves; a request
//! without a valid key counts against its client address, and so do
//! registration and the admin API always (an invented key buys no new bucket).
//!
//! A node does not write the shared counter for every request: it leases a
//! share of the window's limit at once ([`lease_size`]: 1% of it, at least
//! one hit, so small limits are counted hit by hit) and spends it from memory
//! until the share or the window runs out. The cluster never admits more than
//! the limit; it may refuse up to one unspent share per node early.

use std::{
    collections::HashMap,
    net::{IpAddr, SocketAddr},
    sync::Mutex,
    time::{Duration, Instant},
};

use axum::{
    extract::{ConnectInfo, Request, State},
    http::{Extensions, HeaderMap},
    middleware::Next,
    response::{IntoResponse, Response},
};
use pinchwork_common::{
    Error,
    config::{RateLimit, TrustedProxies},
    db::rate_limits,
};

use crate::{AppState, error::ApiError, extract::Authenticated};

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
    /// `PATCH /v1/me`.
    Profile,
    /// The other state-changing task actions (approve … messages).
    Write,
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
            Self::Profile => "profile",
            Self::Write => "write",
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
            Self::Profile => c.rate_limit_profile,
            Self::Write => c.rate_limit_write,
        }
    }

    /// Whether the bucket is always the client address (no agent key applies).
    fn per_address(self) -> bool {
        matches!(self, Self::Register | Self::Admin)
    }
}

/// The client's address: the peer itself, or — when the peer is a trusted
/// proxy — the nearest `X-Forwarded-For` hop that is not a trusted proxy.
pub fn client_addr(headers: &HeaderMap, peer: IpAddr, trusted: &TrustedProxies) -> IpAddr {
    let mut ip = peer.to_canonical();
    if !trusted.contains(&ip) {
        return ip;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for hop in hops.iter().rev() {
        let Ok(hop) = hop.parse::<IpAddr>() else {
            break;
        };
        ip = hop.to_canonical();
        if !trusted.contains(&ip) {
            break;
        }
    }
    ip
}

/// Who `request` is counted against: `agent:<id>` for a valid key (the agent
/// is kept in the request for the extractor), else `ip:<client address>`.
async fn caller(state: &AppState, class: Class, request: &mut Request) -> Result<String, ApiError> {
    if !class.per_address()
        && let Some(agent) = Authenticated::resolve(state, request.headers()).await?
    {
        let bucket = format!("agent:{}", agent.0.id);
        request.extensions_mut().insert(agent);
        return Ok(bucket);
    }
    let ip = client_ip(
        request.headers(),
        request.extensions(),
        &state.market.config.trusted_proxies,
    );
    Ok(format!("ip:{ip}"))
}

/// A request's client address as text ([`client_addr`]; `unknown` without a peer).
pub(crate) fn client_ip(
    headers: &HeaderMap,
    extensions: &Extensions,
    trusted: &TrustedProxies,
) -> String {
    extensions.get::<ConnectInfo<SocketAddr>>().map_or_else(
        || "unknown".into(),
        |c| client_addr(headers, c.0.ip(), trusted).to_string(),
    )
}

/// Hits of a bucket's current window leased by this node and not spent yet.
#[derive(Debug, Default)]
pub struct Leases(Mutex<HashMap<String, Lease>>);

#[derive(Debug)]
struct Lease {
    left: u32,
    window_ends: Instant,
}

/// Leases held before expired ones are swept from memory.
const LEASES_BEFORE_SWEEP: usize = 10_000;

impl Leases {
    /// Spends one leased hit of `bucket`, if this node holds one.
    fn take(&self, bucket: &str) -> bool {
        let mut leases = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match leases.get_mut(bucket) {
            Some(lease) if lease.left > 0 && Instant::now() < lease.window_ends => {
                lease.left -= 1;
                true
            }
            _ => false,
        }
    }

    /// Keeps `left` leased hits of `bucket` until the window ends.
    fn keep(&self, bucket: String, left: u32, window_ends: Instant) {
        let mut leases = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if leases.len() >= LEASES_BEFORE_SWEEP {
            let now = Instant::now();
            leases.retain(|_, lease| lease.window_ends > now);
        }
        match leases.get_mut(&bucket) {
            // Two requests leased at once: keep both shares.
            Some(lease) if Instant::now() < lease.window_ends => lease.left += left,
            _ => {
                leases.insert(bucket, Lease { left, window_ends });
            }
        }
    }
}

/// Hits a node leases from the shared counter at once: 1% of the limit (at
/// most 10,000), at least one.
pub fn lease_size(limit: u32) -> u32 {
    (limit / 100).clamp(1, 10_000)
}

/// Counts one call of `class` by `who` (`agent:<id>` or `ip:<address>`);
/// a 429 once over the limit.
pub async fn check(state: &AppState, class: Class, who: &str) -> Result<(), ApiError> {
    if !state.market.config.rate_limit_enabled {
        return Ok(());
    }
    let limit = class.limit(state);
    let bucket = format!("{}:{who}", class.name());
    if state.leases.take(&bucket) {
        return Ok(());
    }
    let size = lease_size(limit.count);
    let window = limit.window.as_secs() as i64;
    let (hits, retry_after) = rate_limits::hit(&state.market.pool, &bucket, window, size).await?;
    // The counter holds every hit leased in this window, this lease included.
    let before = hits - i64::from(size);
    let granted = (i64::from(limit.count) - before).clamp(0, i64::from(size));
    if granted > 1 {
        let ends = Instant::now() + Duration::from_secs(retry_after.max(1) as u64);
        state.leases.keep(bucket, (granted - 1) as u32, ends);
    }
    if granted > 0 {
        return Ok(());
    }
    Err(ApiError(Error::TooManyRequests {
        message: format!("Rate limit exceeded: {}", limit.describe()),
        retry_after_secs: Some(retry_after.max(1) as u64),
    }))
}

/// Middleware enforcing `class`'s limit.
pub async fn enforce(
    State((state, class)): State<(AppState, Class)>,
    mut request: Request,
    next: Next,
) -> Response {
    if !state.market.config.rate_limit_enabled {
        return next.run(request).await;
    }
    let who = match caller(&state, class, &mut request).await {
        Ok(who) => who,
        Err(err) => return err.into_response(),
    };
    match check(&state, class, &who).await {
        Ok(()) => next.run(request).await,
        Err(err) => err.into_response(),
    }
}

/// Drops old rate-limit windows now and then (any node may do it; doing it twice is harmless).
pub async fn prune(pool: sqlx::PgPool, shutdown: tokio_util::sync::CancellationToken) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(std::time::Duration::from_secs(300)) => {}
        }
        if let Err(err) = rate_limits::prune(&pool).await {
            tracing::warn!(error = %err, "pruning rate-limit windows failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        let trusted: TrustedProxies = "10.0.0.1".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("1.1.1.1, 2.2.2.2"),
        );
        assert_eq!(
            client_addr(&headers, ip("9.9.9.9"), &trusted),
            ip("9.9.9.9"),
            "an untrusted peer's header is ignored"
        );
        assert_eq!(
            client_addr(&headers, ip("10.0.0.1"), &trusted),
            ip("2.2.2.2"),
            "the hop our proxy saw, not what the client claimed before it"
        );
        assert_eq!(
            client_addr(&HeaderMap::new(), ip("10.0.0.1"), &trusted),
            ip("10.0.0.1")
        );
    }
}
