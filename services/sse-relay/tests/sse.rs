//! Every event reaches its recipient over SSE with `event:` and `id:`, and a
//! reconnect with `Last-Event-ID` gets exactly the missed events, in order,
//! then live ones.

use std::time::Duration;

use pinchwork_common::{db::outbox, domain::EventType};
use pinchwork_testkit::{
    Agent, TestCluster,
    events::raise_every_event,
    sse::{EventStream, SseMessage},
};
use serde_json::{Value, json};
use sqlx::PgPool;

/// An api node and the relay over a fresh database and prefix.
async fn start() -> TestCluster {
    TestCluster::builder().sse_relay().start().await
}

/// The relay's base URL.
fn relay(c: &TestCluster) -> &str {
    c.sse_relay.as_deref().expect("the relay runs")
}

/// How long a test waits for one SSE event.
const PATIENCE: Duration = Duration::from_secs(20);

/// The sequence (`id:`) of an SSE message.
fn seq(msg: &SseMessage) -> u64 {
    msg.id.expect("every event has an id")
}

#[tokio::test]
async fn every_event_type_reaches_its_recipient_over_sse() {
    let c = start().await;
    let poster = c.register("poster").await;
    let worker = c.register("worker").await;
    let mut poster_sse = EventStream::open(relay(&c), &poster).await;
    let mut worker_sse = EventStream::open(relay(&c), &worker).await;
    let expected = raise_every_event(&c.client, &c.pool, &poster, &worker).await;

    for (agent, sse) in [(&poster, &mut poster_sse), (&worker, &mut worker_sse)] {
        let mut want: Vec<&str> = expected
            .iter()
            .filter(|(a, _)| *a == agent.id)
            .map(|(_, e)| e.as_str())
            .collect();
        let mut got = Vec::new();
        let mut last_id = 0;
        for _ in 0..want.len() {
            let msg = sse.next(PATIENCE).await;
            assert!(seq(&msg) > last_id, "ids grow");
            last_id = seq(&msg);
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
        &to.id.as_str().into(),
        EventType::TaskMessage,
        &"tk-x".into(),
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
    let me = c.register("listener").await;
    let other = c.register("bystander").await;
    let mut sse = EventStream::open(relay(&c), &me).await;
    message_event(&c.pool, &me, 1).await;
    let first = sse.next(PATIENCE).await;
    assert_eq!(first.data["n"], 1);
    drop(sse);

    for n in 2..=6 {
        message_event(&c.pool, &me, n).await;
        message_event(&c.pool, &other, 100 + n).await;
    }
    all_published(&c.pool).await;

    let mut sse = EventStream::open_after(relay(&c), &me, Some(seq(&first))).await;
    let mut last = seq(&first);
    for n in 2..=6 {
        let msg = sse.next(PATIENCE).await;
        assert_eq!(msg.data["n"], n, "missed events in order");
        assert!(seq(&msg) > last);
        last = seq(&msg);
    }
    message_event(&c.pool, &me, 7).await;
    let live = sse.next(PATIENCE).await;
    assert_eq!(live.data["n"], 7, "then the live event, nothing twice");
    assert!(seq(&live) > last);
}

#[tokio::test]
async fn the_stream_requires_a_valid_key() {
    let c = start().await;
    let resp = reqwest::get(format!("{}/v1/events", relay(&c)))
        .await
        .expect("get");
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.expect("json");
    assert!(body["error"].is_string());
}
