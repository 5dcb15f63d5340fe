//! An api node that dies between commit and publish loses no event: another
//! node's outbox sweeper publishes it (real binary, killed by fault injection).

use std::time::Duration;

use async_nats::jetstream::consumer::{DeliverPolicy, pull::OrderedConfig};
use futures::StreamExt;
use pinchwork_common::bus::Bus;
use pinchwork_testkit::{Client, TestCluster, free_port, metrics::wait_healthy};
use serde_json::{Value, json};

#[tokio::test]
async fn the_sweeper_publishes_what_a_node_killed_after_commit_left_behind() {
    // Healthy node, in-process.
    let cluster = TestCluster::spawn().await;
    let healthy = &cluster.client;
    let poster = healthy.register("poster").await;
    let worker = healthy.register("worker").await;
    let task = healthy.post_task(&poster, "sum 2 and 2", 5).await;
    healthy.pickup(&worker, &task).await.expect(200);

    // Faulty node: the real binary, exiting right after its next commit.
    let port = free_port();
    let mut faulty = cluster
        .command(env!("CARGO_BIN_EXE_pinchwork-api"))
        .env("PINCHWORK_LISTEN", format!("127.0.0.1:{port}"))
        .env("PINCHWORK_RATE_LIMIT_ENABLED", "false")
        .env("PINCHWORK_FAULT_EXIT_AFTER_COMMIT", "true")
        .spawn()
        .expect("start pinchwork-api");
    let faulty_client = Client::new(format!("http://127.0.0.1:{port}"));
    wait_healthy(&faulty_client.base, Duration::from_secs(60)).await;
    let delivered = faulty_client
        .http
        .post(format!("{}/v1/tasks/{task}/deliver", faulty_client.base))
        .bearer_auth(&worker.key)
        .json(&json!({ "result": "4" }))
        .send()
        .await;
    assert!(delivered.is_err(), "the faulty node dies before answering");
    let status = tokio::time::timeout(Duration::from_secs(20), faulty.wait())
        .await
        .expect("faulty node exits")
        .expect("wait");
    assert_eq!(status.code(), Some(86), "exited by fault injection");
    let state = healthy
        .get(&format!("/v1/tasks/{task}"), Some(&poster.key))
        .await
        .expect(200);
    assert_eq!(state.body["status"], "delivered", "the command committed");

    // The healthy node's sweeper publishes the poster's task_delivered event.
    let bus = Bus::connect(&cluster.config).await.expect("nats");
    let stream = bus
        .js
        .get_stream(bus.layout.events_stream())
        .await
        .expect("stream");
    let consumer = stream
        .create_consumer(OrderedConfig {
            filter_subject: bus
                .layout
                .agent_event(&poster.id.as_str().into(), "task_delivered"),
            deliver_policy: DeliverPolicy::All,
            ..Default::default()
        })
        .await
        .expect("consumer");
    let mut messages = consumer.messages().await.expect("messages");
    let msg = tokio::time::timeout(Duration::from_secs(30), messages.next())
        .await
        .expect("the event is published by the sweeper")
        .expect("message")
        .expect("message ok");
    let body: Value = serde_json::from_slice(&msg.payload).expect("json");
    assert_eq!(body["task_id"], task.as_str());
    assert_eq!(body["event"], "task_delivered");
    let msg_id = msg
        .headers
        .as_ref()
        .and_then(|h| h.get("Nats-Msg-Id"))
        .map(|v| v.to_string());
    assert_eq!(
        msg_id.as_deref(),
        body["event_id"].as_str(),
        "Nats-Msg-Id is the outbox id"
    );
}
