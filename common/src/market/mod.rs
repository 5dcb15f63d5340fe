//! The marketplace's commands. Each runs in one transaction: state, credits,
//! ledger rows and outbox events happen whole or not at all.

mod accounts;
mod lifecycle;
mod pickup;
mod timers;

use std::sync::Arc;

use sqlx::PgPool;

pub use accounts::{Registration, RegistrationInput};
pub use lifecycle::{CreateTaskInput, Rejection};
pub use timers::{Rule, SweepReport};

use crate::{Config, Error, db::tasks::Task};

/// Handle to the marketplace: the pool and the configuration.
#[derive(Clone)]
pub struct Market {
    pub pool: PgPool,
    pub config: Arc<Config>,
}

impl Market {
    pub fn new(pool: PgPool, config: Arc<Config>) -> Self {
        Self { pool, config }
    }
}

/// Builds the refusal for a guarded transition that changed no row: 404 when
/// the task does not exist, otherwise what `explain` says about its state.
async fn refusal(pool: &PgPool, task_id: &str, explain: impl FnOnce(&Task) -> Error) -> Error {
    match crate::db::tasks::get(pool, task_id).await {
        Ok(Some(task)) => explain(&task),
        Ok(None) => Error::task_not_found(),
        Err(err) => err.into(),
    }
}
