//! The NATS layout: stream and subject names derived from the configured
//! prefix, connecting, creating streams and consumers idempotently, and the one
//! publish function (with `Nats-Msg-Id` and `traceparent` headers).
//!
//! Events live in a Limits stream `<PREFIX>_EVENTS` on `<prefix>.events.>`
//! (subjects `<prefix>.events.<recipient>.<event type>`); commands in a
//! WorkQueue stream `<PREFIX>_CMD` on `<prefix>.cmd.>`.

use std::time::Duration;

use async_nats::{
    HeaderMap,
    jetstream::{self, consumer, context::PublishAckFuture, stream},
};
use bytes::Bytes;

use crate::Config;
use crate::ids::AgentId;

/// Errors talking to NATS.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// Could not connect to the server.
    #[error("connecting to NATS: {0}")]
    Connect(#[from] async_nats::ConnectError),
    /// Creating or reading a stream failed.
    #[error("NATS stream: {0}")]
    Stream(String),
    /// Creating or reading a consumer failed.
    #[error("NATS consumer: {0}")]
    Consumer(String),
    /// Publishing failed (or was not acknowledged).
    #[error("NATS publish: {0}")]
    Publish(String),
}

/// How long JetStream remembers a `Nats-Msg-Id` to drop a duplicate publish.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// Names of streams, subjects and consumers for one deployment prefix.
#[derive(Clone, Debug)]
pub struct Layout {
    prefix: String,
}

impl Layout {
    /// The layout of `config.nats_prefix`.
    pub fn new(config: &Config) -> Self {
        Self {
            prefix: config.nats_prefix.clone(),
        }
    }

    /// Name of the events stream, e.g. `PINCHWORK_EVENTS`.
    pub fn events_stream(&self) -> String {
        format!("{}_EVENTS", self.stream_base())
    }

    /// Name of the commands stream, e.g. `PINCHWORK_CMD`.
    pub fn commands_stream(&self) -> String {
        format!("{}_CMD", self.stream_base())
    }

    /// Every event subject: `<prefix>.events.>`.
    pub fn all_events(&self) -> String {
        format!("{}.events.>", self.prefix)
    }

    /// Every event of one agent: `<prefix>.events.<agent>.>`.
    pub fn agent_events(&self, agent_id: &AgentId) -> String {
        format!("{}.events.{agent_id}.>", self.prefix)
    }

    /// One event type of one agent: `<prefix>.events.<agent>.<type>`.
    pub fn agent_event(&self, agent_id: &AgentId, event: &str) -> String {
        format!("{}.events.{agent_id}.{event}", self.prefix)
    }

    /// Every command of one service: `<prefix>.cmd.<service>.>`.
    pub fn service_commands(&self, service: &str) -> String {
        format!("{}.cmd.{service}.>", self.prefix)
    }

    /// Absolute subject of an outbox row's relative subject.
    pub fn absolute(&self, relative: &str) -> String {
        format!("{}.{relative}", self.prefix)
    }

    /// The recipient and event type of an absolute event subject.
    pub fn parse_event_subject<'a>(&self, subject: &'a str) -> Option<(&'a str, &'a str)> {
        let rest = subject
            .strip_prefix(self.prefix.as_str())?
            .strip_prefix(".events.")?;
        rest.split_once('.')
    }

    fn stream_base(&self) -> String {
        self.prefix.to_ascii_uppercase().replace('-', "_")
    }
}

/// A connection to NATS with its JetStream context and the layout.
#[derive(Clone)]
pub struct Bus {
    /// Core NATS client (plain subscriptions, e.g. `wait`).
    pub client: async_nats::Client,
    /// JetStream context on `client`.
    pub js: jetstream::Context,
    /// Stream and subject names.
    pub layout: Layout,
}

impl Bus {
    /// Connects and makes sure both streams exist with the configured retention.
    pub async fn connect(config: &Config) -> Result<Self, BusError> {
        let client = async_nats::ConnectOptions::new()
            .name(format!("pinchwork-{}", config.nats_prefix))
            .retry_on_initial_connect()
            .connection_timeout(Duration::from_secs(5))
            .connect(&config.nats_url)
            .await?;
        let bus = Self {
            js: jetstream::new(client.clone()),
            client,
            layout: Layout::new(config),
        };
        bus.ensure_streams(config).await?;
        Ok(bus)
    }

