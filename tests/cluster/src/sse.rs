//! An SSE client of `GET /v1/events`: one connection read message by message,
//! and a listener that reconnects with `Last-Event-ID` like the CLI does.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::StreamExt;
use pinchwork_client::sse::{Event, Parser};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// Event ids one listener collected.
pub type Collected = Arc<Mutex<HashSet<String>>>;

/// Opens one stream after stream sequence `last` (`Last-Event-ID`) and hands
/// each message's sequence and event id to `on_event` until it returns
/// false or the stream ends. Returns the last sequence seen (`last` if none).
pub async fn read(
    http: &reqwest::Client,
    url: &str,
    key: &str,
    last: u64,
    mut on_event: impl FnMut(u64, String) -> bool,
) -> u64 {
    let mut seen = last;
    let resp = http
        .get(format!("{url}/v1/events"))
        .bearer_auth(key)
        .header("Last-Event-ID", last.to_string())
        .send()
        .await;
    let resp = match resp {
        Ok(resp) if resp.status().is_success() => resp,
        _ => return seen,
    };
    let mut body = resp.bytes_stream();
    let mut parser = Parser::default();
    while let Some(Ok(chunk)) = body.next().await {
        for event in parser.feed(&chunk) {
            let Some((seq, event_id)) = ids(&event) else {
                continue;
            };
            seen = seq;
            if !on_event(seq, event_id) {
                return seen;
            }
        }
    }
    seen
}

/// The sequence (`id:`) and the data's `event_id` of one SSE event.
fn ids(event: &Event) -> Option<(u64, String)> {
    let body: Value = serde_json::from_str(&event.data).ok()?;
    let seq = event.id.as_deref()?.parse().ok()?;
    Some((seq, body["event_id"].as_str()?.to_string()))
}

/// Follows an agent's stream from the start until `stop`, reconnecting after
/// the last message seen whenever the connection breaks (a relay, load
/// balancer or NATS fault), and collects every event id.
pub async fn listen(
    http: reqwest::Client,
    url: String,
    key: String,
    collected: Collected,
    stop: CancellationToken,
) {
    let mut last = 0;
    loop {
        let read = read(&http, &url, &key, last, |_, id| {
            collected
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(id);
            true
        });
        tokio::select! {
            () = stop.cancelled() => return,
            seen = read => last = seen,
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
