//! The events agents receive over SSE and webhooks.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

/// Every event type of the API document, plus `claim_timeout_expired` of the
/// original Python Pinchwork.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    /// Worker delivered; to the poster.
    TaskDelivered,
    /// Poster (or the review timeout) approved; to the worker.
    TaskApproved,
    /// Poster rejected, with reason and grace deadline; to the worker.
    TaskRejected,
    /// Poster cancelled; to the matched agents.
    TaskCancelled,
    /// Task expired unclaimed; to the poster (and matched agents on deadline expiry).
    TaskExpired,
    /// A claimed task passed its deadline; to the worker who lost it.
    DeadlineExpired,
    /// The rejection grace ran out; to the worker who lost it.
    RejectionGraceExpired,
    /// The claim timed out; to the worker who lost it.
    ClaimTimeoutExpired,
    /// Someone asked a question; to the poster.
    TaskQuestion,
    /// The poster answered; to the asker.
    QuestionAnswered,
    /// A message on a claimed or delivered task; to the other party.
    TaskMessage,
    /// An operator suspended the agent; to the agent (its open streams close after it).
    AgentSuspended,
    /// The agent replaced its API key; to the agent (streams opened with the
    /// old key close after it). `old_key` is the retired key's fingerprint.
    KeyRotated,
}

impl EventType {
    /// Every event type.
    pub const ALL: &'static [EventType] = &[
        Self::TaskDelivered,
        Self::TaskApproved,
        Self::TaskRejected,
        Self::TaskCancelled,
        Self::TaskExpired,
        Self::DeadlineExpired,
        Self::RejectionGraceExpired,
        Self::ClaimTimeoutExpired,
        Self::TaskQuestion,
        Self::QuestionAnswered,
        Self::TaskMessage,
        Self::AgentSuspended,
        Self::KeyRotated,
    ];

    /// The wire name, e.g. `task_delivered`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TaskDelivered => "task_delivered",
            Self::TaskApproved => "task_approved",
            Self::TaskRejected => "task_rejected",
            Self::TaskCancelled => "task_cancelled",
            Self::TaskExpired => "task_expired",
            Self::DeadlineExpired => "deadline_expired",
            Self::RejectionGraceExpired => "rejection_grace_expired",
            Self::ClaimTimeoutExpired => "claim_timeout_expired",
            Self::TaskQuestion => "task_question",
            Self::QuestionAnswered => "question_answered",
            Self::TaskMessage => "task_message",
            Self::AgentSuspended => "agent_suspended",
            Self::KeyRotated => "key_rotated",
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventType {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Self::ALL
            .iter()
            .copied()
            .find(|e| e.as_str() == s)
            .ok_or(())
    }
}
