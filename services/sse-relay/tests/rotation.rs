//! Key rotation: the old key is refused on every api node from the moment
//! the new one is returned, the new one works everywhere, and the event
//! streams opened with the old key end while those opened with the new one
//! keep running.

use std::time::Duration;

use pinchwork_testkit::{
    Agent, TestCluster,
    sse::{self, EventStream},
};
use serde_json::json;

#[tokio::test]
async fn a_rotated_key_is_refused_everywhere_and_its_streams_close() {
    let c = TestCluster::builder()
        .api_nodes(2)
        .sse_relay()
        .start()
        .await;
    let relay = c.sse_relay.clone().expect("relay");
    let agent = c.register("rotating").await;
    let worker = c.register("worker").await;
    let old_stream = sse::connect(&relay, &agent.key).await;
    assert_eq!(old_stream.status(), 200);

    let rotated = c.api_nodes[1]
        .post("/v1/me/key/rotate", Some(&agent.key), json!({}))
        .await
        .expect(200);
    let new_key = rotated.body["api_key"]
        .as_str()
        .expect("api_key")
        .to_string();
    assert!(new_key.starts_with("pwk-") && new_key != agent.key);
    assert_eq!(rotated.body["agent_id"], agent.id.as_str());

    for node in &c.api_nodes {
        let old = node.get("/v1/me", Some(&agent.key)).await.expect(401);
        assert_eq!(old.error(), "Invalid API key");
        let me = node.get("/v1/me", Some(&new_key)).await.expect(200);
        assert_eq!(me.body["id"], agent.id.as_str());
    }
    // The old key cannot rotate again (nor open a stream); the new one can
    // do both.
    c.post("/v1/me/key/rotate", Some(&agent.key), json!({}))
        .await
        .expect(401);
    let refused = sse::connect(&relay, &agent.key).await;
    assert_eq!(refused.status(), 401);

    let carried = sse::until_closed(old_stream, Duration::from_secs(60)).await;
    assert!(carried.contains("event: key_rotated"), "{carried}");

    // A stream opened with the new key outlives the rotation's event and
    // carries the next one.
    let renewed = Agent {
        id: agent.id.clone(),
        key: new_key,
    };
    let mut stream = EventStream::open(&relay, &renewed).await;
    let task = c.post_task(&renewed, "after the rotation", 5).await;
    c.pickup(&worker, &task).await.expect(200);
    c.deliver(&worker, &task, json!({"result": "done"}))
        .await
        .expect(200);
    let delivered = stream
        .wait_for("task_delivered", Duration::from_secs(30))
        .await
        .expect("the new key's stream stayed open");
    assert_eq!(delivered.data["task_id"], task.as_str());
}

/// Two rotations racing with one key: one wins, the other is refused, and
/// the agent ends with exactly the winner's key.
#[tokio::test]
async fn concurrent_rotations_with_one_key_have_one_winner() {
    let c = TestCluster::builder().api_nodes(2).start().await;
    let agent = c.register("racing").await;
    let (a, b) = tokio::join!(
        c.api_nodes[0].post("/v1/me/key/rotate", Some(&agent.key), json!({})),
        c.api_nodes[1].post("/v1/me/key/rotate", Some(&agent.key), json!({})),
    );
    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 401], "{} / {}", a.body, b.body);
    let winner = if a.status == 200 { a } else { b };
    let key = winner.body["api_key"].as_str().expect("api_key");
    c.get("/v1/me", Some(key)).await.expect(200);
}
