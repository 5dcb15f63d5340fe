//! A task's life: create (escrow), deliver, approve (payment), reject (grace),
//! cancel (refund) and abandon.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::json;
use sqlx::{Connection, PgConnection};

use super::{Market, refusal};
use crate::{
    Config, Error, Result,
    db::{
        agents,
        ledger::{self, Kind},
        outbox, ratings,
        tasks::{self, Task},
        trust,
    },
    domain::{Credits, EventType, MatchStatus, TaskStatus, money, validate},
    ids::{AgentId, TaskId},
    metrics,
};

/// What a poster sends to create a task.
#[derive(Debug, Default)]
pub struct CreateTaskInput {
    pub need: Option<String>,
    pub context: Option<String>,
    pub max_credits: Option<i64>,
    pub tags: Vec<String>,
    pub deadline_minutes: Option<i64>,
    pub review_timeout_minutes: Option<i64>,
    pub claim_timeout_minutes: Option<i64>,
    /// Keep the task away from infra agents (no system tasks about it).
    pub private: bool,
}

/// The outcome of a rejection.
#[derive(Debug)]
pub struct Rejection {
    pub task: Task,
    /// True when this rejection reached the maximum and released the worker.
    pub worker_released: bool,
}

const DEFAULT_MAX_CREDITS: i64 = 50;
const MAX_TIMEOUT_MINUTES: i64 = 1440;

impl CreateTaskInput {
    fn validate(&self) -> Result<(String, Credits)> {
        let need = match self.need.as_deref() {
            None => return Err(Error::bad_request("Missing 'need' field")),
            Some(n) if n.trim().is_empty() => {
                return Err(Error::bad_request("Missing 'need' field"));
            }
            Some(n) => n,
        };
        validate::max_chars("need", need, validate::MAX_NEED)?;
        if let Some(context) = &self.context {
            validate::max_chars("context", context, validate::MAX_CONTEXT)?;
        }
        let max_credits = validate::int_range(
            "max_credits",
            self.max_credits.unwrap_or(DEFAULT_MAX_CREDITS),
            1,
            validate::MAX_CREDITS,
        )?;
        validate::tags(&self.tags)?;
        if let Some(m) = self.deadline_minutes {
            validate::int_range("deadline_minutes", m, 1, validate::MAX_DEADLINE_MINUTES)?;
        }
        if let Some(m) = self.review_timeout_minutes {
            validate::int_range("review_timeout_minutes", m, 1, MAX_TIMEOUT_MINUTES)?;
        }
        if let Some(m) = self.claim_timeout_minutes {
            validate::int_range("claim_timeout_minutes", m, 1, MAX_TIMEOUT_MINUTES)?;
        }
        Ok((need.to_string(), Credits::new(max_credits)))
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, false)
}

impl Market {
    /// Posts a task, takes its budget into escrow (402 when the balance is
    /// short) and routes it, or asks the matcher to when infra agents exist.
    /// A task the built-in matcher routes is inserted already routed
    /// (`matched` with its match rows, or `broadcast`): one row version, so
    /// no update of the new row and no dead index entries behind it.
    pub async fn create_task(&self, poster_id: &AgentId, input: CreateTaskInput) -> Result<Task> {
        let (need, max_credits) = input.validate()?;
        let task_id = TaskId::generate();
        // The routing reads need no transaction (each statement reads its own
        // snapshot either way); the writes are one statement, so a task the
        // built-in matcher routes costs no BEGIN and no COMMIT round trip.
        let mut conn = self.pool.acquire().await?;
        // Without infra agents the built-in matcher routes the task here;
        // otherwise the matcher service spawns their match_agents task (and
        // its sweep routes whatever stays pending).
        let queued = super::matching::infra_matches(&mut conn, &self.config, input.private).await?;
        let ranked = if queued {
            Vec::new()
        } else {
            let platform = &self.config.platform_agent_id;
            super::matching::builtin_match_new(&mut conn, platform, poster_id, &need, &input.tags)
                .await?
        };
        let match_status = match (queued, ranked.is_empty()) {
            (true, _) => MatchStatus::Pending,
            (false, true) => MatchStatus::Broadcast,
            (false, false) => MatchStatus::Matched,
        };
        let new = tasks::NewTask {
            id: &task_id,
            poster_id,
            need: &need,
            context: input.context.as_deref(),
            max_credits,
            tags: &input.tags,
            escrowed: true,
            private: input.private,
            system_task_type: None,
            parent_task_id: None,
            target_agent_id: None,
            match_status: Some(match_status),
            match_timeout_seconds: self.config.match_timeout_seconds,
            deadline_minutes: input.deadline_minutes,
            review_timeout_minutes: input.review_timeout_minutes,
            claim_timeout_minutes: input.claim_timeout_minutes,
            expire_hours: self.config.task_expire_hours,
        };
        let task = if queued {
            let mut tx = conn.begin().await?;
            let task = tasks::insert_escrowed(&mut tx, &new, &[]).await?;
            if task.is_some() {
                outbox::enqueue_command(
                    &mut tx,
                    "matcher",
                    "task_created",
                    json!({ "task_id": task_id }),
                )
                .await?;
                tx.commit().await?;
                self.published_soon();
            }
            task
        } else {
            tasks::insert_escrowed(&mut conn, &new, &ranked).await?
        };
        let Some(task) = task else {
            let have = ledger::balance(&mut *conn, poster_id).await?;
            return Err(Error::PaymentRequired(format!(
                "Insufficient credits. Have {have}, need {max_credits}"
            )));
        };
        metrics::counter!(metrics::TASK_ACTIONS, "action" => "create").increment(1);
        Ok(task)
    }

