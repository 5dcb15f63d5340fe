//! kill -9 of the webhooks service with hundreds of deliveries pending loses
//! nothing: after a restart every event is delivered, duplicates only with
//! the same event id (real binary).

mod support;

use std::{collections::HashMap, time::Duration};

use pinchwork_common::{db::outbox, domain::EventType};
use pinchwork_testkit::{TestCluster, eventually, hooks::Receiver};
use serde_json::json;
use support::spawn_binary;

const EVENTS: i64 = 250;

#[tokio::test]
async fn kill_9_with_pending_deliveries_then_restart_delivers_every_event() {
    let cluster = TestCluster::builder().private_webhooks().start().await;
    let hooks = Receiver::answering(503).await;
    let agent = cluster
        .register_with(json!({ "name": "busy", "webhook_url": hooks.url("busy") }))
        .await;
    let mut tx = cluster.pool.begin().await.expect("begin");
    let mut ids = Vec::new();
    for n in 0..EVENTS {
        let id = outbox::enqueue_event(
            &mut tx,
            &agent.id.as_str().into(),
            EventType::TaskMessage,
            &"tk-x".into(),
            json!({ "n": n }),
        )
        .await
        .expect("enqueue");
        ids.push(id.to_string());
    }
    tx.commit().await.expect("commit");

    // The receiver fails everything, so every delivery stays pending.
    let mut first = spawn_binary(&cluster, "127.0.0.1:0");
    eventually("first attempts", Duration::from_secs(60), || async {
        hooks.received().len() >= 20
    })
    .await;
    first.start_kill().expect("kill -9");
    first.wait().await.expect("reaped");
    let pending: i64 = sqlx::query_scalar(
        "SELECT $1::bigint - count(*) FILTER (WHERE status = 'delivered') FROM webhook_deliveries",
    )
    .bind(EVENTS)
    .fetch_one(&cluster.pool)
    .await
    .expect("count");
    assert!(
        pending >= 200,
        "only {pending} deliveries pending at the kill"
    );

    hooks.set_status(200);
    let _second = spawn_binary(&cluster, "127.0.0.1:0");
    eventually("every event delivered", Duration::from_secs(90), || async {
        let ok: std::collections::HashSet<_> = hooks
            .received()
            .into_iter()
            .filter(|r| r.status == 200)
            .filter_map(|r| r.event_id)
            .collect();
        ok.len() == ids.len()
    })
    .await;

    // Duplicates carry the same event id and the same bytes.
    let mut bodies: HashMap<String, Vec<u8>> = HashMap::new();
    for r in hooks.received() {
        let id = r.event_id.clone().expect("event id header");
        assert!(ids.contains(&id), "unknown event id {id}");
        let seen = bodies.entry(id).or_insert_with(|| r.raw.clone());
        assert_eq!(*seen, r.raw, "a redelivery is byte-identical");
    }
    println!(
        "kill -9 test: {} POSTs for {} events",
        hooks.received().len(),
        ids.len()
    );
}
