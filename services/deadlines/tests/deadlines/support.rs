//! `TestApp`: an api node (which runs the outbox publisher), a deadlines
//! instance, the SSE relay and the webhooks service, all in-process over a
//! fresh database and a random NATS prefix, plus a real webhook receiver on
//! 127.0.0.1; helpers to make timers due and to observe their effects in the
//! outbox, over SSE and at the webhook receiver.

use std::{
    net::SocketAddr,
    ops::Deref,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{StatusCode, Uri},
};
use pinchwork_common::Config;
use pinchwork_testkit::{
    Agent, Client, assert_conservation, fresh_database, nats_prefix, sse::EventStream,
};
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

/// How long a test waits for a due transition before failing.
pub const PATIENCE: Duration = Duration::from_secs(30);

pub struct TestApp {
    pub client: Client,
    pub pool: PgPool,
    /// Base URL of the SSE relay (`GET /v1/events`).
    pub relay: String,
    /// Base URL of the deadlines instance (its ops routes).
    pub deadlines: String,
    /// The webhook receiver agents registered with `register_hooked` point at.
    pub hooks: Receiver,
    shutdown: CancellationToken,
}

impl Deref for TestApp {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A configuration over `url` and a fresh NATS prefix with welcome tasks and
/// rate limits off, a fast deadlines poll and outbox sweep, private webhook
/// targets allowed, plus `extra` flags.
pub fn test_config(url: &str, extra: &[&str]) -> Arc<Config> {
    let prefix = nats_prefix();
    let mut args = vec![
        "test",
        "--database-url",
        url,
        "--nats-prefix",
        &prefix,
        "--outbox-sweep-ms",
        "200",
        "--sse-keepalive-seconds",
        "1",
        "--webhook-allow-private",
        "true",
        "--webhook-retry-base-ms",
        "100",
        "--listen",
        "127.0.0.1:0",
        "--welcome-task-enabled",
        "false",
        "--rate-limit-enabled",
        "false",
        "--deadlines-poll-ms",
        "25",
    ];
    args.extend_from_slice(extra);
    Arc::new(Config::from_args(args).expect("test config"))
}

impl TestApp {
    /// The whole cluster with the default test settings.
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// Api node, deadlines instance, SSE relay and webhooks service with extra
    /// `--flag value` settings.
    pub async fn spawn_with(extra: &[&str]) -> Self {
        let url = fresh_database().await;
        let config = test_config(&url, extra);
        let shutdown = CancellationToken::new();
        let (api_tx, api_rx) = tokio::sync::oneshot::channel();
        tokio::spawn(pinchwork_api::run(
            config.clone(),
            shutdown.clone(),
            move |addr| {
                let _ = api_tx.send(addr);
            },
        ));
        let api = api_rx.await.expect("api node failed to start");
        let (dl_tx, dl_rx) = tokio::sync::oneshot::channel();
        tokio::spawn(pinchwork_deadlines::run(
            config.clone(),
            shutdown.clone(),
            move |addr| {
                let _ = dl_tx.send(addr);
            },
        ));
        let deadlines = dl_rx.await.expect("deadlines failed to start");
        let (relay_tx, relay_rx) = tokio::sync::oneshot::channel();
        tokio::spawn(pinchwork_sse_relay::run(
            config.clone(),
            shutdown.clone(),
            move |addr| {
                let _ = relay_tx.send(addr);
            },
        ));
        let relay = relay_rx.await.expect("sse relay failed to start");
        let (hooks_tx, hooks_rx) = tokio::sync::oneshot::channel();
        tokio::spawn(pinchwork_webhooks::run(
            config.clone(),
            shutdown.clone(),
            move |addr| {
                let _ = hooks_tx.send(addr);
            },
        ));
        hooks_rx.await.expect("webhooks failed to start");
        let client = Client::new(format!("http://{api}"));
        let health = client
            .http
            .get(format!("http://{deadlines}/ready"))
            .send()
            .await
            .expect("deadlines /ready");
        assert!(health.status().is_success());
        let pool = PgPool::connect(&url).await.expect("connect test database");
        Self {
            client,
            pool,
            relay: format!("http://{relay}"),
            deadlines: format!("http://{deadlines}"),
            hooks: Receiver::start().await,
            shutdown,
        }
    }

    /// Registers an agent whose webhook_url points at this app's receiver
    /// (path `/<name>`; names must be unique within a test).
    pub async fn register_hooked(&self, name: &str) -> Agent {
        self.register_with(json!({ "name": name, "webhook_url": self.hooks.url(name) }))
            .await
    }

    /// Opens `agent`'s SSE stream; returns once the relay answered 200.
    pub async fn sse(&self, agent: &Agent) -> Sse {
        Sse(EventStream::open(&self.relay, agent).await)
    }

    /// Runs one SQL statement with a task id bound to `$1` (moving a due time
    /// into the past, for instance).
    pub async fn sql(&self, statement: &'static str, task_id: &str) {
        sqlx::query(statement)
            .bind(task_id)
            .execute(&self.pool)
            .await
            .expect("test SQL");
    }

