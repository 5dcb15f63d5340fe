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

#[tokio::test]
async fn large_limits_are_leased_in_shares_and_never_exceeded() {
    // 300 a day: each node leases 3 hits of the shared counter at a time.
    let app = TestApp::builder()
        .api_nodes(2)
        .config(&[
            "--rate-limit-enabled",
            "true",
            "--rate-limit-read",
            "300/day",
        ])
        .start()
        .await;
    let second = &app.api_nodes[1];
    let agent = app.register("reader").await;
    let counted = || async {
        sqlx::query_scalar::<_, i32>("SELECT hits FROM rate_limits WHERE bucket = $1")
            .bind(format!("read:agent:{}", agent.id))
            .fetch_one(&app.pool)
            .await
            .expect("the read bucket")
    };
    // The first request on a node leases 3 hits in one write; the next two
    // spend them without touching the counter.
    for _ in 0..3 {
        assert_eq!(
            app.client
                .get("/v1/me/credits", Some(&agent.key))
                .await
                .status,
            200
        );
        assert_eq!(counted().await, 3);
    }
    // Alternating nodes until both are refused: exactly the limit is admitted.
    let mut admitted = 3;
    for i in 0..320 {
        let node = if i % 2 == 0 { &app.client } else { second };
        match node
            .get("/v1/me/credits", Some(&agent.key))
            .await
            .status
            .as_u16()
        {
            200 => admitted += 1,
            429 => {}
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(admitted, 300);
}
