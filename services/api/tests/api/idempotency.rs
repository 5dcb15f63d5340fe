//! `Idempotency-Key` across api nodes: a retry replays the first answer and
//! acts once, a reused key for another request is 422, concurrent retries
//! act once, keys are per agent, the deadlines service frees them after the
//! window, and a stored registration holds no API key in clear.

use std::time::Duration;

use pinchwork_testkit::{Agent, Client, eventually};
use reqwest::{Method, header::HeaderMap};
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::support::TestApp;

/// What a test compares between a first answer and its replay: the raw bytes.
#[derive(Debug)]
struct Raw {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Raw {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    fn replayed(&self) -> bool {
        self.headers
            .get("idempotent-replayed")
            .is_some_and(|v| v == "true")
    }
}

/// A POST with `Accept: application/json`, a JSON body, an optional Bearer
/// key and the `Idempotency-Key` `idem`.
async fn post(node: &Client, path: &str, key: Option<&str>, idem: &str, body: &Value) -> Raw {
    let mut req = node
        .http
        .request(Method::POST, format!("{}{path}", node.base))
        .header("accept", "application/json")
        .header("idempotency-key", idem)
        .json(body);
    if let Some(key) = key {
        req = req.bearer_auth(key);
    }
    let resp = req.send().await.expect("request sent");
    Raw {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        body: resp.bytes().await.expect("body").to_vec(),
    }
}

async fn task_count(app: &TestApp, poster: &Agent) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM tasks WHERE poster_id = $1")
        .bind(&poster.id)
        .fetch_one(&app.pool)
        .await
        .expect("count tasks")
}

async fn stored_keys(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM idempotency_keys")
        .fetch_one(&app.pool)
        .await
        .expect("count keys")
}

fn task(need: &str) -> Value {
    json!({ "need": need, "max_credits": 7 })
}

#[tokio::test]
async fn a_retry_on_another_node_replays_the_answer_and_escrows_once() {
    let app = TestApp::builder().api_nodes(2).start().await;
    let (a, b) = (&app.api_nodes[0], &app.api_nodes[1]);
    let poster = app.register("poster").await;
    let before = app.balance(&poster).await;

    let first = post(a, "/v1/tasks", Some(&poster.key), "create-1", &task("x")).await;
    assert_eq!(first.status, 201, "{:?}", first.json());
    assert!(!first.replayed());
    let after = app.balance(&poster).await;
    assert_eq!(after, before - 7);

    let again = post(b, "/v1/tasks", Some(&poster.key), "create-1", &task("x")).await;
    assert_eq!(again.status, 201);
    assert!(again.replayed(), "{:?}", again.headers);
    assert_eq!(again.body, first.body, "the same bytes");
    for name in ["content-type", "x-task-id", "x-status"] {
        assert_eq!(again.headers.get(name), first.headers.get(name), "{name}");
    }
    assert_eq!(app.balance(&poster).await, after, "escrowed once");
    assert_eq!(task_count(&app, &poster).await, 1);

    // An answer refused by the handler (4xx) is stored and replayed too.
    let task_id = first.json()["task_id"].as_str().unwrap().to_string();
    let path = format!("/v1/tasks/{task_id}/approve");
    let refused = post(a, &path, Some(&poster.key), "approve-1", &json!({})).await;
    assert_eq!(
        refused.status,
        409,
        "nothing delivered yet: {:?}",
        refused.json()
    );
    let again = post(b, &path, Some(&poster.key), "approve-1", &json!({})).await;
    assert_eq!((again.status, again.replayed()), (409, true));
    assert_eq!(again.body, refused.body);
    app.assert_conservation().await;
}

