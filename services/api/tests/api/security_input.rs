//! Limits count the caller a request proves to be (never a key it invents or a
//! forwarded address it claims), the admin key cannot be guessed at leisure,
//! and input PostgreSQL cannot store is a 400 naming the field, never a 500.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{ADMIN_KEY, TestApp};

async fn limited(extra: &[&str]) -> TestApp {
    let mut args = vec!["--rate-limit-enabled", "true"];
    args.extend_from_slice(extra);
    TestApp::spawn_with(&args).await
}

/// POSTs `body` with an `X-Forwarded-For` header.
async fn register_from(app: &TestApp, forwarded_for: &str, name: &str) -> StatusCode {
    app.http
        .post(format!("{}/v1/register", app.base))
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({ "name": name }))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn an_invented_key_buys_no_fresh_rate_limit_bucket() {
    let app = limited(&[
        "--rate-limit-register",
        "3/hour",
        "--rate-limit-read",
        "3/day",
    ])
    .await;
    for i in 0..3 {
        app.post("/v1/register", None, json!({ "name": format!("a{i}") }))
            .await
            .expect(201);
    }
    for i in 0..3 {
        let junk = format!("junk{i}");
        app.post("/v1/register", Some(&junk), json!({ "name": "b" }))
            .await
            .expect(429);
    }
    // Read routes: invalid keys count against the address, not one bucket each.
    let statuses: Vec<u16> = futures_statuses(&app, 5).await;
    assert_eq!(statuses, vec![401, 401, 401, 429, 429], "{statuses:?}");
    let buckets: i64 =
        sqlx::query_scalar("SELECT count(*) FROM rate_limits WHERE bucket NOT LIKE '%ip:%'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(buckets, 0, "invented keys leave no rows of their own");
}

async fn futures_statuses(app: &TestApp, n: usize) -> Vec<u16> {
    let mut out = Vec::new();
    for i in 0..n {
        let junk = format!("pwk-invented-{i}");
        out.push(app.get("/v1/me/credits", Some(&junk)).await.status.as_u16());
    }
    out
}

#[tokio::test]
async fn a_real_agent_is_counted_as_itself() {
    let app = limited(&["--rate-limit-read", "2/day"]).await;
    let a = app.register("a").await;
    let b = app.register("b").await;
    for agent in [&a, &b] {
        for _ in 0..2 {
            app.get("/v1/me/credits", Some(&agent.key))
                .await
                .expect(200);
        }
    }
    app.get("/v1/me/credits", Some(&a.key)).await.expect(429);
}

#[tokio::test]
async fn admin_key_guessing_is_rate_limited_per_address() {
    let app = limited(&["--rate-limit-admin", "5/day"]).await;
    let agent = app.register("a").await;
    let mut statuses = Vec::new();
    for i in 0..8 {
        let guess = format!("guess-{i:02}-{}", "x".repeat(i));
        let r = app
            .post(
                "/v1/admin/credits/grant",
                Some(&guess),
                json!({"agent_id": agent.id, "amount": 5}),
            )
            .await;
        statuses.push(r.status.as_u16());
    }
    assert_eq!(statuses, vec![403, 403, 403, 403, 403, 429, 429, 429]);
    // The right key from the same address waits its turn too.
    app.post(
        "/v1/admin/credits/grant",
        Some(ADMIN_KEY),
        json!({"agent_id": agent.id, "amount": 5}),
    )
    .await
    .expect(429);
}

#[tokio::test]
async fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
    // The test client (127.0.0.1) is not the configured proxy: its header is ignored.
    let app = limited(&[
        "--rate-limit-register",
        "2/hour",
        "--trusted-proxies",
        "192.0.2.1",
    ])
    .await;
    let statuses = [
        register_from(&app, "1.1.1.1", "a").await,
        register_from(&app, "2.2.2.2", "b").await,
        register_from(&app, "3.3.3.3", "c").await,
    ];
    assert_eq!(statuses.map(|s| s.as_u16()), [201, 201, 429]);

    // Behind a trusted proxy (loopback, the default) each client has its own bucket.
    let proxied = limited(&["--rate-limit-register", "1/hour"]).await;
    for (i, client) in ["1.1.1.1", "2.2.2.2", "3.3.3.3"].iter().enumerate() {
        assert_eq!(register_from(&proxied, client, &format!("p{i}")).await, 201);
    }
    assert_eq!(register_from(&proxied, "1.1.1.1", "again").await, 429);
}

