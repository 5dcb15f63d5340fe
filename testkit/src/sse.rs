//! Reading an agent's `GET /v1/events` stream in tests.

use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use crate::Agent;

/// One SSE message.
#[derive(Debug, Clone)]
pub struct SseMessage {
    /// The `event:` field (the event type).
    pub event: String,
    /// The `id:` field (the stream sequence).
    pub id: Option<u64>,
    /// The `data:` JSON (Null when absent or not JSON).
    pub data: Value,
}

/// An open event stream.
pub struct EventStream {
    response: reqwest::Response,
    buf: String,
}

impl EventStream {
    /// Opens `agent`'s stream on the relay at `base`; panics unless it answers 200.
    pub async fn open(base: &str, agent: &Agent) -> Self {
        pinchwork_common::tls::install_crypto_provider();
        let response = reqwest::Client::new()
            .get(format!("{base}/v1/events"))
            .bearer_auth(&agent.key)
            .send()
            .await
            .expect("connect SSE");
        assert_eq!(response.status(), 200, "SSE stream refused");
        Self {
            response,
            buf: String::new(),
        }
    }

    /// The next message arriving within `limit` (keep-alive comments
    /// skipped); `None` when none came. Panics when the stream ends.
    pub async fn next_within(&mut self, limit: Duration) -> Option<SseMessage> {
        let deadline = Instant::now() + limit;
        loop {
            while let Some(end) = self.buf.find("\n\n") {
                let frame: String = self.buf.drain(..end + 2).collect();
                if let Some(message) = parse(&frame) {
                    return Some(message);
                }
            }
            match tokio::time::timeout_at(deadline, self.response.chunk()).await {
                Ok(Ok(Some(chunk))) => self.buf.push_str(&String::from_utf8_lossy(&chunk)),
                Ok(Ok(None)) => panic!("SSE stream ended"),
                Ok(Err(err)) => panic!("SSE stream failed: {err}"),
                Err(_) => return None,
            }
        }
    }

    /// Skips messages until one of type `event` arrives within `limit`.
    pub async fn wait_for(&mut self, event: &str, limit: Duration) -> Option<SseMessage> {
        let deadline = Instant::now() + limit;
        loop {
            let message = self
                .next_within(deadline.saturating_duration_since(Instant::now()))
                .await?;
            if message.event == event {
                return Some(message);
            }
        }
    }
}

/// A frame with an `event:` line; comments-only frames are `None`.
fn parse(frame: &str) -> Option<SseMessage> {
    let field = |name: &str| {
        frame
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .map(|v| v.strip_prefix(' ').unwrap_or(v))
    };
    Some(SseMessage {
        event: field("event:")?.to_string(),
        id: field("id:").and_then(|v| v.parse().ok()),
        data: field("data:")
            .and_then(|v| serde_json::from_str(v).ok())
            .unwrap_or(Value::Null),
    })
}