#[tokio::test]
async fn the_same_key_for_another_request_is_422() {
    let app = TestApp::builder().api_nodes(2).start().await;
    let (a, b) = (&app.api_nodes[0], &app.api_nodes[1]);
    let poster = app.register("poster").await;
    let first = post(a, "/v1/tasks", Some(&poster.key), "k", &task("one")).await;
    assert_eq!(first.status, 201);

    let other = post(b, "/v1/tasks", Some(&poster.key), "k", &task("two")).await;
    assert_eq!(other.status, 422, "{:?}", other.json());
    assert!(
        other.json()["error"]
            .as_str()
            .is_some_and(|e| e.contains("Idempotency-Key")),
        "{:?}",
        other.json()
    );
    let task_id = first.json()["task_id"].as_str().unwrap().to_string();
    let elsewhere = post(
        b,
        &format!("/v1/tasks/{task_id}/cancel"),
        Some(&poster.key),
        "k",
        &task("one"),
    )
    .await;
    assert_eq!(elsewhere.status, 422, "another path");
    assert_eq!(task_count(&app, &poster).await, 1);
    app.assert_conservation().await;
}

#[tokio::test]
async fn twenty_concurrent_requests_with_one_key_create_one_task() {
    let app = TestApp::builder().api_nodes(2).start().await;
    let poster = app.register("poster").await;
    let before = app.balance(&poster).await;
    let mut requests = JoinSet::new();
    for i in 0..20 {
        let node = app.api_nodes[i % 2].clone();
        let key = poster.key.clone();
        requests.spawn(
            async move { post(&node, "/v1/tasks", Some(&key), "race", &task("once")).await },
        );
    }
    let answers = requests.join_all().await;
    let created: Vec<&Raw> = answers.iter().filter(|r| r.status == 201).collect();
    let firsts = created.iter().filter(|r| !r.replayed()).count();
    assert_eq!(firsts, 1, "one request ran: {answers:?}");
    for r in &answers {
        match r.status {
            201 => assert_eq!(r.body, created[0].body, "replays are the first answer"),
            409 => assert!(r.headers.contains_key("retry-after"), "{r:?}"),
            other => panic!("unexpected {other}: {r:?}"),
        }
    }
    assert_eq!(task_count(&app, &poster).await, 1);
    assert_eq!(app.balance(&poster).await, before - 7);
    app.assert_conservation().await;
}

#[tokio::test]
async fn keys_belong_to_their_agent() {
    let app = TestApp::builder().api_nodes(2).start().await;
    let (alice, bob) = (app.register("alice").await, app.register("bob").await);
    let a = post(
        &app.api_nodes[0],
        "/v1/tasks",
        Some(&alice.key),
        "shared",
        &task("x"),
    )
    .await;
    let b = post(
        &app.api_nodes[1],
        "/v1/tasks",
        Some(&bob.key),
        "shared",
        &task("x"),
    )
    .await;
    assert_eq!((a.status, b.status), (201, 201));
    assert!(!a.replayed() && !b.replayed());
    assert_ne!(a.json()["task_id"], b.json()["task_id"]);
    assert_eq!(task_count(&app, &alice).await, 1);
    assert_eq!(task_count(&app, &bob).await, 1);
    app.assert_conservation().await;
}

#[tokio::test]
async fn the_deadlines_service_frees_a_key_after_the_window() {
    let app = TestApp::builder()
        .api_nodes(2)
        .deadlines()
        .config(&["--idempotency-window-seconds", "1"])
        .start()
        .await;
    let poster = app.register("poster").await;
    let first = post(
        &app.api_nodes[0],
        "/v1/tasks",
        Some(&poster.key),
        "w",
        &task("x"),
    )
    .await;
    assert_eq!(first.status, 201);
    eventually(
        "the stored answer is pruned",
        Duration::from_secs(30),
        || async { stored_keys(&app).await == 0 },
    )
    .await;
    let second = post(
        &app.api_nodes[1],
        "/v1/tasks",
        Some(&poster.key),
        "w",
        &task("x"),
    )
    .await;
    assert_eq!(second.status, 201);
    assert!(!second.replayed(), "the key is free again");
    assert_ne!(second.json()["task_id"], first.json()["task_id"]);
    assert_eq!(task_count(&app, &poster).await, 2);
    app.assert_conservation().await;
}

