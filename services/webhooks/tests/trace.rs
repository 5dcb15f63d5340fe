//! One request chain is one trace across processes: a deliver request's trace
//! id reaches the api's spans, the webhook delivery (its spans and the
//! `traceparent` of its POST) and the SSE relay's spans, and the create
//! request waiting for that delivery links to it; exported over OTLP by the
//! real binaries to a receiver of our own.

use std::{
    collections::BTreeSet,
    path::PathBuf,
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{Json, Router, body::Bytes, extract::State, routing::post};
use pinchwork_testkit::{
    Agent, Client, eventually, free_port, fresh_database,
    hooks::{Received, Receiver},
    metrics::wait_healthy,
    nats_prefix,
    sse::EventStream,
};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

/// How long any one step may take before the test gives up.
const STEP: Duration = Duration::from_secs(60);

/// One exported span: the `service.name` of its resource, its trace id and
/// the trace ids it links to.
#[derive(Debug, Clone)]
struct ExportedSpan {
    service: String,
    trace_id: String,
    name: String,
    links: Vec<String>,
}

/// An OTLP/HTTP (JSON) trace receiver on 127.0.0.1.
struct Collector {
    url: String,
    spans: Arc<Mutex<Vec<ExportedSpan>>>,
}

impl Collector {
    async fn start() -> Self {
        let spans: Arc<Mutex<Vec<ExportedSpan>>> = Arc::default();
        let app = Router::new()
            .route("/v1/traces", post(export))
            .with_state(spans.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url: format!("http://{addr}"),
            spans,
        }
    }

    /// The services that exported a span of `trace_id`.
    fn services_in(&self, trace_id: &str) -> BTreeSet<String> {
        self.spans
            .lock()
            .expect("lock")
            .iter()
            .filter(|s| s.trace_id == trace_id)
            .map(|s| s.service.clone())
            .collect()
    }

    /// The names of the spans linked to `trace_id` from other traces.
    fn linked_to(&self, trace_id: &str) -> Vec<String> {
        self.spans
            .lock()
            .expect("lock")
            .iter()
            .filter(|s| s.trace_id != trace_id && s.links.iter().any(|l| l == trace_id))
            .map(|s| format!("{}: {}", s.service, s.name))
            .collect()
    }

    fn describe(&self, trace_id: &str) -> Vec<String> {
        self.spans
            .lock()
            .expect("lock")
            .iter()
            .filter(|s| s.trace_id == trace_id)
            .map(|s| format!("{}: {}", s.service, s.name))
            .collect()
    }
}

/// `POST /v1/traces`: an `ExportTraceServiceRequest` in its JSON encoding.
async fn export(State(spans): State<Arc<Mutex<Vec<ExportedSpan>>>>, body: Bytes) -> Json<Value> {
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut got = Vec::new();
    for resource in request["resourceSpans"].as_array().into_iter().flatten() {
        let service = resource["resource"]["attributes"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| a["key"] == "service.name")
            .and_then(|a| a["value"]["stringValue"].as_str())
            .unwrap_or_default()
            .to_string();
        for scope in resource["scopeSpans"].as_array().into_iter().flatten() {
            for span in scope["spans"].as_array().into_iter().flatten() {
                let hex = |v: &Value| v.as_str().unwrap_or_default().to_lowercase();
                got.push(ExportedSpan {
                    service: service.clone(),
                    trace_id: hex(&span["traceId"]),
                    name: span["name"].as_str().unwrap_or_default().to_string(),
                    links: span["links"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|l| hex(&l["traceId"]))
                        .collect(),
                });
            }
        }
    }
    spans.lock().expect("lock").extend(got);
    Json(json!({}))
}

/// A workspace binary next to this package's own (`ops/test` builds them all first).
fn binary(name: &str) -> PathBuf {
    let own = PathBuf::from(env!("CARGO_BIN_EXE_pinchwork-webhooks"));
    let path = own.with_file_name(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace --bins` first",
        path.display()
    );
    path
}

/// Starts a real service binary exporting spans to `collector`; returns it
/// and its base URL once `/health` answers.
async fn spawn(name: &str, db: &str, prefix: &str, collector: &Collector) -> (Child, String) {
    let port = free_port();
    let child = Command::new(binary(name))
        .env("DATABASE_URL", db)
        .env("PINCHWORK_NATS_PREFIX", prefix)
        .env("PINCHWORK_LISTEN", format!("127.0.0.1:{port}"))
        .env("PINCHWORK_RATE_LIMIT_ENABLED", "false")
        .env("PINCHWORK_WELCOME_TASK_ENABLED", "false")
        .env("PINCHWORK_WEBHOOK_ALLOW_PRIVATE", "true")
        .env("PINCHWORK_OUTBOX_SWEEP_MS", "200")
        .env("PINCHWORK_DB_MAX_CONNECTIONS", "5")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.url)
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("start {name}: {e}"));
    let base = format!("http://127.0.0.1:{port}");
    wait_healthy(&base, STEP).await;
    (child, base)
}

#[tokio::test]
async fn a_deliver_request_and_its_webhook_and_sse_relay_share_one_trace() {
    pinchwork_common::tls::install_crypto_provider();
    let db = fresh_database().await;
    let prefix = nats_prefix();
    let collector = Collector::start().await;
    let hooks = Receiver::start().await;
    let (_api, api_url) = spawn("pinchwork-api", &db, &prefix, &collector).await;
    let (_relay, relay_url) = spawn("pinchwork-sse-relay", &db, &prefix, &collector).await;
    let (_webhooks, _) = spawn("pinchwork-webhooks", &db, &prefix, &collector).await;
    let api = Client::new(api_url);

    let poster = api
        .register_with(json!({ "name": "poster", "webhook_url": hooks.url("poster") }))
        .await;
    let worker = api.register("worker").await;
    let mut events = EventStream::open(&relay_url, &poster).await;
    // The poster's create request waits for the delivery (its own trace).
    let waiting = tokio::spawn({
        let (api, key) = (api.clone(), poster.key.clone());
        async move {
            let task = json!({ "need": "summarise a trace", "max_credits": 10, "wait": 120 });
            api.post("/v1/tasks", Some(&key), task).await
        }
    });
    let task = picked_up(&api, &worker).await;

    // The relay only forwards events published after its feed started: wait
    // until one of the worker's messages comes through live.
    let mut live = false;
    for n in 0..30 {
        api.post(
            &format!("/v1/tasks/{task}/messages"),
            Some(&worker.key),
            json!({ "message": format!("warming up {n}") }),
        )
        .await
        .expect(201);
        let message = events
            .wait_for("task_message", Duration::from_secs(2))
            .await;
        if message.is_some() {
            live = true;
            break;
        }
    }
    assert!(live, "the relay never forwarded a live event");

    // The deliver request starts the trace (the caller's own traceparent).
    let trace_id = format!("{:032x}", rand::random::<u128>() | 1);
    let caller_span = format!("{:016x}", rand::random::<u64>() | 1);
    let delivered = api
        .http
        .post(format!("{}/v1/tasks/{task}/deliver", api.base))
        .bearer_auth(&worker.key)
        .header("accept", "application/json")
        .header("traceparent", format!("00-{trace_id}-{caller_span}-01"))
        .json(&json!({ "result": "one trace, three services" }))
        .send()
        .await
        .expect("deliver");
    assert_eq!(delivered.status(), 200);

    let created = waiting.await.expect("the waiting create request");
    assert_eq!(created.status, 200, "the wait ends with the delivery");
    assert_eq!(created.body["status"], "delivered");

    let relayed = events.wait_for("task_delivered", STEP).await;
    assert!(
        relayed.is_some_and(|m| m.data["task_id"] == task.as_str()),
        "the poster's SSE stream got no task_delivered"
    );
    let is_delivery = |r: &Received| r.body["event"] == "task_delivered";
    eventually("the task_delivered webhook", STEP, || async {
        hooks.received().iter().any(is_delivery)
    })
    .await;
    let posted = hooks
        .received()
        .into_iter()
        .find(is_delivery)
        .expect("webhook POST");
    let traceparent = posted
        .traceparent
        .expect("the webhook POST has a traceparent");
    assert_eq!(
        traceparent.split('-').nth(1),
        Some(trace_id.as_str()),
        "the webhook POST continues the deliver request's trace"
    );

    let expected: BTreeSet<String> = ["pinchwork-api", "pinchwork-sse-relay", "pinchwork-webhooks"]
        .map(String::from)
        .into();
    let deadline = tokio::time::Instant::now() + STEP;
    while !collector.services_in(&trace_id).is_superset(&expected) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "spans of trace {trace_id} came from {:?}: {:#?}",
            collector.services_in(&trace_id),
            collector.describe(&trace_id)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let create = "pinchwork-api: POST /v1/tasks".to_string();
    eventually(
        "the waiting create request's span linked to the delivery",
        STEP,
        || async { collector.linked_to(&trace_id).contains(&create) },
    )
    .await;
}

/// The task the worker claims with `POST /v1/tasks/pickup` (once the
/// poster's waiting request has created it).
async fn picked_up(api: &Client, worker: &Agent) -> String {
    let deadline = tokio::time::Instant::now() + STEP;
    loop {
        let picked = api
            .post("/v1/tasks/pickup", Some(&worker.key), Value::Null)
            .await;
        if picked.status == 200 {
            return picked.body["task_id"]
                .as_str()
                .expect("task_id")
                .to_string();
        }
        assert_eq!(picked.status, 204, "pickup: {}", picked.body);
        assert!(
            tokio::time::Instant::now() < deadline,
            "the task never appeared"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
