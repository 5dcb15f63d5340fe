//! Bearer authentication for agents and for the admin API.

use axum::{
    extract::FromRequestParts,
    http::{HeaderMap, request::Parts},
};
use pinchwork_common::{
    Error,
    db::agents::Agent,
    http::{self, bearer},
};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{AppState, error::ApiError};

/// The authenticated, non-suspended agent making the request.
#[derive(Debug, Clone)]
pub struct CurrentAgent(pub Agent);

/// The agent a request's API key belongs to, looked up once per request (the
/// rate limiter resolves it first and leaves it in the request's extensions).
#[derive(Debug, Clone)]
pub struct Authenticated(pub Agent);

impl Authenticated {
    /// The agent holding the request's bearer key; `None` when there is no key
    /// or it belongs to nobody.
    pub async fn resolve(state: &AppState, headers: &HeaderMap) -> Result<Option<Self>, ApiError> {
        let Ok(key) = http::agent_key(headers) else {
            return Ok(None);
        };
        let agent = http::agent_by_key(&state.market.pool, key).await?;
        Ok(agent.map(Self))
    }
}

impl FromRequestParts<AppState> for CurrentAgent {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        http::agent_key(&parts.headers)?;
        let resolved = match parts.extensions.get::<Authenticated>() {
            Some(known) => Some(known.clone()),
            None => Authenticated::resolve(state, &parts.headers).await?,
        };
        Ok(Self(http::admit(resolved.map(|Authenticated(a)| a))?))
    }
}

/// A request carrying the configured admin key.
#[derive(Debug, Clone, Copy)]
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(expected) = state
            .market
            .config
            .admin_key
            .as_deref()
            .filter(|k| !k.is_empty())
        else {
            return Err(Error::NotImplemented("Admin API not configured".into()).into());
        };
        let given = bearer(&parts.headers)
            .ok_or_else(|| Error::Unauthorized("Missing Authorization header".into()))?;
        // Digests have one length, so the comparison takes the same time
        // whatever the length of the guess.
        let (given, expected) = (Sha256::digest(given), Sha256::digest(expected));
        if bool::from(given[..].ct_eq(&expected[..])) {
            Ok(Self)
        } else {
            Err(Error::forbidden("Invalid admin key").into())
        }
    }
}
