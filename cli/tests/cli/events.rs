//! `pinchwork events` prints one line per SSE event, ignores comments, and
//! after a dropped connection reconnects carrying the last complete event's id.

use std::{
    convert::Infallible,
    sync::{Arc, Mutex},
};

use axum::{
    Router,
    body::{Body, Bytes},
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
};
use futures::StreamExt;

use crate::support::Cli;

/// Headers seen per connection: (Authorization, Last-Event-ID).
type Seen = Arc<Mutex<Vec<(Option<String>, Option<String>)>>>;

const FIRST: &str = "retry: 20\n: welcome\n\n\
id: 1\nevent: task_delivered\ndata: {\"type\": \"task_delivered\", \"task_id\": \"tk-1\"}\n\n\
id: 2\nevent: task_approved\ndata: {\"type\": \"task_approved\", \"task_id\": \"tk-1\"}\n\n\
id: 3\nevent: task_message\ndata: cut off";
const SECOND: &str =
    ": keepalive\n\nid: 3\nevent: task_message\ndata: line one\ndata: line two\n\n";

async fn events(State(seen): State<Seen>, headers: HeaderMap) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let auth = header("authorization");
    if auth.as_deref() != Some("Bearer pwk-good") {
        // Like the api node: JSON only when asked for, markdown otherwise.
        let wants_json = header("accept").is_some_and(|a| a.contains("application/json"));
        let body = if wants_json {
            r#"{"error": "Invalid API key"}"#
        } else {
            "---\nerror: Invalid API key\n---\n"
        };
        return (StatusCode::UNAUTHORIZED, body).into_response();
    }
    let connection = {
        let mut seen = seen.lock().unwrap();
        seen.push((auth, header("last-event-id")));
        seen.len()
    };
    let body = if connection == 1 {
        // Ends the response: the client sees the stream drop.
        Body::from(FIRST)
    } else {
        // Stays open after the event, like a live stream.
        let chunks = futures::stream::iter([Ok::<_, Infallible>(Bytes::from(SECOND))])
            .chain(futures::stream::pending());
        Body::from_stream(chunks)
    };
    ([("content-type", "text/event-stream")], body).into_response()
}

async fn spawn_sse_server() -> (String, Seen) {
    let seen = Seen::default();
    let app = Router::new()
        .route("/v1/events", get(events))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), seen)
}

#[tokio::test]
async fn events_print_one_line_each_and_reconnect_with_last_event_id() {
    let (url, seen) = spawn_sse_server().await;
    let cli = Cli::new(&url).env("PINCHWORK_API_KEY", "pwk-good");
    let run = cli.run(&["events", "--max-events", "3"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        lines,
        [
            r#"task_delivered {"task_id":"tk-1","type":"task_delivered"}"#,
            r#"task_approved {"task_id":"tk-1","type":"task_approved"}"#,
            r"task_message line one\nline two",
        ]
    );
    assert!(
        run.stderr.contains("reconnecting in 20 ms"),
        "{}",
        run.stderr
    );
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "one reconnect: {seen:?}");
    assert_eq!(seen[0].1, None, "the first connection has no Last-Event-ID");
    assert_eq!(
        seen[1].1.as_deref(),
        Some("2"),
        "the half-received event 3 does not count"
    );
}

#[tokio::test]
async fn events_with_json_print_json_lines() {
    let (url, _) = spawn_sse_server().await;
    let cli = Cli::new(&url).env("PINCHWORK_API_KEY", "pwk-good");
    let out = cli
        .run(&["--json", "events", "--max-events", "2"])
        .await
        .ok();
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["id"], "1");
    assert_eq!(lines[0]["event"], "task_delivered");
    assert_eq!(lines[1]["data"]["type"], "task_approved");
}

#[tokio::test]
async fn an_auth_error_on_the_stream_is_reported_not_retried() {
    let (url, seen) = spawn_sse_server().await;
    let cli = Cli::new(&url).env("PINCHWORK_API_KEY", "pwk-bad");
    let err = cli.run(&["events"]).await.fails(3);
    assert_eq!(err.trim(), "error: Invalid API key (HTTP 401)");
    assert!(seen.lock().unwrap().is_empty());
}
