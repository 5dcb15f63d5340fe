//! `Idempotency-Key` on the state-changing POST routes, for the whole cluster:
//! the first answer to a key is stored in PostgreSQL with a fingerprint of the
//! request, and a retry on any node gets it again instead of a second effect.
//!
//! - same key, same request, answered: the stored status, headers and body,
//!   with `Idempotent-Replayed: true`;
//! - same key, another request: 422;
//! - same key while the first request still runs: 409 with `Retry-After`;
//! - a 5xx (or a node that died) leaves no answer: the key is freed at once
//!   (or, for a dead node, after [`lease_secs`]) and a retry runs again.
//!
//! Keys belong to a scope, so two callers never share one: the agent of the
//! Bearer key, the operator on the admin routes, the client address on
//! registration (a caller without a key has nothing else). A row is found by
//! a digest of scope and key, and its answer is encrypted with a key derived
//! from both, so the table alone reveals no answer (a registration's API key
//! included). The deadlines service deletes rows older than
//! `PINCHWORK_IDEMPOTENCY_WINDOW_SECONDS`.

use axum::{
    body::{Body, Bytes, HttpBody},
    extract::{FromRequestParts, Request, State},
    http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header, request::Parts},
    middleware::Next,
    response::{IntoResponse, Response},
};
use chacha20poly1305::{
    ChaCha20Poly1305, KeyInit, Nonce,
    aead::{Aead, Payload},
};
use pinchwork_common::{Error, db::idempotency};
use sha2::{Digest, Sha256};
use tracing::Instrument;

use crate::{
    AppState,
    error::ApiError,
    extract::{Admin, Authenticated},
    negotiate::{self, MAX_BODY_BYTES, Reply},
    views::ErrorBody,
};

/// The request header.
pub const HEADER: &str = "idempotency-key";
/// The header marking a replayed answer.
pub const REPLAYED: &str = "idempotent-replayed";
/// Longest key accepted.
pub const MAX_KEY_CHARS: usize = 255;
/// Largest answer body stored; a larger one is sent but not kept (the key is
/// freed, so a retry runs again). No route's answer comes near it.
const MAX_STORED_BYTES: usize = MAX_BODY_BYTES;
/// Headers of an answer that are not stored (recomputed or per connection).
const NOT_STORED: [HeaderName; 4] = [
    header::DATE,
    header::CONTENT_LENGTH,
    header::TRANSFER_ENCODING,
    header::CONNECTION,
];

/// Whose keys a route's `Idempotency-Key` is counted among.
#[derive(Debug, Clone, Copy)]
pub enum Scope {
    /// The agent of the Bearer key (without a valid key the route answers 401
    /// and nothing is stored).
    Agent,
    /// The operator (the admin key; a wrong one is answered, not stored).
    Admin,
    /// The client address (registration: the caller has no key yet).
    Address,
}

/// How long a request may hold its key in flight before a retry of the same
/// request may take the key over (its node is presumed dead): longer than
/// any request runs, `wait` included.
pub fn lease_secs(state: &AppState) -> i64 {
    state.market.config.max_wait_seconds + 60
}

/// The request's key, checked: 1–255 visible ASCII characters.
fn key_of(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let Some(value) = headers.get(HEADER) else {
        return Ok(None);
    };
    let bytes = value.as_bytes();
    if bytes.is_empty() || bytes.len() > MAX_KEY_CHARS || !bytes.iter().all(u8::is_ascii_graphic) {
        return Err(ApiError::bad_request(format!(
            "Invalid Idempotency-Key header: 1-{MAX_KEY_CHARS} visible ASCII characters (e.g. a UUID)"
        )));
    }
    Ok(Some(value.to_str().unwrap_or_default()))
}

/// Who the key belongs to, or `None` when the caller is not authenticated
/// (the handler refuses the request; nothing is stored).
async fn scope_of(
    state: &AppState,
    scope: Scope,
    request: &mut Request,
) -> Result<Option<String>, ApiError> {
    match scope {
        Scope::Agent => {
            let known = request.extensions().get::<Authenticated>().cloned();
            let agent = match known {
                Some(agent) => Some(agent),
                None => Authenticated::resolve(state, request.headers()).await?,
            };
            Ok(agent.map(|agent| {
                let who = format!("agent:{}", agent.0.id);
                request.extensions_mut().insert(agent);
                who
            }))
        }
        Scope::Admin => {
            let (mut parts, body) = std::mem::take(request).into_parts();
            let admin = Admin::from_request_parts(&mut parts, state).await.is_ok();
            *request = Request::from_parts(parts, body);
            Ok(admin.then(|| "admin".to_string()))
        }
        Scope::Address => Ok(Some(format!(
            "ip:{}",
            crate::rate_limit::client_ip(
                request.headers(),
                request.extensions(),
                &state.market.config.trusted_proxies,
            )
        ))),
    }
}

/// A stored answer, decrypted: its headers (name, value) and body.
type Answer = (Vec<(String, String)>, Vec<u8>);

