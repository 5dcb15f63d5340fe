//! The marketplace's commands. Each runs in one transaction: state, credits,
//! ledger rows and outbox events happen whole or not at all.

mod accounts;
mod lifecycle;
mod matching;
mod pickup;
mod social;
mod timers;

use std::sync::Arc;

use sqlx::PgPool;
use tokio::sync::Notify;

pub use accounts::{Registration, RegistrationInput};
pub use lifecycle::{CreateTaskInput, Rejection};
pub use matching::{MatchOutcome, builtin_ranking, keywords};
pub use social::{MAX_UNANSWERED_QUESTIONS, PosterRating};
pub use timers::{Rule, SweepReport};

use crate::{Config, Error, db::tasks::Task};

/// Handle to the marketplace: the pool, the configuration and the outbox
/// publisher's wake-up signal.
#[derive(Clone)]
pub struct Market {
    pub pool: PgPool,
    pub config: Arc<Config>,
    /// Notified after each commit so the outbox publisher runs at once.
    pub outbox_wake: Arc<Notify>,
}

impl Market {
    /// A marketplace over `pool`.
    pub fn new(pool: PgPool, config: Arc<Config>) -> Self {
        Self {
            pool,
            config,
            outbox_wake: Arc::new(Notify::new()),
        }
    }

    /// Called right after a command commits: wakes the outbox publisher.
    /// With the test-only `PINCHWORK_FAULT_EXIT_AFTER_COMMIT` the process
    /// exits here instead, leaving its outbox rows to another node's sweeper.
    pub fn published_soon(&self) {
        if self.config.fault_exit_after_commit {
            tracing::error!("fault injection: exiting between commit and publish");
            std::process::exit(86);
        }
        self.outbox_wake.notify_one();
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
