//! In-memory fan-out: one ordered consumer on the events stream per relay
//! instance, dispatched to the bounded channels of each agent's connections.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use async_nats::jetstream::{
    Message,
    consumer::{DeliverPolicy, pull::OrderedConfig},
};
use futures::StreamExt;
use pinchwork_common::{
    bus::{Bus, Layout},
    domain::EventType,
    metrics, telemetry,
};
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// One event as an SSE message.
#[derive(Debug, Clone)]
pub struct SseEvent {
    /// JetStream stream sequence (the SSE `id:`).
    pub seq: u64,
    /// Event type (the SSE `event:`).
    pub event: String,
    /// The `data:` JSON: type, task id, the event's data flattened, event id, timestamp.
    pub data: String,
}

impl SseEvent {
    /// Builds the SSE form of a published event payload.
    pub fn from_payload(seq: u64, payload: &[u8]) -> Option<Self> {
        let body: Value = serde_json::from_slice(payload).ok()?;
        let event = body["event"].as_str()?.to_string();
        let mut data = Map::new();
        data.insert("type".into(), json!(event));
        data.insert("task_id".into(), body["task_id"].clone());
        if let Some(extra) = body["data"].as_object() {
            for (k, v) in extra {
                data.insert(k.clone(), v.clone());
            }
        }
        data.insert("event_id".into(), body["event_id"].clone());
        data.insert("timestamp".into(), body["timestamp"].clone());
        Some(Self {
            seq,
            event,
            data: Value::Object(data).to_string(),
        })
    }

    /// The axum SSE event.
    pub fn to_sse(&self) -> axum::response::sse::Event {
        axum::response::sse::Event::default()
            .event(&self.event)
            .id(self.seq.to_string())
            .data(&self.data)
    }
}

type Sender = mpsc::Sender<Arc<SseEvent>>;

/// One open connection: its id, the fingerprint of the key it was opened
/// with ([`pinchwork_common::ids::key_fingerprint`]) and its live feed.
struct Conn {
    id: u64,
    key: String,
    tx: Sender,
}

/// The connections of every agent on this instance.
pub struct Hub {
    conns: Mutex<HashMap<String, Vec<Conn>>>,
    next_id: AtomicU64,
    buffer: usize,
    /// Set at shutdown: later registrations get a stream that ends at once.
    closed: AtomicBool,
}

impl Hub {
    /// An empty hub whose connections buffer `buffer` events each.
    pub fn new(buffer: usize) -> Self {
        Self {
            conns: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            buffer,
            closed: AtomicBool::new(false),
        }
    }

    /// Registers a connection of `agent` opened with the key of fingerprint
    /// `key`; returns its id and live receiver, or `None` when the agent
    /// already holds `max_per_agent` connections here (the new one is
    /// refused; the open ones keep running).
    pub fn register(
        &self,
        agent: &str,
        key: &str,
        max_per_agent: usize,
    ) -> Option<(u64, mpsc::Receiver<Arc<SseEvent>>)> {
        let (tx, rx) = mpsc::channel(self.buffer);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut conns = self.lock();
        if self.closed.load(Ordering::Relaxed) {
            return Some((id, rx)); // `tx` dropped: the live feed ends at once.
        }
        let list = conns.entry(agent.to_string()).or_default();
        if list.len() >= max_per_agent {
            return None;
        }
        list.push(Conn {
            id,
            key: key.to_string(),
            tx,
        });
        metrics::gauge!(metrics::SSE_CONNECTIONS).increment(1.0);
        Some((id, rx))
    }

    /// Drops every connection of `agent` on this instance: their streams end.
    pub fn disconnect(&self, agent: &str) {
        if let Some(list) = self.lock().remove(agent) {
            forget(list.len());
        }
    }

    /// Drops the connections of `agent` opened with the key of fingerprint
    /// `key` (it was rotated): their streams end, the others keep running.
    pub fn disconnect_key(&self, agent: &str, key: &str) {
        self.retain(agent, |conn| conn.key != key);
    }

    /// Forgets a connection (it closed).
    pub fn unregister(&self, agent: &str, id: u64) {
        self.retain(agent, |conn| conn.id != id);
    }