/// What one (scope, key) pair derives: the row's lookup digest and the
/// secret its answer is encrypted with and its fingerprint keyed by.
struct Derived {
    lookup: [u8; 32],
    secret: [u8; 32],
}

impl Derived {
    fn new(scope: &str, key: &str) -> Self {
        let derive = |purpose: &str| -> [u8; 32] {
            let mut hash = Sha256::new();
            for part in ["pinchwork idempotency", purpose, scope, key] {
                hash.update((part.len() as u64).to_be_bytes());
                hash.update(part);
            }
            hash.finalize().into()
        };
        Self {
            lookup: derive("lookup"),
            secret: derive("secret"),
        }
    }

    /// The request's fingerprint: method, path and query, the headers that
    /// change the answer's form (Content-Type, Accept) and the body.
    fn fingerprint(&self, parts: &Parts, body: &[u8]) -> [u8; 32] {
        let mut hash = Sha256::new();
        hash.update(self.secret);
        let value_of = |name: HeaderName| {
            parts
                .headers
                .get(name)
                .map_or(&[][..], HeaderValue::as_bytes)
        };
        let path = parts.uri.path_and_query().map_or("", |p| p.as_str());
        for part in [
            parts.method.as_str().as_bytes(),
            path.as_bytes(),
            value_of(header::CONTENT_TYPE),
            value_of(header::ACCEPT),
            body,
        ] {
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part);
        }
        hash.finalize().into()
    }

    fn cipher(&self) -> ChaCha20Poly1305 {
        ChaCha20Poly1305::new(&self.secret.into())
    }

    /// Encrypts an answer's headers and body (nonce first), bound to its status.
    fn seal(&self, status: u16, headers: &HeaderMap, body: &[u8]) -> Option<Vec<u8>> {
        let stored: Vec<(&str, &str)> = headers
            .iter()
            .filter(|(name, _)| !NOT_STORED.contains(name))
            .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
            .collect();
        let head = serde_json::to_vec(&stored).ok()?;
        let mut plain = Vec::with_capacity(4 + head.len() + body.len());
        plain.extend_from_slice(&(head.len() as u32).to_be_bytes());
        plain.extend_from_slice(&head);
        plain.extend_from_slice(body);
        let nonce: [u8; 12] = rand::random();
        let aad = status.to_be_bytes();
        let sealed = self
            .cipher()
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: &plain,
                    aad: &aad,
                },
            )
            .ok()?;
        Some([&nonce[..], &sealed].concat())
    }

    /// The stored answer, decrypted: its headers and body.
    fn open(&self, status: u16, sealed: &[u8]) -> Option<Answer> {
        let (nonce, sealed) = sealed.split_at_checked(12)?;
        let nonce: [u8; 12] = nonce.try_into().ok()?;
        let aad = status.to_be_bytes();
        let plain = self
            .cipher()
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .ok()?;
        let (len, rest) = plain.split_at_checked(4)?;
        let len = u32::from_be_bytes(len.try_into().ok()?) as usize;
        let (head, body) = rest.split_at_checked(len)?;
        Some((serde_json::from_slice(head).ok()?, body.to_vec()))
    }
}

/// Middleware of the state-changing POST routes (`routes::table`).
pub async fn layer(
    State((state, scope)): State<(AppState, Scope)>,
    request: Request,
    next: Next,
) -> Response {
    if !request.headers().contains_key(HEADER) {
        return next.run(request).await;
    }
    // The body is read before anything is refused: an answer sent while the
    // client is still sending makes the server close the connection under it
    // (a proxy in front sees a reset and answers 502 instead).
    let (parts, body) = request.into_parts();
    let body = match negotiate::read_body(Request::from_parts(parts.clone(), body), &()).await {
        Ok(body) => body,
        Err(err) => return err.into_response(),
    };
    let mut request = Request::from_parts(parts, Body::from(body.clone()));
    let key = match key_of(request.headers()) {
        Ok(key) => key.unwrap_or_default().to_string(),
        Err(err) => return err.into_response(),
    };
    let who = match scope_of(&state, scope, &mut request).await {
        Ok(Some(who)) => who,
        Ok(None) => return next.run(request).await,
        Err(err) => return err.into_response(),
    };
    let (parts, _) = request.into_parts();
    let derived = Derived::new(&who, &key);
    let fingerprint = derived.fingerprint(&parts, &body);
    match run(&state, derived, fingerprint, parts, body, next).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    }
}

