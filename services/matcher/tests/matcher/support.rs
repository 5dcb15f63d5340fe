//! `TestEnv`: an api node on port 0 over a fresh database, plus the market
//! handle the matcher uses, so tests can run matcher steps directly.

use std::{ops::Deref, sync::Arc, time::Duration};

use pinchwork_common::{Config, market::Market};
use pinchwork_testkit::{Agent, Client, assert_conservation, fresh_database};
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

pub const ADMIN_KEY: &str = "test-admin-key";

pub struct TestEnv {
    pub client: Client,
    pub pool: PgPool,
    pub config: Arc<Config>,
    pub market: Market,
    pub db_url: String,
    shutdown: CancellationToken,
}

impl Deref for TestEnv {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A NATS subject prefix no other test uses.
pub fn random_prefix() -> String {
    format!("pwt{:016x}", rand::random::<u64>())
}

impl TestEnv {
    /// An api node with extra `--flag value` settings (welcome tasks and rate limits off).
    pub async fn spawn(extra: &[&str]) -> Self {
        let url = fresh_database().await;
        let prefix = random_prefix();
        let mut args = vec![
            "test",
            "--database-url",
            &url,
            "--listen",
            "127.0.0.1:0",
            "--admin-key",
            ADMIN_KEY,
            "--welcome-task-enabled",
            "false",
            "--rate-limit-enabled",
            "false",
            "--db-max-connections",
            "10",
            "--nats-prefix",
            &prefix,
        ];
        args.extend_from_slice(extra);
        let config = Arc::new(Config::from_args(args).expect("test config"));
        let shutdown = CancellationToken::new();
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(pinchwork_api::run(
            config.clone(),
            shutdown.clone(),
            move |addr| {
                let _ = tx.send(addr);
            },
        ));
        let addr = rx.await.expect("api node failed to start");
        let pool = PgPool::connect(&url).await.expect("connect test database");
        Self {
            client: Client::new(format!("http://{addr}")),
            market: Market::new(pool.clone(), config.clone()),
            pool,
            config,
            db_url: url,
            shutdown,
        }
    }

    /// Starts an in-process matcher (same database and prefix) until the env
    /// drops; returns the base URL of its ops routes.
    pub async fn spawn_matcher(&self) -> String {
        let mut config = (*self.config).clone();
        config.listen = Some("127.0.0.1:0".into());
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(pinchwork_matcher::run(
            Arc::new(config),
            self.shutdown.clone(),
            move |addr| {
                let _ = tx.send(addr);
            },
        ));
        let addr = rx.await.expect("matcher failed to start");
        format!("http://{addr}")
    }

    /// Registers an agent with a good_at description.
    pub async fn worker(&self, name: &str, good_at: &str) -> Agent {
        self.register_with(json!({ "name": name, "good_at": good_at }))
            .await
    }

    /// Registers an infra agent.
    pub async fn infra(&self, name: &str) -> Agent {
        self.register_with(json!({ "name": name, "accepts_system_tasks": true }))
            .await
    }

    /// Posts a task with tags and returns its id.
    pub async fn post_tagged(&self, poster: &Agent, need: &str, tags: &[&str]) -> String {
        let resp = self
            .post(
                "/v1/tasks",
                Some(&poster.key),
                json!({ "need": need, "max_credits": 10, "tags": tags }),
            )
            .await
            .expect(201);
        resp.body["task_id"].as_str().expect("task_id").to_string()
    }

    /// `POST /v1/tasks/pickup` for an agent: the claimed task, or Null on 204.
    pub async fn pickup_next(&self, agent: &Agent) -> Value {
        let resp = self
            .post("/v1/tasks/pickup", Some(&agent.key), Value::Null)
            .await;
        match resp.status.as_u16() {
            204 => Value::Null,
            200 => resp.body,
            other => panic!("pickup answered {other}: {}", resp.body),
        }
    }

    /// The ids in an agent's browse result, in order, with `is_matched`/`match_rank`.
    pub async fn browse(&self, agent: &Agent) -> Vec<Value> {
        let resp = self
            .get("/v1/tasks/available", Some(&agent.key))
            .await
            .expect(200);
        resp.body["tasks"].as_array().cloned().unwrap_or_default()
    }

    /// A task's routing state straight from the database.
    pub async fn match_status(&self, task_id: &str) -> Option<String> {
        sqlx::query_scalar("SELECT match_status FROM tasks WHERE id = $1")
            .bind(task_id)
            .fetch_one(&self.pool)
            .await
            .expect("match_status")
    }

    /// The sum of an agent's ledger rows with this reason.
    pub async fn ledger_sum(&self, agent: &Agent, reason: &str) -> i64 {
        sqlx::query_scalar(
            "SELECT COALESCE(sum(amount), 0)::bigint FROM ledger WHERE agent_id = $1 AND reason = $2",
        )
        .bind(&agent.id)
        .bind(reason)
        .fetch_one(&self.pool)
        .await
        .expect("ledger sum")
    }

    /// Asserts the money invariants of design §2.
    pub async fn assert_conservation(&self) {
        assert_conservation(&self.pool).await;
    }
}

/// Polls `check` every 100 ms until it returns true; panics after `secs`.
pub async fn eventually<F, Fut>(secs: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..secs * 10 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}