    /// Keeps the connections of `agent` for which `keep` holds.
    fn retain(&self, agent: &str, keep: impl FnMut(&Conn) -> bool) {
        let mut conns = self.lock();
        if let Some(list) = conns.get_mut(agent) {
            let before = list.len();
            list.retain(keep);
            forget(before - list.len());
            if list.is_empty() {
                conns.remove(agent);
            }
        }
    }

    /// Whether `agent` has a connection on this instance.
    pub fn is_connected(&self, agent: &str) -> bool {
        self.lock().contains_key(agent)
    }

    /// Number of open connections (metrics, tests).
    pub fn connections(&self) -> usize {
        self.lock().values().map(Vec::len).sum()
    }

    /// Hands an event to each connection of `agent`. A connection whose buffer
    /// is full is dropped: its stream ends and the client must reconnect.
    pub fn dispatch(&self, agent: &str, event: Arc<SseEvent>) {
        let mut conns = self.lock();
        let Some(list) = conns.get_mut(agent) else {
            return;
        };
        let before = list.len();
        list.retain(|conn| match conn.tx.try_send(event.clone()) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                let connection = conn.id;
                tracing::warn!(agent, connection, "SSE client too slow; disconnecting");
                metrics::counter!(metrics::SSE_SLOW_DISCONNECTS).increment(1);
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        });
        forget(before - list.len());
        if list.is_empty() {
            conns.remove(agent);
        }
    }

    /// Drops every connection and refuses new ones (shutdown): their streams
    /// end, so the server's graceful shutdown can finish.
    pub fn close_all(&self) {
        let mut conns = self.lock();
        self.closed.store(true, Ordering::Relaxed);
        forget(conns.values().map(Vec::len).sum());
        conns.clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<Conn>>> {
        // A panic while holding the lock leaves the map usable.
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Takes `n` connections the hub dropped off the open-connections gauge.
fn forget(n: usize) {
    if n > 0 {
        metrics::gauge!(metrics::SSE_CONNECTIONS).decrement(n as f64);
    }
}

/// Feeds the hub from an ordered consumer on new events until `shutdown`,
/// re-creating it when it fails or when the NATS client reconnected (the
/// server may have restarted and lost it: ordered consumers live in memory).
/// A re-created consumer starts right after the last sequence seen, so open
/// connections miss nothing across a broker restart.
pub async fn feed(hub: Arc<Hub>, bus: Bus, shutdown: CancellationToken) {
    let mut resume_after = None;
    loop {
        let connects = bus.client.statistics().connects.load(Ordering::Relaxed);
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = reconnected(&bus, connects) => {
                tracing::info!("NATS reconnected; re-creating the event feed");
            }
            result = feed_once(&hub, &bus, &mut resume_after) => {
                if let Err(err) = result {
                    tracing::warn!(error = %err, "event feed failed; restarting");
                }
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}

/// Returns once the client connected again after `connects` connections.
async fn reconnected(bus: &Bus, connects: u64) {
    let stats = bus.client.statistics();
    while stats.connects.load(Ordering::Relaxed) == connects {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// One consumer's life, starting after `resume_after` (first time: after the
/// stream's current last sequence) and advancing it with every message.
async fn feed_once(hub: &Hub, bus: &Bus, resume_after: &mut Option<u64>) -> anyhow::Result<()> {
    let mut stream = bus.js.get_stream(bus.layout.events_stream()).await?;
    let after = match *resume_after {
        Some(seq) => seq,
        None => *resume_after.insert(stream.info().await?.state.last_sequence),
    };
    let consumer = stream
        .create_consumer(OrderedConfig {
            filter_subject: bus.layout.all_events(),
            deliver_policy: DeliverPolicy::ByStartSequence {
                start_sequence: after + 1,
            },
            ..Default::default()
        })
        .await?;
    let mut messages = consumer.messages().await?;
    while let Some(msg) = messages.next().await {
        let msg = msg?;
        metrics::counter!(metrics::EVENTS_CONSUMED, "consumer" => "sse-relay").increment(1);
        let Ok(info) = msg.info() else { continue };
        let seq = info.stream_sequence;
        *resume_after = Some(seq);
        dispatch_message(hub, &bus.layout, &msg, seq);
    }
    Ok(())
}

/// Hands one event to its recipient's connections on this instance, in a span
/// continuing the event's trace (events nobody here listens to get none).
fn dispatch_message(hub: &Hub, layout: &Layout, msg: &Message, seq: u64) {
    let Some((agent, event_type)) = layout.parse_event_subject(&msg.subject) else {
        return;
    };
    if !hub.is_connected(agent) {
        return;
    }
    let span = tracing::info_span!(
        "sse relay",
        otel.kind = "consumer",
        agent,
        event = event_type,
        seq
    );
    telemetry::continue_from_headers(&span, msg.headers.as_ref());
    let _entered = span.enter();
    if let Some(event) = SseEvent::from_payload(seq, &msg.payload) {
        hub.dispatch(agent, Arc::new(event));
    }
    // Every relay sees the suspension: the agent's streams end after the
    // event; after a key rotation, those opened with the old key do.
    if event_type == EventType::AgentSuspended.as_str() {
        hub.disconnect(agent);
    } else if event_type == EventType::KeyRotated.as_str()
        && let Some(old_key) = rotated_key(&msg.payload)
    {
        hub.disconnect_key(agent, &old_key);
    }
}

/// The fingerprint of the key a `key_rotated` event retired.
fn rotated_key(payload: &[u8]) -> Option<String> {
    let body: Value = serde_json::from_slice(payload).ok()?;
    Some(body["data"]["old_key"].as_str()?.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: u64) -> Arc<SseEvent> {
        Arc::new(SseEvent {
            seq,
            event: "task_message".into(),
            data: "{}".into(),
        })
    }

    #[tokio::test]
    async fn a_client_that_falls_behind_its_buffer_is_cut_off() {
        let hub = Hub::new(2);
        let (_, mut slow) = hub.register("ag-a", "k1", 5).unwrap();
        let (_, mut fast) = hub.register("ag-a", "k1", 5).unwrap();
        for seq in 1..=3 {
            hub.dispatch("ag-a", event(seq));
            // The fast client keeps up.
            assert_eq!(fast.recv().await.map(|e| e.seq), Some(seq));
        }
        assert_eq!(hub.connections(), 1, "the slow connection was dropped");
        // What it had buffered drains, then its stream ends: memory stays bounded.
        assert_eq!(slow.recv().await.map(|e| e.seq), Some(1));
        assert_eq!(slow.recv().await.map(|e| e.seq), Some(2));
        assert!(slow.recv().await.is_none());
    }

    #[tokio::test]
    async fn a_rotated_key_closes_only_the_streams_opened_with_it() {
        let hub = Hub::new(4);
        let (_, mut old) = hub.register("ag-a", "old", 5).unwrap();
        let (_, mut new) = hub.register("ag-a", "new", 5).unwrap();
        let (_, mut other) = hub.register("ag-b", "old", 5).unwrap();
        hub.disconnect_key("ag-a", "old");
        assert!(old.recv().await.is_none(), "the old key's stream ended");
        assert_eq!(hub.connections(), 2);
        hub.dispatch("ag-a", event(1));
        hub.dispatch("ag-b", event(2));
        assert_eq!(new.recv().await.map(|e| e.seq), Some(1));
        assert_eq!(other.recv().await.map(|e| e.seq), Some(2));
    }

    #[test]
    fn sse_data_flattens_the_event_fields() {
        let payload = br#"{"event":"task_rejected","recipient":"ag-w","task_id":"tk-1","data":{"reason":"no","grace_deadline":"t"},"timestamp":"now","event_id":"7"}"#;
        let e = SseEvent::from_payload(42, payload).expect("event");
        let data: Value = serde_json::from_str(&e.data).expect("json");
        assert_eq!((e.seq, e.event.as_str()), (42, "task_rejected"));
        assert_eq!(data["type"], "task_rejected");
        assert_eq!(data["reason"], "no");
        assert_eq!(data["event_id"], "7");
        assert!(data.get("recipient").is_none());
    }
}