    /// Posts a task with extra fields and returns its id.
    pub async fn post_task_with(&self, poster: &Agent, body: Value) -> String {
        let resp = self
            .post("/v1/tasks", Some(&poster.key), body)
            .await
            .expect(201);
        resp.body["task_id"].as_str().expect("task_id").to_string()
    }

    /// The task as its poster sees it over HTTP.
    pub async fn task(&self, poster: &Agent, task_id: &str) -> Value {
        self.get(&format!("/v1/tasks/{task_id}"), Some(&poster.key))
            .await
            .expect(200)
            .body
    }

    /// Waits until the task's stored status is `status`.
    pub async fn wait_status(&self, task_id: &str, status: &str) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let now: String = sqlx::query_scalar("SELECT status FROM tasks WHERE id = $1")
                .bind(task_id)
                .fetch_one(&self.pool)
                .await
                .expect("task status");
            if now == status {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "task {task_id} stayed {now}, expected {status}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Returns once the deadlines service finished at least one whole sweep
    /// that started after this call: a fresh task made due for expiry is
    /// expired twice in a row (the second one cannot be seen by the sweep
    /// that expired the first).
    pub async fn sweep_barrier(&self, poster: &Agent) {
        for _ in 0..2 {
            let id = self
                .post_task_with(
                    poster,
                    serde_json::json!({"need": "sentinel", "max_credits": 1}),
                )
                .await;
            self.sql(
                "UPDATE tasks SET expires_at = now() - interval '1 second' WHERE id = $1",
                &id,
            )
            .await;
            self.wait_status(&id, "expired").await;
        }
    }

    /// The (recipient, event type) of every event queued for a task, in order.
    pub async fn events(&self, task_id: &str) -> Vec<(String, String)> {
        sqlx::query_as(
            "SELECT payload->>'recipient', payload->>'event' FROM outbox
             WHERE subject LIKE 'events.%' AND payload->>'task_id' = $1 ORDER BY id",
        )
        .bind(task_id)
        .fetch_all(&self.pool)
        .await
        .expect("outbox rows")
    }

    /// The (agent, amount, reason) of every ledger row of a task, in order.
    pub async fn ledger(&self, task_id: &str) -> Vec<(String, i64, String)> {
        sqlx::query_as(
            "SELECT agent_id, amount, reason FROM ledger WHERE task_id = $1 ORDER BY seq",
        )
        .bind(task_id)
        .fetch_all(&self.pool)
        .await
        .expect("ledger rows")
    }

    /// Asserts the money invariants of design §2.
    pub async fn assert_conservation(&self) {
        assert_conservation(&self.pool).await;
    }
}

/// `(recipient, event)` pairs for readable assertions.
pub fn ev(recipient: &Agent, event: &str) -> (String, String) {
    (recipient.id.clone(), event.to_string())
}

/// An open `GET /v1/events` stream of one agent.
pub struct Sse(EventStream);

impl Sse {
    /// Reads the stream until `event` about `task_id` arrives (other events,
    /// such as sentinel expiries, are skipped); panics after `PATIENCE`.
    pub async fn expect(&mut self, task_id: &str, event: &str) -> Value {
        let found = self
            .0
            .wait_until(PATIENCE, |m| {
                assert_eq!(m.data["type"], m.event.as_str(), "event line matches data");
                m.event == event && m.data["task_id"] == task_id
            })
            .await;
        found
            .unwrap_or_else(|| panic!("no {event} for {task_id} over SSE"))
            .data
    }
}

/// One webhook POST the receiver got: its path and JSON body.
pub type Hook = (String, Value);

/// A real HTTP webhook receiver on 127.0.0.1 answering 200 to every POST.
pub struct Receiver {
    addr: SocketAddr,
    got: Arc<Mutex<Vec<Hook>>>,
}

impl Receiver {
    async fn start() -> Self {
        let got: Arc<Mutex<Vec<Hook>>> = Arc::default();
        let app = Router::new().fallback(record).with_state(got.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind receiver");
        let addr = listener.local_addr().expect("receiver addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { addr, got }
    }

    pub fn url(&self, name: &str) -> String {
        format!("http://{}/{name}", self.addr)
    }

    /// Waits until the webhook of the agent registered as `name` received
    /// `event` about `task_id`; returns its body. Panics after `PATIENCE`.
    pub async fn expect(&self, name: &str, task_id: &str, event: &str) -> Value {
        let path = format!("/{name}");
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let found = self
                .got
                .lock()
                .expect("lock")
                .iter()
                .find(|(p, b)| *p == path && b["event"] == event && b["task_id"] == task_id)
                .map(|(_, b)| b.clone());
            if let Some(body) = found {
                return body;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "webhook {path} never received {event} for {task_id}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn record(State(got): State<Arc<Mutex<Vec<Hook>>>>, uri: Uri, raw: Bytes) -> StatusCode {
    let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    got.lock()
        .expect("lock")
        .push((uri.path().to_string(), body));
    StatusCode::OK
}
