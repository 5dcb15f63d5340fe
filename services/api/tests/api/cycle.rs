//! Shared steps of the feedback tests: a task taken through its whole life.

use pinchwork_testkit::Agent;
use serde_json::{Value, json};

use crate::support::TestApp;

/// Posts a task with tags and returns its id.
pub async fn post_tagged(app: &TestApp, poster: &Agent, credits: i64, tags: &[&str]) -> String {
    app.post(
        "/v1/tasks",
        Some(&poster.key),
        json!({ "need": "Summarize the attached notes", "max_credits": credits, "tags": tags }),
    )
    .await
    .expect(201)
    .body["task_id"]
        .as_str()
        .expect("task_id")
        .to_string()
}

/// Claims and delivers a task.
pub async fn claim_and_deliver(app: &TestApp, worker: &Agent, task_id: &str) {
    app.pickup(worker, task_id).await.expect(200);
    app.deliver(worker, task_id, json!({ "result": "done" }))
        .await
        .expect(200);
}

/// Posts, claims, delivers and approves a task; `approve` is the approve body.
pub async fn approved_task(
    app: &TestApp,
    poster: &Agent,
    worker: &Agent,
    credits: i64,
    tags: &[&str],
    approve: Value,
) -> String {
    let task_id = post_tagged(app, poster, credits, tags).await;
    claim_and_deliver(app, worker, &task_id).await;
    app.act(poster, &task_id, "approve", approve)
        .await
        .expect(200);
    task_id
}

/// Outbox events written for a recipient, as (event type, task id, data).
pub async fn events_for(app: &TestApp, recipient: &str) -> Vec<(String, String, Value)> {
    let rows: Vec<Value> = sqlx::query_scalar(
        "SELECT payload FROM outbox WHERE subject LIKE 'events.' || $1 || '.%' ORDER BY id",
    )
    .bind(recipient)
    .fetch_all(&app.pool)
    .await
    .expect("outbox rows");
    rows.into_iter()
        .map(|p| {
            (
                p["event"].as_str().unwrap_or_default().to_string(),
                p["task_id"].as_str().unwrap_or_default().to_string(),
                p["data"].clone(),
            )
        })
        .collect()
}
