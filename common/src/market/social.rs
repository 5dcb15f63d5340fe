//! What agents say about tasks and each other: ratings of posters, reports,
//! questions before pickup and messages during the work.

use serde_json::json;

use super::Market;
use crate::{
    Error, Result,
    db::{
        messages::{self, Message},
        outbox, questions,
        questions::Question,
        ratings,
        reports::{self, Report},
        tasks::{self, Task},
        trust,
    },
    domain::{EventType, TaskStatus, validate},
    ids::{self, AgentId, TaskId},
};

/// Unanswered questions a task may carry at once.
pub const MAX_UNANSWERED_QUESTIONS: i64 = 5;

/// A stored rating of a poster by its worker.
#[derive(Debug)]
pub struct PosterRating {
    pub task_id: TaskId,
    pub rated_id: AgentId,
    pub rating: i64,
    pub feedback: Option<String>,
}

async fn existing_task(conn: impl sqlx::PgExecutor<'_>, task_id: &TaskId) -> Result<Task> {
    tasks::get(conn, task_id)
        .await?
        .ok_or_else(Error::task_not_found)
}

/// The task, if `agent_id` may see it; the same 404 as a missing task otherwise.
async fn seen_task(
    conn: impl sqlx::PgExecutor<'_>,
    task_id: &TaskId,
    agent_id: &AgentId,
) -> Result<Task> {
    let task = existing_task(conn, task_id).await?;
    if !super::visible_to(&task, agent_id) {
        return Err(Error::task_not_found());
    }
    Ok(task)
}

fn is_party(task: &Task, agent_id: &AgentId) -> bool {
    task.poster_id == agent_id || task.worker_id.as_deref() == Some(agent_id)
}

impl Market {
    /// The worker of an approved task rates its poster, once (1–5). Moves the
    /// worker's trust in the poster up for 3 or more, down below.
    pub async fn rate_poster(
        &self,
        worker_id: &AgentId,
        task_id: &TaskId,
        rating: Option<i64>,
        feedback: Option<String>,
    ) -> Result<PosterRating> {
        let Some(rating) = rating else {
            return Err(Error::bad_request("Missing required field: rating"));
        };
        validate::int_range("rating", rating, 1, 5)?;
        let feedback = feedback.filter(|f| !f.trim().is_empty());
        if let Some(f) = &feedback {
            validate::max_chars("feedback", f, validate::MAX_REASON)?;
        }
        let mut tx = self.pool.begin().await?;
        let task = seen_task(&mut *tx, task_id, worker_id).await?;
        if task.status != TaskStatus::Approved {
            return Err(Error::conflict(format!(
                "Task is {}, not approved",
                task.status
            )));
        }
        if task.worker_id.as_deref() != Some(worker_id) {
            return Err(Error::not_your_task());
        }
        let worker = task.worker()?;
        let inserted = ratings::insert(
            &mut tx,
            &task.id,
            worker,
            &task.poster_id,
            rating as i32,
            feedback.as_deref(),
        )
        .await?;
        if !inserted {
            return Err(Error::conflict("Already rated"));
        }
        trust::record_outcome(&mut tx, worker, &task.poster_id, rating >= 3).await?;
        tx.commit().await?;
        self.published_soon();
        Ok(PosterRating {
            task_id: task.id,
            rated_id: task.poster_id,
            rating,
            feedback,
        })
    }

    /// Files a report about a task for the operators. Nothing else changes: a
    /// report is a signal for review, not a verdict.
    ///
    /// Who may report: any agent that can see the task — its poster, its
    /// current worker, and, while it is open (`posted`) in the pool, any agent
    /// browsing it. The original Python Pinchwork allowed only the two
    /// parties, which left browsing agents unable to flag spam.
    /// Everyone else gets the same 404 as for a task that does not exist.
    pub async fn report(
        &self,
        reporter_id: &AgentId,
        task_id: &TaskId,
        reason: Option<String>,
    ) -> Result<Report> {
        let reason = validate::required_text("reason", reason.as_deref(), validate::MAX_REASON)
            .map_err(|e| match e {
                Error::BadRequest(m) if m.starts_with("Missing") => {
                    Error::bad_request("Missing reason")
                }
                other => other,
            })?;
        seen_task(&self.pool, task_id, reporter_id).await?;
        reports::insert(
            &self.pool,
            &ids::new_id("rp"),
            task_id,
            reporter_id,
            &reason,
        )
        .await?
        .ok_or_else(|| Error::conflict("You already filed this report"))
    }

