//! The relay's state and its own routes (the runtime adds the ops routes).

use std::sync::Arc;

use axum::{Router, routing::get};
use pinchwork_common::{Config, bus::Bus};
use sqlx::PgPool;

use crate::{Hub, events};

/// What every handler can reach.
#[derive(Clone)]
pub struct RelayState {
    pub(crate) pool: PgPool,
    pub(crate) bus: Bus,
    pub(crate) hub: Arc<Hub>,
    pub(crate) config: Arc<Config>,
}

/// The relay's own routes (the runtime adds the ops routes).
pub fn router(state: RelayState) -> Router {
    Router::new()
        .route("/v1/events", get(events::events))
        .with_state(state)
}
