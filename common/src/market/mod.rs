//! The marketplace's commands. Each runs in one transaction: state, credits,
//! ledger rows and outbox events happen whole or not at all.

use crate::ids::{AgentId, TaskId};

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
pub use matching::{MatchOutcome, TERMS_BATCH, agent_terms, good_at_terms, keywords, tag_terms};
pub use social::{MAX_UNANSWERED_QUESTIONS, PosterRating};
pub use timers::{Rule, SweepReport};

use crate::{Config, Error, db::tasks::Task, domain::TaskStatus};

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

/// Whether `agent_id` may know that `task` exists: its poster, its worker,
/// or anyone while it is open in the pool. Everyone else gets the same 404
/// as for a task that does not exist, from every route.
pub fn visible_to(task: &Task, agent_id: &AgentId) -> bool {
    task.poster_id == agent_id
        || task.worker_id.as_deref() == Some(agent_id)
        || (task.status == TaskStatus::Posted && !task.is_system)
}

/// Builds the refusal for a guarded transition `agent_id` asked for that
/// changed no row: 404 when the task does not exist or the agent may not see
/// it, otherwise what `explain` says about its state.
async fn refusal(
    pool: &PgPool,
    task_id: &TaskId,
    agent_id: &AgentId,
    explain: impl FnOnce(&Task) -> Error,
) -> Error {
    match crate::db::tasks::get(pool, task_id).await {
        Ok(Some(task)) if visible_to(&task, agent_id) => explain(&task),
        Ok(_) => Error::task_not_found(),
        Err(err) => err.into(),
    }
}