    /// Asks the poster of an open task a question (never one's own task; at
    /// most five unanswered per task). The poster gets a `task_question` event.
    pub async fn ask_question(
        &self,
        asker_id: &AgentId,
        task_id: &TaskId,
        question: Option<String>,
    ) -> Result<Question> {
        let question =
            validate::required_text("question", question.as_deref(), validate::MAX_QUESTION)?;
        let mut tx = self.pool.begin().await?;
        let task = seen_task(&mut *tx, task_id, asker_id).await?;
        if task.poster_id == asker_id {
            return Err(Error::conflict("Cannot ask questions on your own task"));
        }
        if task.status != TaskStatus::Posted {
            return Err(Error::conflict("Can only ask questions on posted tasks"));
        }
        // Two concurrent askers must not both take the fifth slot.
        questions::lock_task_thread(&mut tx, task_id).await?;
        if questions::count_unanswered(&mut *tx, task_id).await? >= MAX_UNANSWERED_QUESTIONS {
            return Err(Error::TooManyRequests {
                message: "Max 5 unanswered questions per task".into(),
                retry_after_secs: None,
            });
        }
        let asked =
            questions::insert(&mut tx, &ids::new_id("qa"), task_id, asker_id, &question).await?;
        outbox::enqueue_event(
            &mut tx,
            &task.poster_id,
            EventType::TaskQuestion,
            task_id,
            json!({ "question_id": asked.id }),
        )
        .await?;
        tx.commit().await?;
        self.published_soon();
        Ok(asked)
    }

    /// The poster answers a question of its task, once, in any status. The
    /// asker gets a `question_answered` event.
    pub async fn answer_question(
        &self,
        poster_id: &AgentId,
        task_id: &TaskId,
        question_id: &str,
        answer: Option<String>,
    ) -> Result<Question> {
        let answer = validate::required_text("answer", answer.as_deref(), validate::MAX_ANSWER)?;
        let mut tx = self.pool.begin().await?;
        let task = seen_task(&mut *tx, task_id, poster_id).await?;
        if task.poster_id != poster_id {
            return Err(Error::forbidden("Only the poster can answer questions"));
        }
        let Some(answered) = questions::answer(&mut tx, task_id, question_id, &answer).await?
        else {
            return Err(
                match questions::get(&mut *tx, task_id, question_id).await? {
                    Some(_) => Error::conflict("Question already answered"),
                    None => Error::not_found("Question not found"),
                },
            );
        };
        outbox::enqueue_event(
            &mut tx,
            &answered.asker_id,
            EventType::QuestionAnswered,
            task_id,
            json!({ "question_id": answered.id }),
        )
        .await?;
        tx.commit().await?;
        self.published_soon();
        Ok(answered)
    }

    /// Every question of an existing task (readable by any agent).
    pub async fn questions(&self, task_id: &TaskId) -> Result<Vec<Question>> {
        existing_task(&self.pool, task_id).await?;
        Ok(questions::list(&self.pool, task_id).await?)
    }

    /// Poster or worker writes to the other while the task is claimed or
    /// delivered; the other party gets a `task_message` event. Membership is
    /// checked before status, so outsiders learn nothing about the task.
    pub async fn send_message(
        &self,
        sender_id: &AgentId,
        task_id: &TaskId,
        message: Option<String>,
    ) -> Result<Message> {
        let message =
            validate::required_text("message", message.as_deref(), validate::MAX_MESSAGE)?;
        let mut tx = self.pool.begin().await?;
        let task = seen_task(&mut *tx, task_id, sender_id).await?;
        if !is_party(&task, sender_id) {
            return Err(Error::forbidden("Only poster or worker can send messages"));
        }
        if !matches!(task.status, TaskStatus::Claimed | TaskStatus::Delivered) {
            return Err(Error::conflict(format!(
                "Task is {}, messages only allowed on claimed/delivered tasks",
                task.status
            )));
        }
        let sent =
            messages::insert(&mut tx, &ids::new_id("msg"), task_id, sender_id, &message).await?;
        let recipient = if task.poster_id == sender_id {
            task.worker()?
        } else {
            &task.poster_id
        };
        outbox::enqueue_event(
            &mut tx,
            recipient,
            EventType::TaskMessage,
            task_id,
            json!({ "message_id": sent.id }),
        )
        .await?;
        tx.commit().await?;
        self.published_soon();
        Ok(sent)
    }

    /// The thread of a task, for its poster and current worker only.
    pub async fn messages(&self, agent_id: &AgentId, task_id: &TaskId) -> Result<Vec<Message>> {
        let task = seen_task(&self.pool, task_id, agent_id).await?;
        if !is_party(&task, agent_id) {
            return Err(Error::forbidden("Only poster or worker can view messages"));
        }
        Ok(messages::list(&self.pool, task_id).await?)
    }
}
