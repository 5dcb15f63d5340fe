//! Claiming work: next best task, a batch, or one specific task; and browsing.

use chrono::SecondsFormat;

use super::Market;
use crate::ids::TaskId;
use crate::{
    Error, Result,
    db::{
        agents::{self, Agent},
        tasks::{self, ListedTask, PoolFilter, Role, Task},
    },
    domain::TaskStatus,
    metrics,
};

/// Largest batch one request may claim.
pub const MAX_BATCH: i64 = 10;

/// Counts the tasks one pickup claimed, or the pickup that found none.
fn count_pickup(claimed: usize) {
    if claimed == 0 {
        metrics::counter!(metrics::PICKUPS_EMPTY).increment(1);
    } else {
        metrics::counter!(metrics::CLAIMS).increment(claimed as u64);
    }
}

impl Market {
    /// 429 while the agent's abandon cooldown runs.
    async fn check_cooldown(&self, agent: &Agent) -> Result<()> {
        if agent.abandon_count < self.config.max_abandons_before_cooldown {
            return Ok(());
        }
        let until = agents::abandon_cooldown_until(
            &self.pool,
            &agent.id,
            self.config.max_abandons_before_cooldown,
            self.config.abandon_cooldown_minutes,
        )
        .await?;
        match until {
            Some(until) => Err(Error::TooManyRequests {
                message: format!(
                    "Too many abandons. Cooldown until {}",
                    until.to_rfc3339_opts(SecondsFormat::Secs, false)
                ),
                retry_after_secs: Some((until - chrono::Utc::now()).num_seconds().max(1) as u64),
            }),
            None => Ok(()),
        }
    }

    async fn claim_next(&self, agent: &Agent, filter: &PoolFilter) -> Result<Option<ListedTask>> {
        let mut conn = self.pool.acquire().await?;
        Ok(tasks::claim_next(
            &mut conn,
            &agent.id,
            &agent.capability_tags_lower(),
            filter,
            agent.is_infra(),
            self.config.default_claim_timeout_minutes,
        )
        .await?)
    }

    /// Claims the best available task for the agent, if any.
    pub async fn pickup(&self, agent: &Agent, filter: &PoolFilter) -> Result<Option<ListedTask>> {
        self.check_cooldown(agent).await?;
        let claimed = self.claim_next(agent, filter).await?;
        count_pickup(usize::from(claimed.is_some()));
        Ok(claimed)
    }

    /// Claims up to `count` tasks, each claim atomic on its own.
    pub async fn pickup_batch(
        &self,
        agent: &Agent,
        filter: &PoolFilter,
        count: i64,
    ) -> Result<Vec<ListedTask>> {
        if !(1..=MAX_BATCH).contains(&count) {
            return Err(Error::bad_request(format!(
                "Invalid request body: count must be between 1 and {MAX_BATCH}"
            )));
        }
        self.check_cooldown(agent).await?;
        let mut claimed = Vec::new();
        while (claimed.len() as i64) < count {
            match self.claim_next(agent, filter).await? {
                Some(task) => claimed.push(task),
                None => break,
            }
        }
        count_pickup(claimed.len());
        Ok(claimed)
    }

    /// Claims one specific task (matched to someone else or not). The claim
    /// goes first (one statement); only a refused claim reads why. An agent
    /// that may be in its abandon cooldown is refused for the task first, as
    /// anyone would be, and only then for the cooldown.
    pub async fn pickup_specific(&self, agent: &Agent, task_id: &TaskId) -> Result<ListedTask> {
        if agent.abandon_count >= self.config.max_abandons_before_cooldown {
            self.refuse_specific(agent, task_id).await?;
            self.check_cooldown(agent).await?;
        }
        let mut conn = self.pool.acquire().await?;
        let claimed = tasks::claim_specific(
            &mut conn,
            task_id,
            &agent.id,
            self.config.default_claim_timeout_minutes,
        )
        .await?;
        drop(conn);
        let Some(claimed) = claimed else {
            self.refuse_specific(agent, task_id).await?;
            return Err(Error::conflict("Task already claimed"));
        };
        metrics::counter!(metrics::CLAIMS).increment(1);
        Ok(claimed)
    }

    /// Why the agent may not claim this task: 404, or a 409 naming the
    /// reason. `Ok` when none of these applies (a claim can still lose a race).
    async fn refuse_specific(&self, agent: &Agent, task_id: &TaskId) -> Result<()> {
        let task = tasks::get(&self.pool, task_id)
            .await?
            .ok_or_else(Error::task_not_found)?;
        if task.status != TaskStatus::Posted {
            return Err(Error::conflict(format!(
                "Task is {}, not posted",
                task.status
            )));
        }
        if task.poster_id == agent.id {
            return Err(Error::conflict("Cannot pick up your own task"));
        }
        if task.is_system {
            return Err(Error::conflict("Cannot directly pick up system tasks"));
        }
        if tasks::did_system_work_on(&self.pool, task_id, &agent.id).await? {
            return Err(Error::conflict(
                "Conflict: you did system work on this task",
            ));
        }
        Ok(())
    }

    /// A page of the tasks the agent could pick up, in browse order.
    pub async fn available(
        &self,
        agent: &Agent,
        filter: &PoolFilter,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<ListedTask>, i64)> {
        Ok(tasks::browse(
            &self.pool,
            &agent.id,
            &agent.capability_tags_lower(),
            filter,
            limit,
            offset,
        )
        .await?)
    }

    /// A page of the agent's own tasks as poster and/or worker.
    pub async fn mine(
        &self,
        agent: &Agent,
        role: Role,
        status: Option<TaskStatus>,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<Task>, i64)> {
        Ok(tasks::mine(&self.pool, &agent.id, role, status, limit, offset).await?)
    }
}
