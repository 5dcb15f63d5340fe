//! The webhooks service's ops routes count what it consumed and sent, and the
//! real binary stops on SIGTERM with exit status 0 after finishing its work.

mod support;

use std::time::Duration;

use pinchwork_common::{db::outbox, domain::EventType};
use pinchwork_testkit::metrics::{ready, wait_for};
use pinchwork_testkit::{TestCluster, eventually, free_port, hooks::Receiver};
use serde_json::json;
use support::spawn_binary;

/// Queues one event for `agent_id` (the api node's relay publishes it).
async fn raise_event(cluster: &TestCluster, agent_id: &str) {
    let mut tx = cluster.pool.begin().await.expect("begin");
    let (agent_id, task_id) = (agent_id.into(), "tk-x".into());
    outbox::enqueue_event(
        &mut tx,
        &agent_id,
        EventType::TaskMessage,
        &task_id,
        json!({}),
    )
    .await
    .expect("enqueue");
    tx.commit().await.expect("commit");
}

#[tokio::test]
async fn metrics_count_consumed_events_attempts_and_lag() {
    let cluster = TestCluster::builder().webhooks().start().await;
    let base = cluster.webhooks.clone().expect("webhooks address");
    let hooks = Receiver::start().await;
    let agent = cluster
        .register_with(json!({ "name": "hooked", "webhook_url": hooks.url("hooked") }))
        .await;
    raise_event(&cluster, &agent.id).await;
    eventually("the webhook arrives", Duration::from_secs(30), || async {
        !hooks.received().is_empty()
    })
    .await;

    let delivered = [("outcome", "delivered")];
    let scrape = wait_for(&base, "pinchwork_webhook_attempts_total", &delivered, 1.0).await;
    let consumed = scrape.value(
        "pinchwork_events_consumed_total",
        &[("consumer", "webhooks")],
    );
    assert!(consumed.is_some_and(|n| n >= 1.0), "consumed: {consumed:?}");
    wait_for(
        &base,
        "pinchwork_consumer_pending",
        &[("consumer", "webhooks")],
        0.0,
    )
    .await;

    assert_eq!(
        ready(&base).await,
        (
            200,
            json!({ "status": "ready", "database": "ok", "nats": "ok" })
        )
    );
}

#[tokio::test]
async fn sigterm_stops_the_binary_with_status_0() {
    let cluster = TestCluster::builder().private_webhooks().start().await;
    let hooks = Receiver::start().await;
    let agent = cluster
        .register_with(json!({ "name": "hooked", "webhook_url": hooks.url("hooked") }))
        .await;
    let port = free_port();
    let mut child = spawn_binary(&cluster, &format!("127.0.0.1:{port}"));
    raise_event(&cluster, &agent.id).await;
    eventually("the webhook arrives", Duration::from_secs(30), || async {
        !hooks.received().is_empty()
    })
    .await;
    assert_eq!(ready(&format!("http://127.0.0.1:{port}")).await.0, 200);

    let pid = child.id().expect("running").to_string();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("run kill");
    assert!(sent.success());
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .expect("the service exits after SIGTERM")
        .expect("reaped");
    assert!(status.success(), "exit status {status}");
    let delivered: i64 =
        sqlx::query_scalar("SELECT count(*) FROM webhook_deliveries WHERE status = 'delivered'")
            .fetch_one(&cluster.pool)
            .await
            .expect("count");
    assert_eq!(delivered, 1, "the delivery was recorded before exiting");
}
