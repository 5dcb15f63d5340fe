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
    let mut messages = delivered_events(&bus, &poster.id.as_str().into()).await;
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
    let stem = pinchwork_common::outbox_relay::message_id_stem(&cluster.pool)
        .await
        .expect("the database's oid");
    let event_id = body["event_id"].as_str().expect("event_id");
    assert_eq!(
        msg_id,
        Some(format!("{stem}.{event_id}")),
        "Nats-Msg-Id is the database's oid and the outbox id"
    );
}

/// A database created anew numbers its outbox from the same start: its first
/// events must not be taken by JetStream for repeats of the former
/// database's (same stream, same outbox ids, inside the duplicate window).
#[tokio::test]
async fn a_database_created_anew_publishes_events_the_stream_already_saw_ids_of() {
    use pinchwork_common::{db::outbox, domain::EventType, ids::AgentId, outbox_relay};
    use pinchwork_testkit::{fresh_database, nats_prefix, test_config};

    let prefix = nats_prefix();
    let agent = AgentId::from("ag_created_anew");
    let mut ids = Vec::new();
    let mut bus = None;
    for round in 0..2 {
        let db = fresh_database().await;
        let config = test_config(&db, &prefix, &[]);
        let pool = sqlx::PgPool::connect(&db).await.expect("connect");
        let this_bus = Bus::connect(&config).await.expect("nats");
        this_bus.ensure_streams(&config).await.expect("streams");
        let mut conn = pool.acquire().await.expect("connection");
        let id = outbox::enqueue_agent_event(
            &mut conn,
            &agent,
            EventType::TaskDelivered,
            json!({ "round": round }),
        )
        .await
        .expect("enqueue");
        ids.push(id);
        let stem = outbox_relay::message_id_stem(&pool).await.expect("stem");
        let published = outbox_relay::drain(&pool, &this_bus, &stem)
            .await
            .expect("drain");
        assert_eq!(published, Some(1));
        bus = Some(this_bus);
    }
    assert_eq!(
        ids[0], ids[1],
        "both databases start their outbox ids alike"
    );

    let bus = bus.expect("bus");
    let mut messages = delivered_events(&bus, &agent).await;
    for round in 0..2 {
        let msg = tokio::time::timeout(Duration::from_secs(10), messages.next())
            .await
            .unwrap_or_else(|_| panic!("round {round}'s event is in the stream"))
            .expect("message")
            .expect("message ok");
        let body: Value = serde_json::from_slice(&msg.payload).expect("json");
        assert_eq!(body["data"]["round"], round, "{body}");
    }
}

/// The `task_delivered` events to `agent` in the events stream, from the first.
async fn delivered_events(
    bus: &Bus,
    agent: &pinchwork_common::ids::AgentId,
) -> async_nats::jetstream::consumer::pull::Ordered {
    let stream = bus
        .js
        .get_stream(bus.layout.events_stream())
        .await
        .expect("stream");
    let consumer = stream
        .create_consumer(OrderedConfig {
            filter_subject: bus.layout.agent_event(agent, "task_delivered"),
            deliver_policy: DeliverPolicy::All,
            ..Default::default()
        })
        .await
        .expect("consumer");
    consumer.messages().await.expect("messages")
}