    /// A task as its poster or worker sees it; 404 for everyone else.
    pub async fn task_for(&self, agent_id: &AgentId, task_id: &TaskId) -> Result<Task> {
        match tasks::get(&self.pool, task_id).await? {
            Some(t) if t.poster_id == agent_id || t.worker_id.as_ref() == Some(agent_id) => Ok(t),
            _ => Err(Error::task_not_found()),
        }
    }

    /// claimed → delivered by the worker. A system task is settled at once.
    pub async fn deliver(
        &self,
        worker_id: &AgentId,
        task_id: &TaskId,
        result: Option<String>,
        credits_claimed: Option<i64>,
    ) -> Result<Task> {
        let result = match result {
            Some(r) if !r.trim().is_empty() => r,
            _ => return Err(Error::bad_request("Missing result")),
        };
        validate::max_chars("result", &result, validate::MAX_RESULT)?;
        if let Some(claimed) = credits_claimed {
            validate::int_range("credits_claimed", claimed, 1, i64::MAX)?;
        }
        let delivery = tasks::Delivery {
            task_id,
            worker_id,
            result: &result,
            credits_claimed: credits_claimed.map(Credits::new),
            default_review_timeout_minutes: self.config.default_review_timeout_minutes,
            platform_id: &self.config.platform_agent_id,
        };
        let mut conn = self.pool.acquire().await?;
        // The common case in one statement; the full delivery below for a
        // system task, a task to verify, and to explain a refusal.
        if let Some(task) = tasks::deliver_plain(&mut conn, &delivery).await? {
            self.published_soon();
            metrics::counter!(metrics::TASK_ACTIONS, "action" => "deliver").increment(1);
            return Ok(task);
        }
        let mut tx = conn.begin().await?;
        let delivered = tasks::deliver(&mut tx, &delivery).await?;
        let Some(tasks::Delivered {
            task,
            infra_agents_exist,
        }) = delivered
        else {
            // Both go back to the pool before the refusal takes a connection:
            // holding one while waiting for another starves a busy pool.
            drop(tx);
            drop(conn);
            return Err(refusal(&self.pool, task_id, worker_id, |t| {
                if t.worker_id.as_deref() != Some(worker_id) {
                    Error::not_your_task()
                } else {
                    Error::conflict(format!("Task is {}, not claimed", t.status))
                }
            })
            .await);
        };
        if task.is_system {
            // A malformed result returns here, before the payout; dropping
            // the transaction leaves the system task claimed.
            super::matching::apply_system_result(&mut tx, &self.config, &task).await?;
            approve_in(&mut tx, &self.config, &task).await?;
        } else {
            if infra_agents_exist {
                super::matching::spawn_verification(&mut tx, &self.config, &task).await?;
            }
            outbox::enqueue_event(
                &mut tx,
                &task.poster_id,
                EventType::TaskDelivered,
                &task.id,
                json!({}),
            )
            .await?;
        }
        tx.commit().await?;
        self.published_soon();
        metrics::counter!(metrics::TASK_ACTIONS, "action" => "deliver").increment(1);
        Ok(task)
    }

