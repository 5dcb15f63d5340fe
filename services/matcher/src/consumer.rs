//! The matcher's JetStream consumer, kept self-contained so it can move onto
//! the shared bus module later: the work-queue command stream
//! `<PREFIX>_CMD` (`<prefix>.cmd.>`), a durable pull consumer `matcher` on
//! `<prefix>.cmd.matcher.>`, explicit acks sent only after the database
//! transaction committed. Redeliveries are harmless (handlers are idempotent).

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use async_nats::jetstream::{self, AckKind, consumer::pull, stream};
use futures::StreamExt;
use pinchwork_common::{Config, market::Market, metrics, telemetry};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// Name of the durable consumer every matcher instance shares.
const DURABLE: &str = "matcher";
/// How long a message may stay unacknowledged before JetStream redelivers it.
const ACK_WAIT: Duration = Duration::from_secs(30);
/// Delay before a command whose handling failed (database down) is retried.
const RETRY_DELAY: Duration = Duration::from_secs(2);

/// Name of the command stream for a subject prefix.
pub fn cmd_stream_name(prefix: &str) -> String {
    format!("{}_CMD", prefix.to_uppercase())
}

/// Subject of a matcher command, e.g. `pinchwork.cmd.matcher.task_created`.
pub fn cmd_subject(prefix: &str, kind: &str) -> String {
    format!("{prefix}.cmd.matcher.{kind}")
}

/// Gets or creates the work-queue command stream of a prefix (the same
/// configuration every service uses).
pub async fn ensure_cmd_stream(
    js: &jetstream::Context,
    prefix: &str,
) -> anyhow::Result<stream::Stream> {
    Ok(js
        .get_or_create_stream(stream::Config {
            name: cmd_stream_name(prefix),
            subjects: vec![format!("{prefix}.cmd.>")],
            retention: stream::RetentionPolicy::WorkQueue,
            duplicate_window: Duration::from_secs(120),
            ..Default::default()
        })
        .await?)
}

/// A matcher command as the outbox writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// A regular task was created.
    TaskCreated { task_id: String },
    /// An agent's good_at was set or changed.
    ProfileChanged { agent_id: String },
}

impl Command {
    /// Decodes a command from its subject's last token and its JSON payload.
    pub fn decode(subject: &str, payload: &[u8]) -> Option<Self> {
        #[derive(Deserialize)]
        struct Body {
            task_id: Option<String>,
            agent_id: Option<String>,
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

/// Consumes matcher commands until shutdown, reconnecting after any failure.
pub async fn consume(market: Market, up: Arc<AtomicBool>, shutdown: CancellationToken) {
    let mut backoff = Duration::from_millis(200);
    while !shutdown.is_cancelled() {
        // Not raced against shutdown: consume_once stops pulling by itself
        // and lets a command in progress commit and be acked first.
        let result = consume_once(&market, &up, &shutdown).await;
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
    up: &AtomicBool,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let prefix = &market.config.nats_prefix;
    let mut messages = tokio::select! {
        () = shutdown.cancelled() => return Ok(()),
        attached = attach(market) => attached?,
    };
    up.store(true, Ordering::Relaxed);
    tracing::info!(stream = %cmd_stream_name(prefix), "consuming matcher commands");
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
        metrics::counter!(metrics::EVENTS_CONSUMED, "consumer" => DURABLE).increment(1);
        let span =
            tracing::info_span!("matcher command", otel.kind = "consumer", subject = %msg.subject);
        telemetry::continue_from_headers(&span, msg.headers.as_ref());
        handle(market, &msg).instrument(span).await;
    }
    Ok(())
}

/// Connects and binds the durable consumer; returns its message stream.
async fn attach(market: &Market) -> anyhow::Result<pull::Stream> {
    let prefix = &market.config.nats_prefix;
    let client = async_nats::connect(&market.config.nats_url).await?;
    let js = jetstream::new(client);
    let stream = ensure_cmd_stream(&js, prefix).await?;
    let consumer = stream
        .get_or_create_consumer(
            DURABLE,
            pull::Config {
                durable_name: Some(DURABLE.into()),
                filter_subject: format!("{prefix}.cmd.matcher.>"),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                ack_wait: ACK_WAIT,
                ..Default::default()
            },
        )
        .await?;
    Ok(consumer.messages().await?)
}

/// Samples the backlog of the `matcher` consumer until shutdown, over a
/// connection of its own (like the consumer's) that comes up whenever NATS does.
pub async fn sample_lag(config: Arc<Config>, shutdown: CancellationToken) {
    let client = match async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .connect(&config.nats_url)
        .await
    {
        Ok(client) => client,
        Err(err) => {
            tracing::warn!(error = %err, "consumer lag sampler: no NATS connection");
            return;
        }
    };
    let stream = cmd_stream_name(&config.nats_prefix);
    metrics::sample_consumer_lag(jetstream::new(client), stream, DURABLE, shutdown).await;
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
