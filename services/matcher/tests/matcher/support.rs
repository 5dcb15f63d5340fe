//! `TestEnv`: a test cluster (one api node on port 0 over a fresh database)
//! plus the market handle the matcher uses, so tests can run matcher steps
//! directly.

use std::ops::Deref;

use pinchwork_common::market::Market;
use pinchwork_testkit::{ADMIN_KEY, Agent, Service, TestCluster};
use serde_json::{Value, json};

pub struct TestEnv {
    pub cluster: TestCluster,
    pub market: Market,
}

impl Deref for TestEnv {
    type Target = TestCluster;
    fn deref(&self) -> &TestCluster {
        &self.cluster
    }
}

impl TestEnv {
    /// An api node with extra `--flag value` settings (welcome tasks and rate limits off).
    pub async fn spawn(extra: &[&str]) -> Self {
        let cluster = TestCluster::spawn_with(extra).await;
        Self {
            market: Market::new(cluster.pool.clone(), cluster.config.clone()),
            cluster,
        }
    }

    /// Starts an in-process matcher (same database and prefix) until the env
    /// drops; returns the base URL of its ops routes.
    pub async fn spawn_matcher(&self) -> String {
        self.start_service(Service::Matcher).await
    }

    /// The agents matched to a task, by rank.
    pub async fn matched_agents(&self, task_id: &str) -> Vec<String> {
        sqlx::query_scalar("SELECT agent_id FROM task_matches WHERE task_id = $1 ORDER BY rank")
            .bind(task_id)
            .fetch_all(&self.pool)
            .await
            .unwrap()
    }

    /// Registers an agent with a good_at description.
    pub async fn worker(&self, name: &str, good_at: &str) -> Agent {
        self.register_with(json!({ "name": name, "good_at": good_at }))
            .await
    }

    /// Registers an infra agent an operator approved.
    pub async fn infra(&self, name: &str) -> Agent {
        let agent = self
            .register_with(json!({ "name": name, "accepts_system_tasks": true }))
            .await;
        self.approve_infra(&agent, true).await;
        agent
    }

    /// Withdraws an operator's approval of an infra agent.
    pub async fn retire_infra(&self, agent: &Agent) {
        self.approve_infra(agent, false).await;
    }

    async fn approve_infra(&self, agent: &Agent, approved: bool) {
        self.post(
            "/v1/admin/agents/infra",
            Some(ADMIN_KEY),
            json!({ "agent_id": agent.id, "approved": approved }),
        )
        .await
        .expect(200);
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
}