    /// delivered → approved by the poster, with an optional 1–5 rating of the
    /// worker; `feedback` is stored with the rating (there is nothing to store
    /// it with when no rating is given).
    pub async fn approve(
        &self,
        poster_id: &AgentId,
        task_id: &TaskId,
        rating: Option<i64>,
        feedback: Option<String>,
    ) -> Result<Task> {
        if let Some(feedback) = &feedback {
            validate::max_chars("feedback", feedback, validate::MAX_REASON)?;
        }
        let feedback = feedback.filter(|f| !f.trim().is_empty());
        if let Some(r) = rating {
            validate::int_range("rating", r, 1, 5)?;
        }
        let mut tx = self.pool.begin().await?;
        let Some(task) = tasks::approve(&mut tx, task_id, Some(poster_id)).await? else {
            drop(tx);
            return Err(refusal(&self.pool, task_id, poster_id, |t| {
                if t.poster_id != poster_id {
                    Error::not_your_task()
                } else {
                    Error::conflict(format!("Task is {}, not delivered", t.status))
                }
            })
            .await);
        };
        settle_approved(&mut tx, &self.config, &task).await?;
        let worker = task.worker()?;
        if let Some(score) = rating {
            ratings::insert(
                &mut tx,
                &task.id,
                &task.poster_id,
                worker,
                score as i32,
                feedback.as_deref(),
            )
            .await?;
        }
        trust::record_outcomes(
            &mut tx,
            &[(&task.poster_id, worker), (worker, &task.poster_id)],
            true,
        )
        .await?;
        tx.commit().await?;
        self.published_soon();
        metrics::counter!(metrics::TASK_ACTIONS, "action" => "approve").increment(1);
        Ok(task)
    }

    /// delivered → claimed (the worker keeps a grace period to re-deliver), or
    /// → posted when the maximum number of rejections is reached.
    pub async fn reject(
        &self,
        poster_id: &AgentId,
        task_id: &TaskId,
        reason: Option<String>,
        feedback: Option<String>,
    ) -> Result<Rejection> {
        let reason = validate::required_text("reason", reason.as_deref(), validate::MAX_REASON)?;
        if let Some(feedback) = &feedback {
            validate::max_chars("feedback", feedback, validate::MAX_REASON)?;
        }
        let mut tx = self.pool.begin().await?;
        let rejected = tasks::reject(
            &mut tx,
            task_id,
            poster_id,
            &reason,
            self.config.max_rejections,
            self.config.rejection_grace_minutes,
            self.config.task_expire_hours,
        )
        .await?;
        let Some((task, worker)) = rejected else {
            drop(tx);
            return Err(refusal(&self.pool, task_id, poster_id, |t| {
                if t.poster_id != poster_id {
                    Error::not_your_task()
                } else {
                    Error::conflict(format!("Task is {}, not delivered", t.status))
                }
            })
            .await);
        };
        let worker_released = task.status == TaskStatus::Posted;
        let mut data = json!({ "reason": reason });
        if let Some(feedback) = &feedback {
            data["feedback"] = json!(feedback);
        }
        match task.rejection_grace_deadline {
            Some(grace) if !worker_released => data["grace_deadline"] = json!(rfc3339(grace)),
            _ => data["max_rejections_reached"] = json!(true),
        }
        trust::record_outcome(&mut tx, &task.poster_id, &worker, false).await?;
        outbox::enqueue_event(&mut tx, &worker, EventType::TaskRejected, &task.id, data).await?;
        tx.commit().await?;
        self.published_soon();
        metrics::counter!(metrics::TASK_ACTIONS, "action" => "reject").increment(1);
        Ok(Rejection {
            task,
            worker_released,
        })
    }

    /// posted → cancelled by the poster, with a full refund.
    pub async fn cancel(&self, poster_id: &AgentId, task_id: &TaskId) -> Result<Task> {
        let mut tx = self.pool.begin().await?;
        let Some(task) = tasks::cancel(&mut tx, task_id, poster_id).await? else {
            drop(tx);
            return Err(refusal(&self.pool, task_id, poster_id, |t| {
                if t.poster_id != poster_id {
                    Error::not_your_task()
                } else {
                    Error::conflict(format!(
                        "Task is {}, can only cancel posted tasks",
                        t.status
                    ))
                }
            })
            .await);
        };
        if task.escrowed {
            refund_escrow(&mut tx, &self.config, &task.id, poster_id, task.max_credits).await?;
        }
        tasks::cancel_open_children(&mut tx, &task.id).await?;
        for agent in tasks::matched_agents(&mut *tx, &task.id).await? {
            outbox::enqueue_event(
                &mut tx,
                &agent,
                EventType::TaskCancelled,
                &task.id,
                json!({}),
            )
            .await?;
        }
        tx.commit().await?;
        self.published_soon();
        metrics::counter!(metrics::TASK_ACTIONS, "action" => "cancel").increment(1);
        Ok(task)
    }

