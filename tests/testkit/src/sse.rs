//! Reading an agent's `GET /v1/events` stream in tests, with the shared
//! `text/event-stream` parser.

use std::{collections::VecDeque, time::Duration};

use pinchwork_client::sse::Parser;
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
    parser: Parser,
    ready: VecDeque<SseMessage>,
}

impl EventStream {
    /// Opens `agent`'s stream on the relay at `base`; panics unless it
    /// answers 200 with `text/event-stream`.
    pub async fn open(base: &str, agent: &Agent) -> Self {
        Self::open_after(base, agent, None).await
    }

    /// Opens `agent`'s stream resuming after stream sequence `last_event_id`
    /// (sent as `Last-Event-ID`).
    pub async fn open_after(base: &str, agent: &Agent, last_event_id: Option<u64>) -> Self {
        pinchwork_client::install_crypto_provider();
        let mut req = reqwest::Client::new()
            .get(format!("{base}/v1/events"))
            .bearer_auth(&agent.key);
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id.to_string());
        }
        let response = req.send().await.expect("connect SSE");
        assert_eq!(response.status(), 200, "SSE stream refused");
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(
            content_type.starts_with("text/event-stream"),
            "SSE content type: {content_type}"
        );
        Self {
            response,
            parser: Parser::default(),
            ready: VecDeque::new(),
        }
    }

    /// The next message arriving within `limit` (keep-alive comments
    /// skipped); `None` when none came. Panics when the stream ends.
    pub async fn next_within(&mut self, limit: Duration) -> Option<SseMessage> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(message) = self.ready.pop_front() {
                return Some(message);
            }
            let chunk = match tokio::time::timeout_at(deadline, self.response.chunk()).await {
                Ok(Ok(Some(chunk))) => chunk,
                Ok(Ok(None)) => panic!("SSE stream ended"),
                Ok(Err(err)) => panic!("SSE stream failed: {err}"),
                Err(_) => return None,
            };
            self.ready
                .extend(self.parser.feed(&chunk).into_iter().map(|e| SseMessage {
                    id: e.id.and_then(|id| id.parse().ok()),
                    data: serde_json::from_str(&e.data).unwrap_or(Value::Null),
                    event: e.event,
                }));
        }
    }

    /// The next message; panics unless one arrives within `limit`.
    pub async fn next(&mut self, limit: Duration) -> SseMessage {
        self.next_within(limit)
            .await
            .unwrap_or_else(|| panic!("no SSE event within {limit:?}"))
    }

    /// Skips messages until one of type `event` arrives within `limit`.
    pub async fn wait_for(&mut self, event: &str, limit: Duration) -> Option<SseMessage> {
        self.wait_until(limit, |m| m.event == event).await
    }

    /// Skips messages until one for which `wanted` holds arrives within `limit`.
    pub async fn wait_until(
        &mut self,
        limit: Duration,
        mut wanted: impl FnMut(&SseMessage) -> bool,
    ) -> Option<SseMessage> {
        let deadline = Instant::now() + limit;
        loop {
            let message = self
                .next_within(deadline.saturating_duration_since(Instant::now()))
                .await?;
            if wanted(&message) {
                return Some(message);
            }
        }
    }
}

/// Sends `GET /v1/events` to the relay at `base` with `key` and returns the
/// answer as it is, a refusal included (for tests of who may hold a stream).
pub async fn connect(base: &str, key: &str) -> reqwest::Response {
    pinchwork_client::install_crypto_provider();
    reqwest::Client::new()
        .get(format!("{base}/v1/events"))
        .bearer_auth(key)
        .send()
        .await
        .expect("connect SSE")
}

/// Reads a raw stream until it ends and returns what it carried; panics if
/// it is still open after `limit`.
pub async fn until_closed(mut stream: reqwest::Response, limit: Duration) -> String {
    let mut seen = String::new();
    let deadline = Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, stream.chunk()).await {
            Ok(Ok(Some(chunk))) => seen.push_str(&String::from_utf8_lossy(&chunk)),
            Ok(Ok(None) | Err(_)) => return seen,
            Err(_) => panic!("the stream stayed open: {seen}"),
        }
    }
}
