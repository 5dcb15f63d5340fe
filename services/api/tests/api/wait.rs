//! `wait` on task creation returns the delivered task whichever api node
//! handled the delivery, and the current state (not an error) at the timeout.

use serde_json::json;

use crate::support::TestApp;

#[tokio::test]
async fn wait_returns_the_result_delivered_through_another_node() {
    let app = TestApp::builder().api_nodes(2).start().await;
    let other = &app.api_nodes[1];
    let poster = app.register("poster").await;
    let worker = app.register("worker").await;

    let waiting = {
        let client = app.client.clone();
        let key = poster.key.clone();
        tokio::spawn(async move {
            client
                .post(
                    "/v1/tasks",
                    Some(&key),
                    json!({ "need": "name a colour", "max_credits": 5, "wait": 60 }),
                )
                .await
        })
    };
    // The worker finds the task and delivers through the other node.
    let task_id = loop {
        let resp = other
            .post("/v1/tasks/pickup", Some(&worker.key), json!({}))
            .await;
        if resp.status == 200 && resp.body["task_id"].is_string() {
            break resp.body["task_id"].as_str().unwrap().to_string();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    other
        .deliver(&worker, &task_id, json!({ "result": "teal" }))
        .await
        .expect(200);

    let resp = waiting.await.expect("join").expect(200);
    assert_eq!(resp.body["task_id"], task_id.as_str());
    assert_eq!(resp.body["status"], "delivered");
    assert_eq!(resp.body["result"], "teal");
}

#[tokio::test]
async fn wait_times_out_with_the_current_state() {
    let app = TestApp::spawn().await;
    let poster = app.register("poster").await;
    let resp = app
        .post(
            "/v1/tasks",
            Some(&poster.key),
            json!({ "need": "nobody will do this", "max_credits": 5, "wait": 1 }),
        )
        .await
        .expect(201);
    assert_eq!(resp.body["status"], "posted");
    assert!(resp.body["task_id"].is_string());
}