async fn run(
    state: &AppState,
    derived: Derived,
    fingerprint: [u8; 32],
    parts: Parts,
    body: Bytes,
    next: Next,
) -> Result<Response, ApiError> {
    let pool = &state.market.pool;
    let window = state.market.config.idempotency_window_seconds;
    let lease = lease_secs(state);
    // A row can vanish between the two statements (freed after a 5xx, or
    // pruned): then the key is claimed again.
    for _ in 0..3 {
        if let Some(token) =
            idempotency::claim(pool, &derived.lookup, &fingerprint, window, lease).await?
        {
            // The request runs in its own task: a client that disconnects
            // (say, its timeout) does not cancel it, so its answer is still
            // stored for the retry.
            let request = Request::from_parts(parts, Body::from(body));
            let work = first_run(state.clone(), derived, token, request, next);
            let task = tokio::spawn(negotiate::carry(work).in_current_span());
            return task
                .await
                .map_err(|err| ApiError(Error::Internal(err.into())));
        }
        let Some(stored) = idempotency::find(pool, &derived.lookup).await? else {
            continue;
        };
        if stored.fingerprint != fingerprint {
            return Ok(Reply::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorBody {
                    error: "Idempotency-Key was already used for a different request \
                            (method, path, query, Content-Type, Accept or body)"
                        .into(),
                },
            )
            .into_response());
        }
        let (Some(status), Some(sealed)) = (stored.status, stored.body) else {
            return Ok(Reply::new(
                StatusCode::CONFLICT,
                ErrorBody {
                    error: "A request with this Idempotency-Key is still in progress; \
                            retry shortly"
                        .into(),
                },
            )
            .header("retry-after", 1)
            .into_response());
        };
        return replay(&derived, status, &sealed);
    }
    Err(ApiError(Error::Unavailable(
        "Idempotency-Key could not be claimed".into(),
    )))
}

/// Runs the request holding the key and stores its answer (2xx and 4xx);
/// any other answer frees the key.
async fn first_run(
    state: AppState,
    derived: Derived,
    token: chrono::DateTime<chrono::Utc>,
    request: Request,
    next: Next,
) -> Response {
    let pool = &state.market.pool;
    let response = next.run(request).await;
    let status = response.status();
    let storable = status.is_success() || status.is_client_error();
    let size = response.body().size_hint().exact();
    if !storable || size.is_none_or(|size| size as usize > MAX_STORED_BYTES) {
        if let Err(err) = idempotency::release(pool, &derived.lookup, token).await {
            tracing::warn!(error = %err, "freeing an Idempotency-Key failed");
        }
        return response;
    }
    let (parts, body) = response.into_parts();
    let body = match axum::body::to_bytes(body, MAX_STORED_BYTES).await {
        Ok(body) => body,
        Err(err) => {
            tracing::warn!(error = %err, "reading an answer to store failed");
            let _ = idempotency::release(pool, &derived.lookup, token).await;
            return ApiError(Error::Internal(anyhow::anyhow!(
                "reading the answer failed"
            )))
            .into_response();
        }
    };
    let stored = match derived.seal(status.as_u16(), &parts.headers, &body) {
        Some(sealed) => {
            idempotency::finish(
                pool,
                &derived.lookup,
                token,
                status.as_u16() as i16,
                &sealed,
            )
            .await
        }
        None => Ok(false),
    };
    if !matches!(stored, Ok(true)) {
        // The answer is sent but not kept: free the key so a retry is not
        // refused forever (it runs again, as without a key).
        tracing::warn!(?stored, "storing an Idempotency-Key answer failed");
        let _ = idempotency::release(pool, &derived.lookup, token).await;
    }
    Response::from_parts(parts, Body::from(body))
}

/// The stored answer again, marked as a replay.
fn replay(derived: &Derived, status: i16, sealed: &[u8]) -> Result<Response, ApiError> {
    let status = u16::try_from(status).unwrap_or_default();
    let (headers, body) = derived.open(status, sealed).ok_or_else(|| {
        ApiError(Error::Internal(anyhow::anyhow!(
            "a stored Idempotency-Key answer does not decrypt"
        )))
    })?;
    let mut response = Response::new(Body::from(body));
    *response.status_mut() =
        StatusCode::from_u16(status).map_err(|err| ApiError(Error::Internal(err.into())))?;
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            response.headers_mut().append(name, value);
        }
    }
    response
        .headers_mut()
        .insert(REPLAYED, HeaderValue::from_static("true"));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_visible_ascii_of_bounded_length() {
        let check = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(HEADER, HeaderValue::from_str(value).unwrap());
            key_of(&headers).map(|k| k.map(str::to_string)).ok()
        };
        assert_eq!(check("abc-123"), Some(Some("abc-123".into())));
        assert_eq!(check(&"k".repeat(255)), Some(Some("k".repeat(255))));
        assert_eq!(check(&"k".repeat(256)), None);
        assert_eq!(check(""), None);
        assert_eq!(check("has space"), None);
        assert_eq!(key_of(&HeaderMap::new()).ok(), Some(None));
    }

    #[test]
    fn a_sealed_answer_opens_only_with_its_key_and_status() {
        let derived = Derived::new("agent:ag-1", "key-1");
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        headers.insert(header::DATE, HeaderValue::from_static("today"));
        let sealed = derived.seal(201, &headers, b"secret answer").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        let (headers, body) = derived.open(201, &sealed).unwrap();
        assert_eq!(body, b"secret answer");
        assert_eq!(
            headers,
            vec![("content-type".to_string(), "text/plain".to_string())]
        );
        assert!(derived.open(200, &sealed).is_none(), "status is bound");
        let other = Derived::new("agent:ag-2", "key-1");
        assert!(
            other.open(201, &sealed).is_none(),
            "scope is part of the key"
        );
        assert_ne!(other.lookup, derived.lookup);
    }
}
