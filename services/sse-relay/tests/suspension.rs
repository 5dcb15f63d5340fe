//! Suspension reaches everything an agent holds: its open event streams end
//! (on every relay, through NATS), its posted tasks leave the pool; and one
//! agent cannot hold more than its cap of streams on a relay.

use std::time::Duration;

use pinchwork_testkit::{ADMIN_KEY, Agent, Service, TestCluster, sse};
use serde_json::json;

/// An api node and two relays over one database and NATS prefix; each
/// agent may hold two streams per relay.
async fn start() -> (TestCluster, Vec<String>) {
    let cluster = TestCluster::builder()
        .sse_relay()
        .config(&["--sse-max-per-agent", "2"])
        .start()
        .await;
    let second = cluster.start_service(Service::SseRelay).await;
    let first = cluster.sse_relay.clone().expect("relay");
    (cluster, vec![first, second])
}

async fn open(relay: &str, agent: &Agent) -> reqwest::Response {
    sse::connect(relay, &agent.key).await
}

#[tokio::test]
async fn suspension_closes_open_streams_on_every_relay_and_hides_posted_tasks() {
    let (c, relays) = start().await;
    let suspect = c.register("suspect").await;
    let worker = c.register("worker").await;
    let task = c
        .post_task(&suspect, "Posted before the suspension", 5)
        .await;
    let streams = [
        open(&relays[0], &suspect).await,
        open(&relays[1], &suspect).await,
    ];
    for s in &streams {
        assert_eq!(s.status(), 200);
    }
    c.post(
        "/v1/admin/agents/suspend",
        Some(ADMIN_KEY),
        json!({"agent_id": suspect.id, "suspended": true, "reason": "abuse"}),
    )
    .await
    .expect(200);
    for stream in streams {
        let carried = sse::until_closed(stream, Duration::from_secs(60)).await;
        assert!(carried.contains("agent_suspended"), "{carried}");
    }
    assert_eq!(open(&relays[0], &suspect).await.status(), 403);

    // Its posted task is out of the pool, for the next pickup and a direct one.
    let next = c
        .post("/v1/tasks/pickup", Some(&worker.key), json!({}))
        .await;
    assert_ne!(next.body["task_id"], task.as_str(), "{}", next.body);
    c.pickup(&worker, &task).await.expect(409);
    let listed = c.get("/v1/tasks/available", Some(&worker.key)).await;
    assert!(!listed.body.to_string().contains(&task), "{}", listed.body);

    // Reinstated, its task is back.
    c.post(
        "/v1/admin/agents/suspend",
        Some(ADMIN_KEY),
        json!({"agent_id": suspect.id, "suspended": false}),
    )
    .await
    .expect(200);
    c.pickup(&worker, &task).await.expect(200);
}

#[tokio::test]
async fn an_agent_holds_at_most_its_cap_of_streams_per_relay() {
    let (c, relays) = start().await;
    let agent = c.register("greedy").await;
    let first = open(&relays[0], &agent).await;
    let second = open(&relays[0], &agent).await;
    assert_eq!(
        (first.status().as_u16(), second.status().as_u16()),
        (200, 200)
    );
    let third = open(&relays[0], &agent).await;
    assert_eq!(third.status(), 429);
    assert!(third.headers().contains_key("retry-after"));
    let body: serde_json::Value = third.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("at most 2"),
        "{body}"
    );
    // Closing one frees its slot.
    drop(first);
    let mut reopened = None;
    for _ in 0..100 {
        let r = open(&relays[0], &agent).await;
        if r.status() == 200 {
            reopened = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(reopened.is_some(), "a closed stream never freed its slot");
    drop(second);
}
