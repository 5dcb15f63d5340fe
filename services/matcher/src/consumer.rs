//! The matcher's command consumer: the durable pull consumer `matcher` on
//! its commands (`<prefix>.cmd.matcher.>`, see `common::bus`), explicit acks
//! sent only after the database transaction committed. Redeliveries are
//! harmless (handlers are idempotent).

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use async_nats::jetstream::{self, AckKind, consumer::pull};
use futures::StreamExt;
use pinchwork_common::{
    bus::Bus,
    ids::{AgentId, TaskId},
    market::Market,
    metrics, telemetry,
};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::CONSUMER;

/// How long a message may stay unacknowledged before JetStream redelivers it.
const ACK_WAIT: Duration = Duration::from_secs(30);
/// Delay before a command whose handling failed (database down) is retried.
const RETRY_DELAY: Duration = Duration::from_secs(2);

/// A matcher command as the outbox writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// A regular task was created.
    TaskCreated { task_id: TaskId },
    /// An agent's good_at was set or changed.
    ProfileChanged { agent_id: AgentId },
}

impl Command {
    /// Decodes a command from its subject's last token and its JSON payload.
    pub fn decode(subject: &str, payload: &[u8]) -> Option<Self> {
        #[derive(Deserialize)]
        struct Body {
            task_id: Option<TaskId>,
            agent_id: Option<AgentId>,
        }
        let body: Body = serde_json::from_slice(payload).ok()?;
        match subject.rsplit('.').next()? {
            "task_created" => Some(Self::TaskCreated {
                task_id: body.task_id?,
            }),
            "profile_changed" => Some(Self::ProfileChanged {
                agent_id: body.agent_id?,
            }),
            _ => None,
        }
    }

    async fn apply(&self, market: &Market) -> pinchwork_common::Result<()> {
        match self {
            Self::TaskCreated { task_id } => {
                let outcome = market.handle_task_created(task_id).await?;
                tracing::debug!(%task_id, ?outcome, "task routed");
            }
            Self::ProfileChanged { agent_id } => {
                let spawned = market.handle_profile_changed(agent_id).await?;
                tracing::debug!(%agent_id, spawned, "profile handled");
            }
        }
        Ok(())
    }
}

/// Consumes matcher commands until shutdown, re-attaching after any failure.
/// `up` is raised while the consumer is attached (readiness).
pub async fn consume(market: Market, bus: Bus, up: Arc<AtomicBool>, shutdown: CancellationToken) {
    let mut backoff = Duration::from_millis(200);
    while !shutdown.is_cancelled() {
        // Not raced against shutdown: consume_once stops pulling by itself
        // and lets a command in progress commit and be acked first.
        let result = consume_once(&market, &bus, &up, &shutdown).await;
        up.store(false, Ordering::Relaxed);
        match result {
            Ok(()) => backoff = Duration::from_millis(200),
            Err(err) => {
                tracing::warn!(error = %err, "command consumer failed; retrying");
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(backoff) => {}
        }
    }
}

async fn consume_once(
    market: &Market,
    bus: &Bus,
    up: &AtomicBool,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let mut messages = tokio::select! {
        () = shutdown.cancelled() => return Ok(()),
        attached = attach(bus) => attached?,
    };
    up.store(true, Ordering::Relaxed);
    tracing::info!(stream = %bus.layout.commands_stream(), "consuming matcher commands");
    loop {
        let next = tokio::select! {
            () = shutdown.cancelled() => break,
            next = messages.next() => next,
        };
        let Some(next) = next else { break };
        let msg = match next {
            Ok(msg) => msg,
            Err(err) => {
                tracing::warn!(error = %err, "pull consumer error");
                continue;
            }
        };
        metrics::counter!(metrics::EVENTS_CONSUMED, "consumer" => CONSUMER).increment(1);
        let span =
            tracing::info_span!("matcher command", otel.kind = "consumer", subject = %msg.subject);
        telemetry::continue_from_headers(&span, msg.headers.as_ref());
        handle(market, &msg).instrument(span).await;
    }
    Ok(())
}

/// Binds the durable consumer (created unless it exists); returns its message stream.
async fn attach(bus: &Bus) -> anyhow::Result<pull::Stream> {
    let consumer = bus.commands_consumer(CONSUMER, ACK_WAIT).await?;
    Ok(consumer.messages().await?)
}

/// Applies one command and acks it (or naks it for a retry).
async fn handle(market: &Market, msg: &jetstream::Message) {
    let Some(command) = Command::decode(msg.subject.as_str(), &msg.payload) else {
        tracing::warn!(subject = %msg.subject, "dropping an unreadable matcher command");
        ack(msg, AckKind::Term).await;
        return;
    };
    match command.apply(market).await {
        Ok(()) => ack(msg, AckKind::Ack).await,
        Err(err) => {
            tracing::warn!(error = %err, ?command, "command failed; it will be redelivered");
            ack(msg, AckKind::Nak(Some(RETRY_DELAY))).await;
        }
    }
}

async fn ack(msg: &jetstream::Message, kind: AckKind) {
    if let Err(err) = msg.ack_with(kind).await {
        // The command will be redelivered after ACK_WAIT; handling it again is harmless.
        tracing::warn!(error = %err, "ack failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_decode_from_outbox_payloads() {
        assert_eq!(
            Command::decode("p.cmd.matcher.task_created", br#"{"task_id":"tk-1"}"#),
            Some(Command::TaskCreated {
                task_id: "tk-1".into()
            })
        );
        assert_eq!(
            Command::decode("p.cmd.matcher.profile_changed", br#"{"agent_id":"ag-1"}"#),
            Some(Command::ProfileChanged {
                agent_id: "ag-1".into()
            })
        );
        assert_eq!(Command::decode("p.cmd.matcher.other", b"{}"), None);
        assert_eq!(Command::decode("p.cmd.matcher.task_created", b"nope"), None);
    }
}