    /// claimed → posted by the worker; counts toward the abandon cooldown.
    pub async fn abandon(&self, worker_id: &AgentId, task_id: &TaskId) -> Result<Task> {
        let mut tx = self.pool.begin().await?;
        let abandoned =
            tasks::abandon(&mut tx, task_id, worker_id, self.config.task_expire_hours).await?;
        let Some(task) = abandoned else {
            drop(tx);
            return Err(refusal(&self.pool, task_id, worker_id, |t| {
                if t.status != TaskStatus::Claimed {
                    Error::conflict(format!("Task is {}, not claimed", t.status))
                } else {
                    Error::not_your_task()
                }
            })
            .await);
        };
        agents::record_abandon(&mut tx, worker_id).await?;
        tx.commit().await?;
        self.published_soon();
        metrics::counter!(metrics::TASK_ACTIONS, "action" => "abandon").increment(1);
        Ok(task)
    }
}

/// Returns a cancelled or expired task's escrow to its poster, less the
/// matching an infra agent was already paid for it: matching is paid by the
/// platform out of the fee of a completed task, so a task that ends without
/// completing pays its own matching back to the platform (otherwise posting
/// and cancelling would let a colluding infra agent drain the platform).
pub async fn refund_escrow(
    conn: &mut PgConnection,
    config: &Config,
    task_id: &TaskId,
    poster_id: &AgentId,
    max_credits: Credits,
) -> Result<()> {
    let matching = tasks::paid_matching(&mut *conn, task_id)
        .await?
        .clamp(Credits::ZERO, max_credits);
    if max_credits > matching {
        ledger::record(
            conn,
            poster_id,
            max_credits - matching,
            "refund",
            Kind::Transfer,
            Some(task_id),
        )
        .await?;
    }
    if matching > Credits::ZERO {
        ledger::record(
            conn,
            &config.platform_agent_id,
            matching,
            "matching_repaid",
            Kind::Transfer,
            Some(task_id),
        )
        .await?;
    }
    Ok(())
}

/// Approves a delivered task inside the caller's transaction when the platform
/// decides (system tasks at delivery, the review timeout): no rating, no trust.
pub async fn approve_in(
    conn: &mut PgConnection,
    config: &Config,
    task: &Task,
) -> Result<Option<Task>> {
    let Some(approved) = tasks::approve(conn, &task.id, None).await? else {
        return Ok(None);
    };
    settle_approved(conn, config, &approved).await?;
    Ok(Some(approved))
}

/// Pays out an approved task: the worker gets the charge minus the platform
/// fee (and one more completed task), the platform the fee, the poster the
/// unused escrow. System tasks are
/// paid by the platform from its balance (which the fees fund), without a
/// fee: a transfer, so no credits are minted.
pub async fn settle_approved(conn: &mut PgConnection, config: &Config, task: &Task) -> Result<()> {
    let worker = task.worker()?;
    let charged = task.credits_charged.unwrap_or_default();
    if task.escrowed {
        let split = money::settle(task.max_credits, charged, config.platform_fee_percent);
        ledger::pay_worker(conn, worker, split.worker, &task.id).await?;
        if split.fee > Credits::ZERO {
            ledger::record(
                conn,
                &config.platform_agent_id,
                split.fee,
                "platform_fee",
                Kind::Transfer,
                Some(&task.id),
            )
            .await?;
        }
        if split.refund > Credits::ZERO {
            ledger::record(
                conn,
                &task.poster_id,
                split.refund,
                "refund",
                Kind::Transfer,
                Some(&task.id),
            )
            .await?;
        }
    } else {
        let paid = ledger::debit(
            conn,
            &config.platform_agent_id,
            charged,
            "system_payout",
            &task.id,
        )
        .await?;
        if paid.is_err() {
            // The caller's transaction rolls back: the work stays delivered or claimed.
            return Err(Error::Unavailable(
                "The platform cannot pay for system work right now".into(),
            ));
        }
        ledger::pay_worker(conn, worker, charged, &task.id).await?;
    }
    if !task.is_system {
        outbox::enqueue_event(conn, worker, EventType::TaskApproved, &task.id, json!({})).await?;
    }
    Ok(())
}
