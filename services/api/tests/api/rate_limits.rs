//! Rate limits hold across api nodes because they are counted in PostgreSQL,
//! and can be switched off.

use serde_json::json;

use crate::support::TestApp;

#[tokio::test]
async fn register_limit_applies_per_client_and_answers_429() {
    let app = TestApp::spawn_with(&[
        "--rate-limit-enabled",
        "true",
        "--rate-limit-register",
        "3/hour",
    ])
    .await;
    for i in 0..3 {
        app.post("/v1/register", None, json!({ "name": format!("a{i}") }))
            .await
            .expect(201);
    }
    let r = app
        .post("/v1/register", None, json!({"name": "a4"}))
        .await
        .expect(429);
    assert_eq!(r.error(), "Rate limit exceeded: 3 per 1 hour");
    assert!(r.header("retry-after").is_some());
}

#[tokio::test]
async fn limits_are_shared_by_every_api_node() {
    // Two nodes over the same database.
    let app = TestApp::builder()
        .api_nodes(2)
        .config(&[
            "--rate-limit-enabled",
            "true",
            "--rate-limit-create",
            "4/day",
        ])
        .start()
        .await;
    let second = &app.api_nodes[1];
    let agent = app.register("poster").await;
    let mut statuses = Vec::new();
    for i in 0..6 {
        let node = if i % 2 == 0 { &app.client } else { second };
        statuses.push(
            node.post(
                "/v1/tasks",
                Some(&agent.key),
                json!({"need": "x", "max_credits": 1}),
            )
            .await
            .status
            .as_u16(),
        );
    }
    assert_eq!(statuses, vec![201, 201, 201, 201, 429, 429]);
    app.assert_conservation().await;
}

#[tokio::test]
async fn limits_can_be_switched_off() {
    let app = TestApp::spawn_with(&[
        "--rate-limit-enabled",
        "false",
        "--rate-limit-register",
        "1/hour",
    ])
    .await;
    for i in 0..3 {
        app.post("/v1/register", None, json!({ "name": format!("a{i}") }))
            .await
            .expect(201);
    }
}
