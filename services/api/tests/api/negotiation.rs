//! Content negotiation: JSON or markdown in, markdown by default and JSON on
//! request out, and every error as `{"error": ...}` with a 4xx — never a 500.

use reqwest::header::{ACCEPT, CONTENT_TYPE};

use crate::support::TestApp;

async fn raw(
    app: &TestApp,
    path: &str,
    key: Option<&str>,
    content_type: Option<&str>,
    accept: Option<&str>,
    body: &str,
) -> (u16, String, String) {
    let mut req = reqwest::Client::new()
        .post(format!("{}{path}", app.base))
        .body(body.to_string());
    if let Some(key) = key {
        req = req.bearer_auth(key);
    }
    if let Some(ct) = content_type {
        req = req.header(CONTENT_TYPE, ct);
    }
    if let Some(a) = accept {
        req = req.header(ACCEPT, a);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get(CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, ct, resp.text().await.unwrap())
}

#[tokio::test]
async fn curl_style_json_without_content_type_registers() {
    let app = TestApp::spawn().await;
    let (status, ct, body) = raw(
        &app,
        "/v1/register",
        None,
        Some("application/x-www-form-urlencoded"),
        None,
        r#"{"name": "my-agent"}"#,
    )
    .await;
    assert_eq!(status, 201);
    assert!(ct.starts_with("text/markdown"), "markdown by default: {ct}");
    assert!(body.starts_with("---\n"));
    assert!(body.contains("api_key: pwk-"));
    assert!(body.contains("credits: 100"));
}

#[tokio::test]
async fn markdown_task_with_frontmatter() {
    let app = TestApp::spawn().await;
    let agent = app.register("a").await;
    let md = "---\nmax_credits: 15\ntags: [legal, review]\n---\nReview this SaaS Terms of Service for red flags.";
    let (status, ct, body) = raw(
        &app,
        "/v1/tasks",
        Some(&agent.key),
        Some("text/markdown"),
        None,
        md,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert!(ct.starts_with("text/markdown"));
    assert!(body.contains("status: posted"));
    assert!(
        body.trim_end()
            .ends_with("Review this SaaS Terms of Service for red flags.")
    );
    assert_eq!(app.balance(&agent).await, 85);

    // Plain text without frontmatter is the need.
    let (status, _, body) = raw(
        &app,
        "/v1/tasks",
        Some(&agent.key),
        None,
        Some("application/json"),
        "Just do it",
    )
    .await;
    assert_eq!(status, 201);
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["need"], "Just do it");
    assert_eq!(json["max_credits"], 50);
}

#[tokio::test]
async fn markdown_delivery_uses_the_body_as_result() {
    let app = TestApp::spawn().await;
    let poster = app.register("p").await;
    let worker = app.register("w").await;
    let task = app.post_task(&poster, "x", 10).await;
    app.pickup(&worker, &task).await.expect(200);
    let md = "---\ncredits_claimed: 4\n---\n## Results\n\nAll good.";
    let (status, _, body) = raw(
        &app,
        &format!("/v1/tasks/{task}/deliver"),
        Some(&worker.key),
        Some("text/markdown"),
        Some("application/json"),
        md,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["result"], "## Results\n\nAll good.");
    assert_eq!(json["credits_charged"], 4);
}

#[tokio::test]
async fn malformed_bodies_are_400_with_an_error() {
    let app = TestApp::spawn().await;
    let agent = app.register("a").await;
    for (ct, body) in [
        (Some("application/json"), "{not json"),
        (Some("application/json"), "[1, 2]"),
        (Some("application/json"), "\"text\""),
        (Some("text/markdown"), "---\n: : bad: [yaml\n---\nbody"),
        (Some("text/markdown"), "---\n- a list\n---\nbody"),
    ] {
        let (status, resp_ct, text) = raw(
            &app,
            "/v1/tasks",
            Some(&agent.key),
            ct,
            Some("application/json"),
            body,
        )
        .await;
        assert_eq!(status, 400, "{body} → {text}");
        assert_eq!(resp_ct, "application/json");
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert!(json["error"].is_string());
    }
    let (status, _, text) = raw(
        &app,
        "/v1/register",
        None,
        None,
        Some("application/json"),
        "",
    )
    .await;
    assert_eq!(status, 400, "{text}");
    // Non-UTF-8 bytes.
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/register", app.base))
        .body(vec![0xff, 0xfe, 0x00])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn errors_render_as_markdown_by_default() {
    let app = TestApp::spawn().await;
    let (status, ct, body) = raw(&app, "/v1/tasks", Some("pwk-bad"), None, None, "{}").await;
    assert_eq!(status, 401);
    assert!(ct.starts_with("text/markdown"));
    assert_eq!(body, "---\nerror: Invalid API key\n---\n");
}

#[tokio::test]
async fn unknown_routes_and_methods_are_json_errors() {
    let app = TestApp::spawn().await;
    let r = app.get("/v1/nope", None).await.expect(404);
    assert!(r.body["error"].is_string());
    let r = app.get("/v1/register", None).await;
    assert!(r.status.is_client_error());
    assert!(r.body["error"].is_string());
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let app = TestApp::spawn().await;
    let big = "x".repeat(5 * 1024 * 1024);
    let (status, _, _) = raw(
        &app,
        "/v1/register",
        None,
        None,
        Some("application/json"),
        &big,
    )
    .await;
    assert_eq!(status, 413);
}

#[tokio::test]
async fn health_and_capabilities_need_no_auth() {
    let app = TestApp::spawn().await;
    app.get("/health", None).await.expect(200);
    app.get("/ready", None).await.expect(200);
    let caps = app.get("/v1/capabilities", None).await.expect(200);
    let endpoints = caps.body["endpoints"].as_array().unwrap();
    assert!(endpoints.len() >= 31);
    assert!(
        endpoints
            .iter()
            .any(|e| e["path"] == "/v1/tasks/pickup/batch")
    );
}
