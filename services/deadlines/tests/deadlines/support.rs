//! `TestApp`: a test cluster of an api node (which runs the outbox
//! publisher), a deadlines instance, the SSE relay and the webhooks service,
//! plus a webhook receiver on 127.0.0.1; helpers to make timers due and to
//! observe their effects in the outbox, over SSE and at the receiver.

use std::{ops::Deref, time::Duration};

use pinchwork_testkit::{Agent, TestCluster, hooks::Receiver, sse::EventStream};
use serde_json::{Value, json};

/// How long a test waits for a due transition before failing.
pub const PATIENCE: Duration = Duration::from_secs(30);

pub struct TestApp {
    pub cluster: TestCluster,
    /// Base URL of the SSE relay (`GET /v1/events`).
    pub relay: String,
    /// Base URL of the deadlines instance (its ops routes).
    pub deadlines: String,
    /// The webhook receiver agents registered with `register_hooked` point at.
    pub hooks: Receiver,
}

impl Deref for TestApp {
    type Target = TestCluster;
    fn deref(&self) -> &TestCluster {
        &self.cluster
    }
}

impl TestApp {
    /// The whole cluster with the default test settings.
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// Api node, deadlines instance, SSE relay and webhooks service with extra
    /// `--flag value` settings.
    pub async fn spawn_with(extra: &[&str]) -> Self {
        let cluster = TestCluster::builder()
            .deadlines()
            .sse_relay()
            .webhooks()
            .config(extra)
            .start()
            .await;
        let deadlines = cluster.deadlines.clone().expect("deadlines runs");
        let ready = cluster
            .http
            .get(format!("{deadlines}/ready"))
            .send()
            .await
            .expect("deadlines /ready");
        assert!(ready.status().is_success());
        Self {
            relay: cluster.sse_relay.clone().expect("the relay runs"),
            deadlines,
            hooks: Receiver::start().await,
            cluster,
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

    /// Waits until the webhook of the agent registered as `name` received
    /// `event` about `task_id`; returns its body. Panics after `PATIENCE`.
    pub async fn webhook(&self, name: &str, task_id: &str, event: &str) -> Value {
        let path = format!("/{name}");
        let what = format!("{event} for {task_id} at {path}");
        self.hooks
            .wait_for(&what, PATIENCE, |r| {
                r.path == path && r.body["event"] == event && r.body["task_id"] == task_id
            })
            .await
            .body
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
