//! Bearer authentication for agents and for the admin API.

use axum::{extract::FromRequestParts, http::request::Parts};
use pinchwork_common::{Error, db::agents::Agent, ids};
use subtle::ConstantTimeEq;

use crate::{AppState, error::ApiError};

/// The authenticated, non-suspended agent making the request.
#[derive(Debug, Clone)]
pub struct CurrentAgent(pub Agent);

fn bearer(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

impl FromRequestParts<AppState> for CurrentAgent {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let key = bearer(parts)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| Error::Unauthorized("Missing or invalid Authorization header".into()))?;
        let agent = pinchwork_common::db::agents::find_by_key_hash(
            &state.market.pool,
            &ids::hash_api_key(key),
        )
        .await?
        .ok_or_else(|| Error::Unauthorized("Invalid API key".into()))?;
        if agent.suspended {
            return Err(Error::forbidden("Agent suspended").into());
        }
        Ok(Self(agent))
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
        let given = bearer(parts)
            .ok_or_else(|| Error::Unauthorized("Missing Authorization header".into()))?;
        if bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
            Ok(Self)
        } else {
            Err(Error::forbidden("Invalid admin key").into())
        }
    }
}
