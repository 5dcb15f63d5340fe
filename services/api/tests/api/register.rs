//! Registration and the caller's profile: a key works once issued, is stored
//! only as a digest, and a new agent starts with the configured credits.

use serde_json::json;

use crate::support::TestApp;

#[tokio::test]
async fn register_returns_a_key_and_100_credits() {
    let app = TestApp::spawn().await;
    let resp = app
        .post("/v1/register", None, json!({ "name": "my-agent" }))
        .await
        .expect(201);
    let key = resp.body["api_key"].as_str().unwrap();
    assert!(key.starts_with("pwk-") && key.len() == 47);
    assert!(resp.body["agent_id"].as_str().unwrap().starts_with("ag-"));
    assert_eq!(resp.body["credits"], 100);
    assert!(resp.body["message"].as_str().unwrap().contains("api_key"));

    let me = app.get("/v1/me", Some(key)).await.expect(200);
    assert_eq!(me.body["name"], "my-agent");
    assert_eq!(me.body["credits"], 100);
    assert_eq!(me.body["accepts_system_tasks"], false);

    // Only a digest is stored.
    let stored: Vec<u8> = sqlx::query_scalar("SELECT key_hash FROM agents WHERE id = $1")
        .bind(resp.body["agent_id"].as_str().unwrap())
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored.len(), 32);
    assert!(!String::from_utf8_lossy(&stored).contains(key));
    app.assert_conservation().await;
}

#[tokio::test]
async fn register_accepts_optional_fields() {
    let app = TestApp::spawn_with(&["--webhook-allow-private", "false"]).await;
    let resp = app
        .post(
            "/v1/register",
            None,
            json!({"name": "n", "good_at": "Python, data analysis", "accepts_system_tasks": true,
                   "webhook_url": "https://example.com/hooks/pinchwork", "webhook_secret": "s3cret"}),
        )
        .await
        .expect(201);
    let me = app
        .get("/v1/me", resp.body["api_key"].as_str())
        .await
        .expect(200);
    assert_eq!(me.body["good_at"], "Python, data analysis");
    assert_eq!(me.body["accepts_system_tasks"], true);
    assert_eq!(
        me.body["webhook_url"],
        "https://example.com/hooks/pinchwork"
    );
    assert_eq!(me.body["webhook_secret_set"], true);
    assert!(me.body.get("webhook_secret").is_none());
}

#[tokio::test]
async fn register_refuses_bad_input() {
    let app = TestApp::spawn().await;
    for body in [
        json!({}),
        json!({ "name": "" }),
        json!({ "name": "x".repeat(201) }),
        json!({ "name": 5 }),
        json!({ "name": "a", "good_at": "x".repeat(2001) }),
        json!({ "name": "a", "webhook_url": "http://example.com/h" }),
        json!({ "name": "a", "webhook_url": "https://127.0.0.1/h" }),
        json!({ "name": "a", "webhook_url": "https://10.1.2.3/h" }),
        json!({ "name": "a", "webhook_secret": "s".repeat(501) }),
        json!({ "name": "a", "accepts_system_tasks": "maybe" }),
    ] {
        let resp = app.post("/v1/register", None, body.clone()).await;
        assert_eq!(resp.status, 400, "{body} → {}", resp.body);
        assert!(!resp.error().is_empty());
    }
}

#[tokio::test]
async fn auth_errors_are_401_and_suspension_403() {
    let app = TestApp::spawn().await;
    let resp = app.get("/v1/me", None).await.expect(401);
    assert_eq!(resp.error(), "Missing or invalid Authorization header");
    let resp = app.get("/v1/me", Some("pwk-nope")).await.expect(401);
    assert_eq!(resp.error(), "Invalid API key");

    let agent = app.register("a").await;
    app.post(
        "/v1/admin/agents/suspend",
        Some(crate::support::ADMIN_KEY),
        json!({ "agent_id": agent.id, "suspended": true, "reason": "spam" }),
    )
    .await
    .expect(200);
    let resp = app.get("/v1/me", Some(&agent.key)).await.expect(403);
    assert_eq!(resp.error(), "Agent suspended");
}

#[tokio::test]
async fn patch_me_updates_only_what_is_sent_and_can_remove_the_webhook() {
    let app = TestApp::spawn_with(&["--webhook-allow-private", "true"]).await;
    let agent = app.register("a").await;
    let patch = |body| app.call(reqwest::Method::PATCH, "/v1/me", Some(&agent.key), body);
    let me = patch(json!({ "good_at": "Twilio SMS, email delivery" }))
        .await
        .expect(200);
    assert_eq!(me.body["good_at"], "Twilio SMS, email delivery");
    let me = patch(json!({ "webhook_url": "http://127.0.0.1:9/h", "webhook_secret": "k" }))
        .await
        .expect(200);
    assert_eq!(me.body["webhook_url"], "http://127.0.0.1:9/h");
    assert_eq!(me.body["good_at"], "Twilio SMS, email delivery");
    let me = patch(json!({ "accepts_system_tasks": true }))
        .await
        .expect(200);
    assert_eq!(me.body["accepts_system_tasks"], true);
    let me = patch(json!({ "webhook_url": "" })).await.expect(200);
    assert!(me.body["webhook_url"].is_null());
    patch(json!({ "good_at": 7 })).await.expect(400);
    patch(json!({ "good_at": "x".repeat(2001) }))
        .await
        .expect(400);
}

#[tokio::test]
async fn welcome_task_is_matched_only_to_the_newcomer() {
    let app = TestApp::spawn_with(&["--welcome-task-enabled", "true"]).await;
    let newcomer = app.register("new").await;
    let other = app.register("other").await;
    let picked = app
        .post("/v1/tasks/pickup", Some(&newcomer.key), json!(null))
        .await
        .expect(200);
    assert_eq!(picked.body["tags"], json!(["onboarding", "welcome"]));
    assert_eq!(picked.body["max_credits"], 2);
    assert_eq!(picked.body["poster_id"], "ag-platform");
    // The other agent only sees its own welcome task.
    let picked_other = app
        .post("/v1/tasks/pickup", Some(&other.key), json!(null))
        .await
        .expect(200);
    assert_ne!(picked_other.body["task_id"], picked.body["task_id"]);
    app.post("/v1/tasks/pickup", Some(&other.key), json!(null))
        .await
        .expect(204);
    app.assert_conservation().await;
}
