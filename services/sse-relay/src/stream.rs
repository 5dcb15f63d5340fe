//! One SSE connection: replay from JetStream after `Last-Event-ID`, then the
//! live feed, without gaps or duplicates (deduplicated by stream sequence).

use std::{convert::Infallible, sync::Arc, time::Duration};

use async_nats::jetstream::consumer::{DeliverPolicy, pull::OrderedConfig};
use axum::response::sse::Event;
use futures::{Stream, StreamExt};
use pinchwork_common::{bus::Bus, ids::AgentId};
use tokio::sync::mpsc;

use crate::{Hub, RelayState, SseEvent};

/// Unregisters the connection from the hub when the response body is dropped.
struct Registration {
    hub: Arc<Hub>,
    agent: AgentId,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.hub.unregister(&self.agent, self.id);
    }
}

struct Conn {
    replay: Option<mpsc::Receiver<SseEvent>>,
    live: mpsc::Receiver<Arc<SseEvent>>,
    last_seq: u64,
    _registration: Registration,
}

/// The event stream of `agent`: live events are registered first (buffered),
/// then the replay after `last_seen` runs, then the buffered live events
/// follow, skipping any sequence already sent. `key` is the fingerprint of
/// the key the stream was opened with (a rotation of it closes the stream).
/// `None` when the agent already holds its maximum of streams on this relay:
/// the new stream is refused, the open ones keep running.
pub fn open(
    state: &RelayState,
    agent: AgentId,
    key: &str,
    last_seen: Option<u64>,
) -> Option<impl Stream<Item = Result<Event, Infallible>> + use<>> {
    let (id, live) = state
        .hub
        .register(&agent, key, state.config.sse_max_per_agent)?;
    let replay = last_seen.map(|seq| {
        let (tx, rx) = mpsc::channel(64);
        tokio::spawn(replay(state.bus.clone(), agent.clone(), seq, tx));
        rx
    });
    let conn = Conn {
        replay,
        live,
        last_seq: last_seen.unwrap_or(0),
        _registration: Registration {
            hub: state.hub.clone(),
            agent,
            id,
        },
    };
    Some(futures::stream::unfold(conn, |mut conn| async move {
        let event = next_event(&mut conn).await?;
        Some((Ok(event.to_sse()), conn))
    }))
}

async fn next_event(conn: &mut Conn) -> Option<Arc<SseEvent>> {
    if let Some(replay) = conn.replay.as_mut() {
        if let Some(event) = replay.recv().await {
            conn.last_seq = event.seq;
            return Some(Arc::new(event));
        }
        conn.replay = None;
    }
    loop {
        // `None`: the hub dropped us (too slow, or shutting down).
        let event = conn.live.recv().await?;
        if event.seq > conn.last_seq {
            conn.last_seq = event.seq;
            return Some(event);
        }
    }
}

/// Sends `agent`'s stored events after sequence `after` into `tx`, stopping
/// once the consumer reports nothing pending.
async fn replay(bus: Bus, agent: AgentId, after: u64, tx: mpsc::Sender<SseEvent>) {
    if let Err(err) = replay_inner(&bus, &agent, after, &tx).await {
        tracing::warn!(error = %err, %agent, "SSE replay failed");
    }
}

async fn replay_inner(
    bus: &Bus,
    agent: &AgentId,
    after: u64,
    tx: &mpsc::Sender<SseEvent>,
) -> anyhow::Result<()> {
    let stream = bus.js.get_stream(bus.layout.events_stream()).await?;
    let consumer = stream
        .create_consumer(OrderedConfig {
            filter_subject: bus.layout.agent_events(agent),
            deliver_policy: DeliverPolicy::ByStartSequence {
                start_sequence: after.saturating_add(1),
            },
            ..Default::default()
        })
        .await?;
    if consumer.get_info().await?.num_pending == 0 {
        return Ok(());
    }
    let mut messages = consumer.messages().await?;
    loop {
        let next = tokio::time::timeout(Duration::from_secs(10), messages.next()).await;
        let Ok(Some(msg)) = next else {
            anyhow::bail!("replay stalled");
        };
        let msg = msg?;
        let info = msg.info().map_err(|e| anyhow::anyhow!("{e}"))?;
        let (seq, pending) = (info.stream_sequence, info.pending);
        if let Some(event) = SseEvent::from_payload(seq, &msg.payload)
            && tx.send(event).await.is_err()
        {
            return Ok(()); // the client went away
        }
        if pending == 0 {
            return Ok(());
        }
    }
}
