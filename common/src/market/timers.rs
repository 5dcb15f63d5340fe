//! The timed rules: what happens when a task's due time passes, and when
//! stored events outlive their retention. Each rule
//! handles one small batch per transaction — the state change, its credits
//! and ledger rows, and its outbox events commit together or not at all — so
//! a crash loses nothing and repeats nothing, and several instances share the
//! work through `SKIP LOCKED`.

use std::fmt;

use serde_json::json;
use sqlx::PgConnection;

use super::{
    Market,
    lifecycle::{approve_in, refund_escrow},
};
use crate::{
    Config, Result,
    db::{
        deadlines::{self, ExpiredTask, ReleasedTask},
        idempotency, outbox, tasks, webhooks,
    },
    domain::EventType,
    ids::TaskId,
};

/// One timed rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// A claimed task past its `deadline` goes back to the pool without it.
    ClaimPastDeadline,
    /// A posted task past its `deadline` expires with a refund.
    PostedPastDeadline,
    /// A posted task past `expires_at` expires with a refund.
    Expiry,
    /// A rejected delivery not re-delivered within the grace goes back to the pool.
    RejectionGrace,
    /// A claim not delivered in time goes back to the pool.
    ClaimTimeout,
    /// A delivery not reviewed in time is approved and paid.
    ReviewTimeout,
    /// A system task left delivered is approved and paid (fallback).
    SystemAutoApprove,
    /// A match window closes: the task opens to everyone.
    MatchTimeout,
    /// A pending verification is given up.
    VerificationTimeout,
    /// Published outbox rows older than the events' retention are deleted.
    OutboxRetention,
    /// Finished webhook deliveries older than the events' retention are deleted.
    WebhookDeliveryRetention,
    /// A stored `Idempotency-Key` answer older than the window is deleted.
    IdempotencyExpiry,
}

impl Rule {
    /// Every rule, in the order a sweep applies them.
    pub const ALL: &'static [Rule] = &[
        Self::ClaimPastDeadline,
        Self::PostedPastDeadline,
        Self::Expiry,
        Self::RejectionGrace,
        Self::ClaimTimeout,
        Self::ReviewTimeout,
        Self::SystemAutoApprove,
        Self::MatchTimeout,
        Self::VerificationTimeout,
        Self::OutboxRetention,
        Self::WebhookDeliveryRetention,
        Self::IdempotencyExpiry,
    ];

    /// A short name for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClaimPastDeadline => "claim_past_deadline",
            Self::PostedPastDeadline => "posted_past_deadline",
            Self::Expiry => "expiry",
            Self::RejectionGrace => "rejection_grace",
            Self::ClaimTimeout => "claim_timeout",
            Self::ReviewTimeout => "review_timeout",
            Self::SystemAutoApprove => "system_auto_approve",
            Self::MatchTimeout => "match_timeout",
            Self::VerificationTimeout => "verification_timeout",
            Self::OutboxRetention => "outbox_retention",
            Self::WebhookDeliveryRetention => "webhook_delivery_retention",
            Self::IdempotencyExpiry => "idempotency_expiry",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one sweep did.
#[derive(Debug, Default, Clone)]
pub struct SweepReport {
    /// Transitions applied per rule (rules that applied none are left out).
    pub applied: Vec<(Rule, usize)>,
    /// True when some rule filled a whole batch, so more may be due right now.
    pub saturated: bool,
}

impl SweepReport {
    /// Total transitions applied.
    pub fn total(&self) -> usize {
        self.applied.iter().map(|(_, n)| n).sum()
    }
}

impl Market {
    /// Applies one batch of every rule, each in its own transaction.
    pub async fn sweep_once(&self) -> Result<SweepReport> {
        let mut report = SweepReport::default();
        let batch = self.config.deadlines_batch;
        for &rule in Rule::ALL {
            let applied = self.apply_due(rule).await?;
            if applied > 0 {
                tracing::info!(%rule, applied, "timed transitions applied");
                report.applied.push((rule, applied));
            }
            // A full batch of locked rows means more may be due; a rule that
            // skipped rows (status changed under it) may count fewer.
            if applied as i64 >= batch {
                report.saturated = true;
            }
        }
        Ok(report)
    }

