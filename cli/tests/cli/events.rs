//! `pinchwork events` prints the real SSE relay's events for the caller, one
//! line each with the relay's ids, and after a connection dropped mid-event
//! resumes with the last complete event's id, so nothing is lost or repeated.

use serde_json::Value;

use crate::support::{Cli, Stream, TestApp};

/// The poster (default profile) posts a task; the worker (profile `worker`)
/// asks about it, picks it up, sends a message and delivers. Each of those
/// last three raises one event for the poster. Returns the task id.
async fn work_on_a_task(cli: &Cli) -> String {
    let id = cli
        .create_task("default", "Review this code for bugs", "25", "code-review")
        .await;
    let id_ = id.as_str();
    for args in [
        ["ask", id_, "Which edition?"].as_slice(),
        &["pickup", "--tags", "code-review"],
        &["message", id_, "Starting now"],
        &["deliver", id_, "Found 3 issues", "--credits-claimed", "20"],
    ] {
        let mut worker = vec!["--profile", "worker", "tasks"];
        worker.extend_from_slice(args);
        cli.run(&worker).await.ok();
    }
    id
}

const POSTER_EVENTS: [&str; 3] = ["task_question", "task_message", "task_delivered"];

#[tokio::test]
async fn the_posters_stream_shows_the_events_of_the_task_one_line_each() {
    let app = TestApp::with_relay(None).await;
    let cli = app.cli();
    cli.register("default", "poster").await;
    cli.register("worker", "worker").await;
    let events = cli.start(&["events", "--max-events", "3"]);
    app.streams(1).await;

    let id = work_on_a_task(&cli).await;
    let out = Cli::finish(events).await.ok();
    let lines: Vec<(&str, Value)> = out
        .lines()
        .map(|line| {
            let (event, data) = line.split_once(' ').expect("`event data`");
            (event, serde_json::from_str(data).expect("JSON data"))
        })
        .collect();
    let names: Vec<&str> = lines.iter().map(|(event, _)| *event).collect();
    assert_eq!(names, POSTER_EVENTS, "{out}");
    for (event, data) in &lines {
        assert_eq!(data["type"], *event, "{out}");
        assert_eq!(data["task_id"], id.as_str(), "{out}");
        assert!(data["event_id"].is_string(), "{out}");
    }
    assert_eq!(
        app.streams(1).await,
        [Stream {
            status: 200,
            last_event_id: None
        }]
    );
}

#[tokio::test]
async fn a_stream_cut_mid_event_resumes_after_the_last_complete_event() {
    // The front delivers the first event whole, half of the second, then drops.
    let app = TestApp::with_relay(Some(1)).await;
    let cli = app.cli();
    cli.register("default", "poster").await;
    cli.register("worker", "worker").await;
    let events = cli.start(&["--json", "events", "--max-events", "3"]);
    app.streams(1).await;

    let id = work_on_a_task(&cli).await;
    let run = Cli::finish(events).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stderr
            .starts_with("events: the server closed the stream; reconnecting in "),
        "{}",
        run.stderr
    );
    let lines: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let names: Vec<&str> = lines.iter().filter_map(|l| l["event"].as_str()).collect();
    assert_eq!(names, POSTER_EVENTS, "{}", run.stdout);
    let ids: Vec<u64> = lines
        .iter()
        .map(|l| l["id"].as_str().and_then(|id| id.parse().ok()))
        .collect::<Option<_>>()
        .expect("every event has the relay's numeric id");
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    assert!(lines.iter().all(|l| l["data"]["task_id"] == id.as_str()));

    let first = ids[0].to_string();
    assert_eq!(
        app.streams(2).await,
        [
            Stream {
                status: 200,
                last_event_id: None
            },
            Stream {
                status: 200,
                last_event_id: Some(first)
            },
        ],
        "one reconnect, from the first event: the half-received one does not count"
    );
}

#[tokio::test]
async fn a_bad_key_on_the_stream_is_reported_not_retried() {
    let app = TestApp::with_relay(None).await;
    let cli = app.cli().env("PINCHWORK_API_KEY", "pwk-not-a-real-key");
    let err = cli.run(&["events"]).await.fails(3);
    assert_eq!(err.trim(), "error: Invalid API key (HTTP 401)");
    assert_eq!(
        app.streams(1).await,
        [Stream {
            status: 401,
            last_event_id: None
        }]
    );
}
