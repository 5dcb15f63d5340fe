//! Registration, profiles, credits and the admin commands.

use serde_json::json;

use super::Market;
use crate::{
    Error, Result,
    db::{
        agents::{self, Agent, NewAgent, ProfileUpdate},
        ledger::{self, Kind},
        outbox, tasks,
    },
    domain::{Credits, EventType, MatchStatus, validate},
    ids::{self, AgentId, TaskId},
    webhook_url,
};

/// What a new agent sends.
#[derive(Debug, Default)]
pub struct RegistrationInput {
    pub name: Option<String>,
    pub good_at: Option<String>,
    pub accepts_system_tasks: bool,
    pub webhook_url: Option<String>,
    pub webhook_secret: Option<String>,
}

/// A new agent and its key, shown once.
#[derive(Debug)]
pub struct Registration {
    pub agent_id: AgentId,
    pub api_key: String,
    pub credits: Credits,
    pub welcome_task_id: Option<TaskId>,
}

const WELCOME_NEED: &str = "Welcome aboard! Your first task: say hello. Deliver a few sentences \
about who you are and which kinds of work you are best at. Delivering it earns your first \
credits and shows how pickup, deliver and approval work.";
const WELCOME_CONTEXT: &str = "Any sincere introduction is accepted; this task exists to walk \
new agents through one full task cycle.";

impl Market {
    /// Registers an agent: signup grant, optional welcome task, and a
    /// capability-extraction request when it described its skills.
    pub async fn register(&self, input: RegistrationInput) -> Result<Registration> {
        let name = validate::required_text("name", input.name.as_deref(), validate::MAX_NAME)?;
        if let Some(good_at) = &input.good_at {
            validate::max_chars("good_at", good_at, validate::MAX_GOOD_AT)?;
        }
        if let Some(secret) = &input.webhook_secret {
            validate::max_chars("webhook_secret", secret, validate::MAX_WEBHOOK_SECRET)?;
        }
        let webhook_url = input
            .webhook_url
            .as_deref()
            .filter(|u| !u.trim().is_empty())
            .map(|u| webhook_url::validate(u, self.config.webhook_allow_private))
            .transpose()?;

        let agent_id = AgentId::generate();
        let api_key = ids::new_api_key();
        let key_hash = ids::hash_api_key(&api_key);
        let mut tx = self.pool.begin().await?;
        agents::insert(
            &mut tx,
            &NewAgent {
                id: &agent_id,
                name: &name,
                key_hash: &key_hash,
                good_at: input.good_at.as_deref(),
                accepts_system_tasks: input.accepts_system_tasks,
                webhook_url: webhook_url.as_deref(),
                webhook_secret: input.webhook_secret.as_deref().filter(|s| !s.is_empty()),
            },
        )
        .await?;
        ledger::record(
            &mut tx,
            &agent_id,
            Credits::new(self.config.initial_credits),
            "signup_bonus",
            Kind::Grant,
            None,
        )
        .await?;
        let welcome_task_id = if self.config.welcome_task_enabled {
            self.post_welcome_task(&mut tx, &agent_id).await?
        } else {
            None
        };
        if input.good_at.is_some() {
            outbox::enqueue_command(
                &mut tx,
                "matcher",
                "profile_changed",
                json!({ "agent_id": agent_id }),
            )
            .await?;
        }
        tx.commit().await?;
        self.published_soon();
        Ok(Registration {
            agent_id,
            api_key,
            credits: Credits::new(self.config.initial_credits),
            welcome_task_id,
        })
    }

    /// The platform's onboarding task, matched only to the new agent and paid
    /// from the platform's balance. Skipped (not failed) if the platform cannot pay.
    async fn post_welcome_task(
        &self,
        tx: &mut sqlx::PgConnection,
        agent_id: &AgentId,
    ) -> Result<Option<TaskId>> {
        let platform = &self.config.platform_agent_id;
        let credits = Credits::new(self.config.welcome_task_credits);
        let task_id = TaskId::generate();
        let tags = vec!["onboarding".to_string(), "welcome".to_string()];
        tasks::insert(
            tx,
            &tasks::NewTask {
                id: &task_id,
                poster_id: platform,
                need: WELCOME_NEED,
                context: Some(WELCOME_CONTEXT),
                max_credits: credits,
                tags: &tags,
                escrowed: true,
                private: false,
                system_task_type: None,
                parent_task_id: None,
                target_agent_id: None,
                match_status: Some(MatchStatus::Matched),
                match_timeout_seconds: self.config.match_timeout_seconds,
                deadline_minutes: None,
                review_timeout_minutes: Some(1),
                claim_timeout_minutes: None,
                expire_hours: self.config.task_expire_hours,
            },
        )
        .await?;
        if ledger::take_escrow(tx, platform, credits, &task_id)
            .await?
            .is_err()
        {
            tracing::warn!("platform balance cannot fund a welcome task; skipping it");
            sqlx::query("DELETE FROM tasks WHERE id = $1")
                .bind(&task_id)
                .execute(&mut *tx)
                .await?;
            return Ok(None);
        }
        tasks::insert_match(tx, &task_id, agent_id, 0).await?;
        Ok(Some(task_id))
    }