    /// Applies one batch of `rule` in one transaction; returns how many
    /// transitions it made.
    #[tracing::instrument(skip(self), fields(rule = %rule))]
    pub async fn apply_due(&self, rule: Rule) -> Result<usize> {
        let limit = self.config.deadlines_batch;
        let hours = self.config.task_expire_hours;
        let mut tx = self.pool.begin().await?;
        let applied = match rule {
            Rule::ClaimPastDeadline => {
                let released =
                    deadlines::release_claims_past_deadline(&mut tx, limit, hours).await?;
                notify_workers(&mut tx, &released, EventType::DeadlineExpired).await?
            }
            Rule::RejectionGrace => {
                let released =
                    deadlines::release_expired_rejection_graces(&mut tx, limit, hours).await?;
                notify_workers(&mut tx, &released, EventType::RejectionGraceExpired).await?
            }
            Rule::ClaimTimeout => {
                let released = deadlines::release_timed_out_claims(&mut tx, limit, hours).await?;
                notify_workers(&mut tx, &released, EventType::ClaimTimeoutExpired).await?
            }
            Rule::PostedPastDeadline => {
                let expired = deadlines::expire_tasks_past_deadline(&mut tx, limit).await?;
                settle_expired(&mut tx, &self.config, &expired, true).await?
            }
            Rule::Expiry => {
                let expired = deadlines::expire_unclaimed_tasks(&mut tx, limit).await?;
                settle_expired(&mut tx, &self.config, &expired, false).await?
            }
            Rule::ReviewTimeout => {
                if self.config.disable_auto_approve {
                    0
                } else {
                    let due = deadlines::lock_overdue_reviews(&mut tx, limit).await?;
                    self.approve_all(&mut tx, &due).await?
                }
            }
            Rule::SystemAutoApprove => {
                let due = deadlines::lock_unsettled_system_deliveries(
                    &mut tx,
                    limit,
                    self.config.system_task_auto_approve_seconds,
                )
                .await?;
                self.approve_all(&mut tx, &due).await?
            }
            Rule::MatchTimeout => {
                let opened = deadlines::close_match_windows(&mut tx, limit).await?;
                deadlines::cancel_open_system_children(
                    &mut tx,
                    &opened,
                    Some("match_agents"),
                    &["posted"],
                )
                .await?;
                opened.len()
            }
            Rule::VerificationTimeout => {
                let ended = deadlines::end_overdue_verifications(&mut tx, limit).await?;
                deadlines::cancel_open_system_children(
                    &mut tx,
                    &ended,
                    Some("verify_completion"),
                    &["posted", "claimed"],
                )
                .await?;
                ended.len()
            }
            Rule::OutboxRetention => {
                let retention = self.config.outbox_retention_seconds;
                outbox::prune_published(&mut tx, retention, limit).await? as usize
            }
            Rule::WebhookDeliveryRetention => {
                webhooks::prune_finished(&mut tx, self.config.events_retention_hours, limit).await?
                    as usize
            }
            Rule::IdempotencyExpiry => {
                let window = self.config.idempotency_window_seconds;
                idempotency::prune(&mut tx, window, limit).await? as usize
            }
        };
        tx.commit().await?;
        Ok(applied)
    }

    /// Approves and pays locked delivered tasks (no rating, no trust change).
    async fn approve_all(&self, conn: &mut PgConnection, due: &[tasks::Task]) -> Result<usize> {
        let mut applied = 0;
        for task in due {
            if approve_in(conn, &self.config, task).await?.is_some() {
                applied += 1;
            }
        }
        Ok(applied)
    }
}

/// Tells each worker who lost a task why.
async fn notify_workers(
    conn: &mut PgConnection,
    released: &[ReleasedTask],
    event: EventType,
) -> Result<usize> {
    for task in released {
        outbox::enqueue_event(conn, &task.previous_worker, event, &task.id, json!({})).await?;
    }
    Ok(released.len())
}

/// Refunds expired tasks that took an escrow (a system task took none, so
/// nothing is returned for it), closes their open system work and tells the
/// poster — and, for a deadline expiry, every matched agent.
async fn settle_expired(
    conn: &mut PgConnection,
    config: &Config,
    expired: &[ExpiredTask],
    tell_matched: bool,
) -> Result<usize> {
    for task in expired {
        if task.escrowed {
            refund_escrow(conn, config, &task.id, &task.poster_id, task.max_credits).await?;
        }
        if task.is_system {
            continue;
        }
        let mut recipients = vec![task.poster_id.clone()];
        if tell_matched {
            for agent in tasks::matched_agents(&mut *conn, &task.id).await? {
                if !recipients.contains(&agent) {
                    recipients.push(agent);
                }
            }
        }
        for recipient in &recipients {
            outbox::enqueue_event(conn, recipient, EventType::TaskExpired, &task.id, json!({}))
                .await?;
        }
    }
    let parents: Vec<TaskId> = expired
        .iter()
        .filter(|t| !t.is_system)
        .map(|t| t.id.clone())
        .collect();
    deadlines::cancel_open_system_children(conn, &parents, None, &["posted", "claimed"]).await?;
    Ok(expired.len())
}
