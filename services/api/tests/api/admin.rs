//! The admin API: only the configured key may grant credits or suspend, and
//! a grant is a ledger row like every other balance change.

use serde_json::json;

use crate::support::{ADMIN_KEY, TestApp};

#[tokio::test]
async fn grant_adds_credits_with_a_ledger_row() {
    let app = TestApp::spawn().await;
    let agent = app.register("a").await;
    let r = app
        .post(
            "/v1/admin/credits/grant",
            Some(ADMIN_KEY),
            json!({"agent_id": agent.id, "amount": 500}),
        )
        .await
        .expect(200);
    assert_eq!(
        r.body,
        json!({"granted": 500, "agent_id": agent.id, "reason": "admin_grant"})
    );
    assert_eq!(app.balance(&agent).await, 600);
    app.post(
        "/v1/admin/credits/grant",
        Some(ADMIN_KEY),
        json!({"agent_id": agent.id, "amount": 5, "reason": "bonus"}),
    )
    .await
    .expect(200);
    let credits = app
        .get("/v1/me/credits", Some(&agent.key))
        .await
        .expect(200);
    assert_eq!(credits.body["ledger"][0]["reason"], "bonus");
    app.assert_conservation().await;
}

#[tokio::test]
async fn grant_refusals() {
    let app = TestApp::spawn().await;
    let agent = app.register("a").await;
    let grant = |key: Option<&'static str>, body| app.post("/v1/admin/credits/grant", key, body);
    let r = grant(None, json!({"agent_id": agent.id, "amount": 5}))
        .await
        .expect(401);
    assert_eq!(r.error(), "Missing Authorization header");
    let r = grant(Some("wrong"), json!({"agent_id": agent.id, "amount": 5}))
        .await
        .expect(403);
    assert_eq!(r.error(), "Invalid admin key");
    let r = app
        .post(
            "/v1/admin/credits/grant",
            Some(&agent.key),
            json!({"agent_id": agent.id, "amount": 5}),
        )
        .await;
    assert_eq!(r.status, 403, "an agent key is not the admin key");
    let r = grant(
        Some(ADMIN_KEY),
        json!({"agent_id": "ag-nobody", "amount": 5}),
    )
    .await
    .expect(404);
    assert_eq!(r.error(), "Agent not found");
    grant(Some(ADMIN_KEY), json!({"agent_id": agent.id, "amount": 0}))
        .await
        .expect(400);
    grant(Some(ADMIN_KEY), json!({"agent_id": agent.id}))
        .await
        .expect(400);
    grant(Some(ADMIN_KEY), json!({"amount": 5}))
        .await
        .expect(400);
    assert_eq!(app.balance(&agent).await, 100);
}

#[tokio::test]
async fn admin_api_is_501_without_a_key() {
    let app = TestApp::spawn_with(&["--admin-key", ""]).await;
    let r = app
        .post(
            "/v1/admin/credits/grant",
            Some("x"),
            json!({"agent_id": "a", "amount": 1}),
        )
        .await
        .expect(501);
    assert_eq!(r.error(), "Admin API not configured");
    app.post(
        "/v1/admin/agents/suspend",
        Some("x"),
        json!({"agent_id": "a", "suspended": true}),
    )
    .await
    .expect(501);
}

#[tokio::test]
async fn suspend_and_unsuspend() {
    let app = TestApp::spawn().await;
    let agent = app.register("a").await;
    let suspend = |body| app.post("/v1/admin/agents/suspend", Some(ADMIN_KEY), body);
    let r = suspend(json!({"agent_id": agent.id, "suspended": true, "reason": "spam"}))
        .await
        .expect(200);
    assert_eq!(
        r.body,
        json!({"agent_id": agent.id, "suspended": true, "reason": "spam"})
    );
    app.get("/v1/me", Some(&agent.key)).await.expect(403);
    app.post(
        "/v1/tasks/pickup",
        Some(&agent.key),
        serde_json::Value::Null,
    )
    .await
    .expect(403);
    let r = suspend(json!({"agent_id": agent.id, "suspended": false}))
        .await
        .expect(200);
    assert!(r.body["reason"].is_null());
    app.get("/v1/me", Some(&agent.key)).await.expect(200);
    suspend(json!({"agent_id": "ag-nobody", "suspended": true}))
        .await
        .expect(404);
    suspend(json!({"agent_id": agent.id})).await.expect(400);
    suspend(json!({"agent_id": agent.id, "suspended": "perhaps"}))
        .await
        .expect(400);
}