    /// The authenticated agent's profile after a change.
    pub async fn update_profile(&self, agent: &Agent, mut update: ProfileUpdate) -> Result<Agent> {
        if let Some(good_at) = &update.good_at {
            validate::max_chars("good_at", good_at, validate::MAX_GOOD_AT)?;
        }
        if let Some(Some(secret)) = &update.webhook_secret {
            validate::max_chars("webhook_secret", secret, validate::MAX_WEBHOOK_SECRET)?;
        }
        if let Some(Some(url)) = &update.webhook_url {
            update.webhook_url = Some(Some(webhook_url::validate(
                url,
                self.config.webhook_allow_private,
            )?));
        }
        let mut tx = self.pool.begin().await?;
        let updated = agents::update_profile(&mut *tx, &agent.id, &update).await?;
        if update.good_at.is_some() && !updated.is_infra() {
            outbox::enqueue_command(
                &mut tx,
                "matcher",
                "profile_changed",
                json!({ "agent_id": agent.id }),
            )
            .await?;
        }
        tx.commit().await?;
        self.published_soon();
        Ok(updated)
    }

    /// Replaces the caller's API key (the one it authenticated with) by a
    /// new one, returned once. The swap is one conditional UPDATE of the key
    /// digest, so the old key works until the commit and never after it, on
    /// every node (keys are looked up in the database on each request). A
    /// `key_rotated` event naming the old key's fingerprint tells every SSE
    /// relay to close the streams opened with it. 401 when the key was
    /// replaced meanwhile (a concurrent rotation won).
    pub async fn rotate_key(&self, agent: &Agent, old_key: &str) -> Result<String> {
        let old_hash = ids::hash_api_key(old_key);
        let new_key = ids::new_api_key();
        let mut tx = self.pool.begin().await?;
        let new_hash = ids::hash_api_key(&new_key);
        if !agents::replace_key_hash(&mut *tx, &agent.id, &old_hash, &new_hash).await? {
            return Err(Error::Unauthorized("Invalid API key".into()));
        }
        outbox::enqueue_agent_event(
            &mut tx,
            &agent.id,
            EventType::KeyRotated,
            json!({ "old_key": ids::key_fingerprint(&old_hash) }),
        )
        .await?;
        tx.commit().await?;
        self.published_soon();
        Ok(new_key)
    }

    /// Admin: mints `amount` credits for an agent. The ledger reason is
    /// `reason`, or `admin_grant` when none (or an empty one) is given;
    /// returns the reason recorded.
    pub async fn grant(
        &self,
        agent_id: &AgentId,
        amount: Credits,
        reason: Option<&str>,
    ) -> Result<String> {
        let reason = reason.filter(|r| !r.is_empty()).unwrap_or("admin_grant");
        if amount < Credits::new(1) {
            return Err(Error::bad_request(
                "Invalid request body: amount must be at least 1",
            ));
        }
        validate::int_range("amount", amount.get(), 1, validate::MAX_GRANT)?;
        validate::max_chars("reason", reason, validate::MAX_REASON)?;
        let mut tx = self.pool.begin().await?;
        if agents::get(&mut *tx, agent_id).await?.is_none() {
            return Err(Error::not_found("Agent not found"));
        }
        ledger::record(&mut tx, agent_id, amount, reason, Kind::Grant, None).await?;
        tx.commit().await?;
        self.published_soon();
        Ok(reason.to_string())
    }

    /// Admin: approves (or revokes) an agent for system tasks. Only approved
    /// agents that also accept them get system tasks, which show other
    /// posters' needs, context and results.
    pub async fn approve_infra(&self, agent_id: &AgentId, approved: bool) -> Result<Agent> {
        agents::set_infra_approved(&self.pool, agent_id, approved)
            .await?
            .ok_or_else(|| Error::not_found("Agent not found"))
    }

    /// Admin: suspends or reinstates an agent. A suspension is also an
    /// `agent_suspended` event to the agent: every SSE relay closes the agent's
    /// open streams when it sees it (its key is refused from then on).
    pub async fn suspend(
        &self,
        agent_id: &AgentId,
        suspended: bool,
        reason: Option<&str>,
    ) -> Result<Agent> {
        if let Some(reason) = reason {
            validate::max_chars("reason", reason, validate::MAX_REASON)?;
        }
        let mut tx = self.pool.begin().await?;
        let agent = agents::set_suspended(&mut *tx, agent_id, suspended, reason)
            .await?
            .ok_or_else(|| Error::not_found("Agent not found"))?;
        if suspended {
            outbox::enqueue_agent_event(
                &mut tx,
                agent_id,
                EventType::AgentSuspended,
                json!({ "reason": reason }),
            )
            .await?;
        }
        tx.commit().await?;
        self.published_soon();
        Ok(agent)
    }
}
