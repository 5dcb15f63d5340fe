//! What every HTTP-serving service shares about callers and failures: Bearer
//! authentication of agents and the one rendering of an [`Error`] as a status
//! and an `{"error": "..."}` body.

use axum::{
    Json,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;

use crate::{Error, Result, db::agents::Agent, ids};

/// The key after `Authorization: Bearer `, trimmed (possibly empty); `None`
/// when the header is missing or is not a Bearer credential.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// The non-empty Bearer key of a request, or the 401 for a request without one.
pub fn agent_key(headers: &HeaderMap) -> Result<&str> {
    bearer(headers)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| Error::Unauthorized("Missing or invalid Authorization header".into()))
}

/// The agent holding `key` (looked up by the key's digest), if any. A
/// database that cannot be reached is a 503.
pub async fn agent_by_key(pool: &PgPool, key: &str) -> Result<Option<Agent>> {
    Ok(crate::db::agents::find_by_key_hash(pool, &ids::hash_api_key(key)).await?)
}

/// Admits the agent a key resolved to: 401 when the key belongs to nobody,
/// 403 when its agent is suspended.
pub fn admit(agent: Option<Agent>) -> Result<Agent> {
    let agent = agent.ok_or_else(|| Error::Unauthorized("Invalid API key".into()))?;
    if agent.suspended {
        return Err(Error::forbidden("Agent suspended"));
    }
    Ok(agent)
}

/// The authenticated, non-suspended agent of a request: [`agent_key`],
/// [`agent_by_key`] and [`admit`] in one.
pub async fn authenticate(pool: &PgPool, headers: &HeaderMap) -> Result<Agent> {
    let key = agent_key(headers)?;
    admit(agent_by_key(pool, key).await?)
}

/// Every error: a status code and this body.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong, in one sentence.
    pub error: String,
}

/// The HTTP status of an error.
pub fn status_of(err: &Error) -> StatusCode {
    match err {
        Error::BadRequest(_) => StatusCode::BAD_REQUEST,
        Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
        Error::PaymentRequired(_) => StatusCode::PAYMENT_REQUIRED,
        Error::Forbidden(_) => StatusCode::FORBIDDEN,
        Error::NotFound(_) => StatusCode::NOT_FOUND,
        Error::Conflict(_) => StatusCode::CONFLICT,
        Error::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
        Error::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        Error::HeadersTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        Error::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
        Error::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
        Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Renders an error: logs what deserves logging, lets `body` build the
/// response from the status and the [`ErrorBody`] (the api negotiates its
/// format; other services send JSON, see [`json_error`]), and adds
/// `Retry-After` where a retry makes sense.
pub fn render_error(err: &Error, body: impl FnOnce(StatusCode, ErrorBody) -> Response) -> Response {
    match err {
        Error::Internal(err) => tracing::error!(error = ?err, "request failed"),
        Error::Unavailable(why) => tracing::warn!(%why, "dependency unavailable"),
        _ => {}
    }
    let mut response = body(
        status_of(err),
        ErrorBody {
            error: err.to_string(),
        },
    );
    let retry_after = match err {
        Error::TooManyRequests {
            retry_after_secs, ..
        } => *retry_after_secs,
        Error::Unavailable(_) => Some(1),
        _ => None,
    };
    if let Some(secs) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// An error as a JSON response.
pub fn json_error(err: &Error) -> Response {
    render_error(err, |status, body| (status, Json(body)).into_response())
}