#[tokio::test]
async fn a_replayed_registration_keeps_no_api_key_in_clear() {
    let app = TestApp::builder().api_nodes(2).start().await;
    let body = json!({ "name": "retrying-agent" });
    let idem = "register-7f3a";
    let first = post(&app.api_nodes[0], "/v1/register", None, idem, &body).await;
    assert_eq!(first.status, 201, "{:?}", first.json());
    let again = post(&app.api_nodes[1], "/v1/register", None, idem, &body).await;
    assert_eq!((again.status, again.replayed()), (201, true));
    assert_eq!(again.body, first.body);
    let api_key = first.json()["api_key"].as_str().unwrap().to_string();
    let agents: i64 = sqlx::query_scalar("SELECT count(*) FROM agents WHERE name = $1")
        .bind("retrying-agent")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(agents, 1, "registered once");

    let rows: Vec<Vec<u8>> = sqlx::query_scalar(
        "SELECT key_digest || fingerprint || coalesce(body, ''::bytea) FROM idempotency_keys",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 1);
    let stored = rows.concat();
    assert!(stored.len() > api_key.len(), "an answer is stored");
    for secret in [api_key.as_bytes(), idem.as_bytes(), b"retrying-agent"] {
        assert!(
            !stored.windows(secret.len()).any(|w| w == secret),
            "{} is stored in clear",
            String::from_utf8_lossy(secret)
        );
    }
}

#[tokio::test]
async fn a_malformed_key_is_refused_naming_the_header() {
    let app = TestApp::spawn().await;
    let poster = app.register("poster").await;
    let long = "k".repeat(256);
    for bad in ["has space", long.as_str()] {
        let r = post(&app.client, "/v1/tasks", Some(&poster.key), bad, &task("x")).await;
        assert_eq!(r.status, 400, "{bad}");
        assert!(
            r.json()["error"]
                .as_str()
                .is_some_and(|e| e.contains("Idempotency-Key")),
            "{:?}",
            r.json()
        );
    }
    assert_eq!(task_count(&app, &poster).await, 0);
}

#[tokio::test]
async fn the_document_offers_the_key_on_every_state_changing_post() {
    let app = TestApp::spawn().await;
    let doc = app.get("/openapi.json", None).await.expect(200).body;
    let posts = [
        "/v1/register",
        "/v1/tasks",
        "/v1/tasks/pickup",
        "/v1/tasks/pickup/batch",
        "/v1/tasks/{task_id}/pickup",
        "/v1/tasks/{task_id}/deliver",
        "/v1/tasks/{task_id}/approve",
        "/v1/tasks/{task_id}/reject",
        "/v1/tasks/{task_id}/cancel",
        "/v1/tasks/{task_id}/abandon",
        "/v1/tasks/{task_id}/rate",
        "/v1/tasks/{task_id}/report",
        "/v1/tasks/{task_id}/questions",
        "/v1/tasks/{task_id}/questions/{question_id}/answer",
        "/v1/tasks/{task_id}/messages",
        "/v1/admin/credits/grant",
    ];
    for path in posts {
        let op = &doc["paths"][path]["post"];
        assert!(op.is_object(), "{path} is a documented POST");
        let params = op["parameters"].as_array().cloned().unwrap_or_default();
        assert!(
            params
                .iter()
                .any(|p| p["name"] == "Idempotency-Key" && p["in"] == "header"),
            "{path} takes Idempotency-Key"
        );
        for status in ["409", "422"] {
            assert!(
                op["responses"][status].is_object(),
                "{path} documents {status}"
            );
        }
    }
    let read = &doc["paths"]["/v1/tasks"]["get"]["parameters"];
    assert!(
        !read.to_string().contains("Idempotency-Key"),
        "reads take no key"
    );
}
