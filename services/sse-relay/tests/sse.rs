//! Every event reaches its recipient over SSE with `event:` and `id:`, and a
//! reconnect with `Last-Event-ID` gets exactly the missed events, in order,
//! then live ones.

use std::time::Duration;

use futures::StreamExt;
use pinchwork_common::{db::outbox, domain::EventType};
use pinchwork_testkit::{
    Agent, Client, events::raise_every_event, fresh_database, nats_prefix, test_config,
};
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

struct Cluster {
    api: Client,
    relay: String,
    pool: PgPool,
    shutdown: CancellationToken,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn start() -> Cluster {
    let db = fresh_database().await;
    let prefix = nats_prefix();
    let args = [
        "--welcome-task-enabled",
        "false",
        "--rate-limit-enabled",
        "false",
        "--outbox-sweep-ms",
        "200",
        "--sse-keepalive-seconds",
        "1",
    ];
    let config = test_config(&db, &prefix, &args);
    let shutdown = CancellationToken::new();
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(pinchwork_api::run(
        config.clone(),
        shutdown.clone(),
        move |a| {
            let _ = tx.send(a);
        },
    ));
    let api = rx.await.expect("api");
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(pinchwork_sse_relay::run(
        config,
        shutdown.clone(),
        move |a| {
            let _ = tx.send(a);
        },
    ));
    let relay = rx.await.expect("relay");
    Cluster {
        api: Client::new(format!("http://{api}")),
        relay: format!("http://{relay}"),
        pool: PgPool::connect(&db).await.expect("connect"),
        shutdown,
    }
}

/// One SSE message.
#[derive(Debug, Clone)]
struct Msg {
    event: String,
    id: u64,
    data: Value,
}

/// An open `GET /v1/events` stream.
struct Sse {
    body: futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buf: String,
}

impl Sse {
    async fn open(relay: &str, agent: &Agent, last_event_id: Option<u64>) -> Self {
        let mut req = reqwest::Client::new()
            .get(format!("{relay}/v1/events"))
            .bearer_auth(&agent.key);
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id.to_string());
        }
        let resp = req.send().await.expect("connect SSE");
        assert_eq!(resp.status(), 200);
        assert!(
            resp.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        Self {
            body: resp.bytes_stream().boxed(),
            buf: String::new(),
        }
    }

    /// The next event (keep-alive comments skipped); panics after 20 s.
    async fn next(&mut self) -> Msg {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let frame: String = self.buf.drain(..end + 2).collect();
                let (mut event, mut id, mut data) = (None, None, None);
                for line in frame.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event = Some(v.trim().to_string())
                    }
                    if let Some(v) = line.strip_prefix("id:") {
                        id = v.trim().parse().ok()
                    }
                    if let Some(v) = line.strip_prefix("data:") {
                        data = serde_json::from_str(v.trim()).ok()
                    }
                }
                if let (Some(event), Some(id), Some(data)) = (event, id, data) {
                    return Msg { event, id, data };
                }
                continue;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(20), self.body.next())
                .await
                .expect("no SSE event within 20 s")
                .expect("stream ended")
                .expect("stream error");
            self.buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

#[tokio::test]
async fn every_event_type_reaches_its_recipient_over_sse() {
    let c = start().await;
    let poster = c.api.register("poster").await;
    let worker = c.api.register("worker").await;
    let mut poster_sse = Sse::open(&c.relay, &poster, None).await;
    let mut worker_sse = Sse::open(&c.relay, &worker, None).await;
    let expected = raise_every_event(&c.api, &c.pool, &poster, &worker).await;

    for (agent, sse) in [(&poster, &mut poster_sse), (&worker, &mut worker_sse)] {
        let mut want: Vec<&str> = expected
            .iter()
            .filter(|(a, _)| *a == agent.id)
            .map(|(_, e)| e.as_str())
            .collect();
        let mut got = Vec::new();
        let mut last_id = 0;
        for _ in 0..want.len() {
            let msg = sse.next().await;
            assert!(msg.id > last_id, "ids grow");
            last_id = msg.id;
            assert_eq!(msg.data["type"], msg.event.as_str());
            assert!(msg.data["task_id"].is_string() && msg.data["event_id"].is_string());
            if msg.event == "task_rejected" {
                assert_eq!(msg.data["reason"], "too literal");
                assert!(msg.data["grace_deadline"].is_string());
            }
            got.push(msg.event);
        }
        got.sort();
        want.sort();
        assert_eq!(got, want);
    }
}

async fn message_event(pool: &PgPool, to: &Agent, n: i64) {
    let mut tx = pool.begin().await.expect("begin");
    outbox::enqueue_event(
        &mut tx,
        &to.id,
        EventType::TaskMessage,
        "tk-x",
        json!({ "n": n }),
    )
    .await
    .expect("enqueue");
    tx.commit().await.expect("commit");
}

async fn all_published(pool: &PgPool) {
    for _ in 0..400 {
        if outbox::unpublished_count(pool).await.expect("count") == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("outbox not drained");
}

#[tokio::test]
async fn a_reconnect_with_last_event_id_gets_exactly_the_missed_events_then_live_ones() {
    let c = start().await;
    let me = c.api.register("listener").await;
    let other = c.api.register("bystander").await;
    let mut sse = Sse::open(&c.relay, &me, None).await;
    message_event(&c.pool, &me, 1).await;
    let first = sse.next().await;
    assert_eq!(first.data["n"], 1);
    drop(sse);

    for n in 2..=6 {
        message_event(&c.pool, &me, n).await;
        message_event(&c.pool, &other, 100 + n).await;
    }
    all_published(&c.pool).await;

    let mut sse = Sse::open(&c.relay, &me, Some(first.id)).await;
    let mut last = first.id;
    for n in 2..=6 {
        let msg = sse.next().await;
        assert_eq!(msg.data["n"], n, "missed events in order");
        assert!(msg.id > last);
        last = msg.id;
    }
    message_event(&c.pool, &me, 7).await;
    let live = sse.next().await;
    assert_eq!(live.data["n"], 7, "then the live event, nothing twice");
    assert!(live.id > last);
}

#[tokio::test]
async fn the_stream_requires_a_valid_key() {
    let c = start().await;
    let resp = reqwest::get(format!("{}/v1/events", c.relay))
        .await
        .expect("get");
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.expect("json");
    assert!(body["error"].is_string());
}
