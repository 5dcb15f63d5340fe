//! A POST whose answer is lost is sent again with the same `Idempotency-Key`,
//! and the server answers the retry with the first answer: one task, one
//! escrow.

use std::sync::{Arc, Mutex};

use axum::{
    Router,
    extract::{Request, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};

use crate::support::{Cli, TestApp};

/// Forwards to the api node, but answers the first task creation with 502
/// after the api node has handled it (an answer lost on the way back), and
/// records the `Idempotency-Key` of every task creation.
#[derive(Clone)]
struct Lossy {
    http: reqwest::Client,
    api: String,
    keys: Arc<Mutex<Vec<Option<String>>>>,
}

async fn forward(State(front): State<Lossy>, req: Request) -> Response {
    let (mut parts, body) = req.into_parts();
    parts.headers.remove("host");
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    let creates = parts.method == "POST" && path == "/v1/tasks";
    let lost = creates && {
        let mut keys = front.keys.lock().unwrap();
        keys.push(
            parts
                .headers
                .get("idempotency-key")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
        );
        keys.len() == 1
    };
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let upstream = front
        .http
        .request(parts.method, format!("{}{path}", front.api))
        .headers(parts.headers)
        .body(body)
        .send()
        .await
        .unwrap();
    if lost {
        return (StatusCode::BAD_GATEWAY, "upstream connection lost").into_response();
    }
    let status = upstream.status();
    let mut headers = upstream.headers().clone();
    headers.remove("transfer-encoding");
    let body = upstream.bytes().await.unwrap();
    (status, headers, body).into_response()
}

#[tokio::test]
async fn a_lost_answer_is_retried_with_the_same_key_and_acts_once() {
    let app = TestApp::spawn().await;
    let front = Lossy {
        http: app.cluster.client.http.clone(),
        api: app.cluster.client.base.clone(),
        keys: Arc::default(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let router = Router::new().fallback(forward).with_state(front.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });

    let cli = Cli::new(&url);
    let (agent, _) = cli.register("default", "retrier").await;
    let body = cli
        .run(&[
            "--json",
            "tasks",
            "create",
            "translate this",
            "--credits",
            "5",
        ])
        .await
        .json();
    assert!(body["task_id"].is_string(), "{body}");

    let keys = front.keys.lock().unwrap().clone();
    assert_eq!(keys.len(), 2, "sent once and retried once: {keys:?}");
    assert!(keys[0].is_some(), "the CLI sends a key");
    assert_eq!(keys[0], keys[1], "the retry reuses the key");
    let tasks: i64 = sqlx::query_scalar("SELECT count(*) FROM tasks WHERE poster_id = $1")
        .bind(&agent)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(tasks, 1, "one task, escrowed once");
    app.assert_conservation().await;

    // Another logical request gets another key.
    cli.run(&["--json", "tasks", "create", "another", "--credits", "5"])
        .await
        .json();
    let keys = front.keys.lock().unwrap().clone();
    assert_eq!(keys.len(), 3);
    assert_ne!(keys[2], keys[0]);
}