    /// Creates the events and commands streams unless they exist (safe when
    /// several processes start at once).
    pub async fn ensure_streams(&self, config: &Config) -> Result<(), BusError> {
        let retention = Duration::from_secs(config.events_retention_hours * 3600);
        self.ensure_stream(stream::Config {
            name: self.layout.events_stream(),
            subjects: vec![self.layout.all_events()],
            retention: stream::RetentionPolicy::Limits,
            max_age: retention,
            duplicate_window: DUPLICATE_WINDOW,
            storage: stream::StorageType::File,
            ..Default::default()
        })
        .await?;
        self.ensure_stream(stream::Config {
            name: self.layout.commands_stream(),
            subjects: vec![format!("{}.cmd.>", config.nats_prefix)],
            retention: stream::RetentionPolicy::WorkQueue,
            duplicate_window: DUPLICATE_WINDOW,
            storage: stream::StorageType::File,
            ..Default::default()
        })
        .await
    }

    /// Creates one stream unless it exists. When two processes create it at
    /// the same moment, NATS may refuse the second ("subjects overlap with an
    /// existing stream"): the stream is there then, which is all we need.
    async fn ensure_stream(&self, config: stream::Config) -> Result<(), BusError> {
        let name = config.name.clone();
        match self.js.get_or_create_stream(config).await {
            Ok(_) => Ok(()),
            Err(e) => match self.js.get_stream(&name).await {
                Ok(_) => Ok(()),
                Err(_) => Err(BusError::Stream(e.to_string())),
            },
        }
    }

    /// The durable pull consumer `durable` on the events stream (every event),
    /// created unless it exists; all instances of a service share it.
    pub async fn events_consumer(
        &self,
        durable: &str,
        ack_wait: Duration,
    ) -> Result<consumer::PullConsumer, BusError> {
        let stream = self
            .js
            .get_stream(self.layout.events_stream())
            .await
            .map_err(|e| BusError::Stream(e.to_string()))?;
        stream
            .get_or_create_consumer(
                durable,
                consumer::pull::Config {
                    durable_name: Some(durable.to_string()),
                    filter_subject: self.layout.all_events(),
                    ack_policy: consumer::AckPolicy::Explicit,
                    ack_wait,
                    deliver_policy: consumer::DeliverPolicy::All,
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| BusError::Consumer(e.to_string()))
    }

    /// The durable pull consumer of `service`'s commands (`<prefix>.cmd.<service>.>`),
    /// created unless it exists; all instances of the service share it.
    pub async fn commands_consumer(
        &self,
        service: &str,
        ack_wait: Duration,
    ) -> Result<consumer::PullConsumer, BusError> {
        let stream = self
            .js
            .get_stream(self.layout.commands_stream())
            .await
            .map_err(|e| BusError::Stream(e.to_string()))?;
        stream
            .get_or_create_consumer(
                service,
                consumer::pull::Config {
                    durable_name: Some(service.to_string()),
                    filter_subject: self.layout.service_commands(service),
                    ack_policy: consumer::AckPolicy::Explicit,
                    ack_wait,
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| BusError::Consumer(e.to_string()))
    }

    /// Publishes one message: `Nats-Msg-Id` = `msg_id` (JetStream drops a repeat
    /// within the duplicate window) and the W3C `traceparent` when known (the
    /// one given, else the current span's).
    /// Returns the acknowledgement future so callers can pipeline.
    pub async fn publish(
        &self,
        relative_subject: &str,
        msg_id: &str,
        traceparent: Option<&str>,
        payload: Bytes,
    ) -> Result<PublishAckFuture, BusError> {
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", msg_id);
        match traceparent {
            Some(tp) => headers.insert(crate::telemetry::TRACEPARENT, tp),
            None => crate::telemetry::inject_current(&mut headers),
        }
        self.js
            .publish_with_headers(self.layout.absolute(relative_subject), headers, payload)
            .await
            .map_err(|e| BusError::Publish(e.to_string()))
    }

    /// Whether the server answers (readiness).
    pub async fn ping(&self) -> bool {
        self.client.flush().await.is_ok()
            && matches!(
                self.client.connection_state(),
                async_nats::connection::State::Connected
            )
    }
}
