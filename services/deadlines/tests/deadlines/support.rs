//! `TestApp`: an api node and a deadlines instance, both in-process, over a
//! fresh database; helpers to make timers due and to observe their effects.

use std::{ops::Deref, sync::Arc, time::Duration};

use pinchwork_common::Config;
use pinchwork_testkit::{Agent, Client, assert_conservation, fresh_database};
use serde_json::Value;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

/// How long a test waits for a due transition before failing.
pub const PATIENCE: Duration = Duration::from_secs(30);

pub struct TestApp {
    pub client: Client,
    pub pool: PgPool,
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

/// A configuration over `url` with welcome tasks and rate limits off and a
/// fast deadlines poll, plus `extra` flags.
pub fn test_config(url: &str, extra: &[&str]) -> Arc<Config> {
    let mut args = vec![
        "test",
        "--database-url",
        url,
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
    /// Api node plus deadlines instance with the default test settings.
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// Api node plus deadlines instance with extra `--flag value` settings.
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
            shutdown,
        }
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
