//! Operator console sessions: sign-in with the admin key starts a session
//! stored in PostgreSQL (any api node can serve it), carried by an `HttpOnly`,
//! `SameSite=Strict` cookie (`Secure` behind https). Every form carries the
//! session's CSRF token; the sign-in form a double-submit token of its own.

use axum::{
    extract::FromRequestParts,
    http::{HeaderMap, HeaderValue, header, request::Parts},
};
use pinchwork_common::{Config, db::console, ids};
use subtle::ConstantTimeEq;

use super::page::WebError;
use crate::AppState;

/// The session cookie.
pub const SESSION_COOKIE: &str = "pw_console";
/// The sign-in form's double-submit cookie.
pub const SIGN_IN_COOKIE: &str = "pw_sign_in";
/// How long a session lasts.
pub const SESSION_HOURS: i32 = 8;

/// A fresh random token (256 bits), url-safe.
pub fn new_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// Whether two secrets are equal, in constant time.
pub fn same_secret(given: &str, expected: &str) -> bool {
    bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}

/// The configured admin key, `None` when the console is disabled.
pub fn admin_key(config: &Config) -> Option<&str> {
    config.admin_key.as_deref().filter(|k| !k.is_empty())
}

/// The value of a cookie of the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(k, v)| (k == name).then_some(v))
}

/// A `Set-Cookie` value scoped to the console; `max_age` 0 deletes it.
pub fn set_cookie(headers: &HeaderMap, name: &str, value: &str, max_age: i64) -> HeaderValue {
    let secure = headers
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes() == b"https");
    let text = format!(
        "{name}={value}; Path=/admin; Max-Age={max_age}; HttpOnly; SameSite=Strict{}",
        if secure { "; Secure" } else { "" }
    );
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// A signed-in operator.
#[derive(Debug, Clone)]
pub struct Session {
    /// The token every form of this session must carry.
    pub csrf: String,
    /// Digest of the cookie's token (the session's key).
    pub token_hash: Vec<u8>,
}

impl Session {
    /// Refuses a form whose CSRF token is not this session's.
    pub fn check_csrf(&self, given: Option<&str>) -> Result<(), WebError> {
        match given {
            Some(token) if same_secret(token, &self.csrf) => Ok(()),
            _ => Err(WebError::Forbidden(
                "The form's security token is missing or wrong; reload the page and try again."
                    .into(),
            )),
        }
    }
}

/// Who is asking for a console page.
#[derive(Debug, Clone)]
pub enum Operator {
    /// No admin key is configured.
    Disabled,
    /// No valid session: show the sign-in form.
    SignedOut,
    SignedIn(Session),
}

impl FromRequestParts<AppState> for Operator {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        if admin_key(&state.market.config).is_none() {
            return Ok(Self::Disabled);
        }
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Ok(Self::SignedOut);
        };
        let token_hash = ids::hash_api_key(token);
        Ok(
            match console::session_csrf(&state.market.pool, &token_hash).await? {
                Some(csrf) => Self::SignedIn(Session { csrf, token_hash }),
                None => Self::SignedOut,
            },
        )
    }
}

/// A signed-in operator, required by the console's actions (a POST without a
/// session is refused, not answered with a sign-in form).
pub struct SignedIn(pub Session);

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        match Operator::from_request_parts(parts, state).await? {
            Operator::SignedIn(session) => Ok(Self(session)),
            Operator::Disabled => Err(disabled()),
            Operator::SignedOut => Err(WebError::Forbidden("Sign in to the console first.".into())),
        }
    }
}

/// The error of every console route while no admin key is configured.
pub fn disabled() -> WebError {
    WebError::Unavailable(
        "The operator console is disabled: no PINCHWORK_ADMIN_KEY is configured.".into(),
    )
}