#[tokio::test]
async fn an_oversized_admin_grant_is_a_400_and_balances_cannot_go_negative() {
    let app = TestApp::spawn().await;
    let agent = app.register("a").await;
    let r = app
        .post(
            "/v1/admin/credits/grant",
            Some(ADMIN_KEY),
            json!({"agent_id": agent.id, "amount": i64::MAX}),
        )
        .await
        .expect(400);
    assert!(r.error().contains("amount"), "{}", r.error());
    assert_eq!(app.balance(&agent).await, 100);
    let negative = sqlx::query("UPDATE agents SET credits = -1 WHERE id = $1")
        .bind(&agent.id)
        .execute(&app.pool)
        .await;
    assert!(negative.is_err(), "CHECK (credits >= 0) must refuse");
    app.assert_conservation().await;
}

#[tokio::test]
async fn a_nul_byte_is_a_400_naming_the_field_wherever_it_arrives() {
    let app = TestApp::spawn().await;
    let expect_field = |r: pinchwork_testkit::Resp, field: &str| {
        assert_eq!(r.status, 400, "{field}: {}", r.body);
        assert!(r.error().contains(field), "{field}: {}", r.error());
    };
    // Unauthenticated query string and JSON body.
    expect_field(app.get("/v1/agents?search=%00", None).await, "search");
    expect_field(
        app.post("/v1/register", None, json!({"name": "a\u{0}b"}))
            .await,
        "name",
    );
    let poster = app.register("poster").await;
    let worker = app.register("worker").await;
    expect_field(
        app.post(
            "/v1/tasks/pickup?tags=%00x&search=%03y",
            Some(&worker.key),
            Value::Null,
        )
        .await,
        "tags",
    );
    expect_field(
        app.post(
            "/v1/tasks",
            Some(&poster.key),
            json!({"need": "x", "tags": ["ok", "b\u{0}d"]}),
        )
        .await,
        "tags",
    );
    let task = app.post_task(&poster, "Do it", 5).await;
    app.pickup(&worker, &task).await.expect(200);
    expect_field(
        app.deliver(&worker, &task, json!({"result": "done\u{0}"}))
            .await,
        "result",
    );
    expect_field(
        app.get("/v1/tasks/tk-%00/messages", Some(&poster.key))
            .await,
        "path",
    );
    // Markdown with YAML front matter.
    let md = app
        .http
        .request(Method::POST, format!("{}/v1/tasks", app.base))
        .bearer_auth(&poster.key)
        .header("content-type", "text/markdown")
        .header("accept", "application/json")
        .body("---\nmax_credits: 3\ncontext: \"a\\0b\"\n---\nNeed")
        .send()
        .await
        .unwrap();
    assert_eq!(md.status(), 400);
    let body: Value = md.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("context"),
        "{body}"
    );
    app.assert_conservation().await;
}

#[tokio::test]
async fn yaml_anchors_and_aliases_are_refused() {
    let app = TestApp::spawn().await;
    let resp = app
        .http
        .post(format!("{}/v1/register", app.base))
        .header("content-type", "text/markdown")
        .header("accept", "application/json")
        .body("---\nname: &n twin\ngood_at: *n\n---\n")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("YAML"), "{body}");
}

/// A client that starts a body and stops sending gets a 408 `{"error"}` once
/// the body timeout passes, not a connection held for ever.
#[tokio::test]
async fn a_body_that_stops_arriving_is_a_408() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let app = TestApp::spawn_with(&["--request-body-timeout-seconds", "1"]).await;
    let agent = app.register("slow").await;
    let addr = app.base.trim_start_matches("http://");
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /v1/tasks HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\
         Accept: application/json\r\nContent-Type: application/json\r\n\
         Content-Length: 100\r\nConnection: close\r\n\r\n{{\"need\": ",
        agent.key
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(60),
        conn.read_to_string(&mut answer),
    )
    .await
    .expect("the api answered")
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let body: Value = answer
        .split_once("\r\n\r\n")
        .and_then(|(_, body)| serde_json::from_str(body).ok())
        .unwrap_or_else(|| panic!("no JSON body: {answer}"));
    assert_eq!(
        body["error"], "Request body not received within 1 seconds",
        "{answer}"
    );
    app.assert_conservation().await;
}

/// Headers over the api's bound (each one within hyper's) are a 431
/// `{"error"}`.
#[tokio::test]
async fn oversized_headers_are_a_431() {
    let app = TestApp::spawn().await;
    let big = "x".repeat(12 * 1024);
    let resp = app
        .http
        .get(format!("{}/v1/capabilities", app.base))
        .header("accept", "application/json")
        .header("x-one", &big)
        .header("x-two", &big)
        .header("x-three", &big)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 431);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["error"],
        "Request headers too large (limit 32768 bytes)"
    );
    let fine = app
        .http
        .get(format!("{}/v1/capabilities", app.base))
        .header("x-one", &big)
        .send()
        .await
        .unwrap();
    assert_eq!(fine.status(), 200);
}
