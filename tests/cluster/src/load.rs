//! A steady load: client tasks looping full task lifecycles through the load
//! balancer (create → two workers race to pick up → the winner delivers → the
//! poster approves), retrying what a fault makes fail, and recording what
//! they saw. POSTs are not idempotent, so an answer lost to a fault is
//! resolved the way a careful client would: a 409 on a retried step is
//! checked against the task's state.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use pinchwork_testkit::{Agent, Client, Resp};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::task::JoinHandle;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::{
    Cluster, Receiver,
    sse::{self, Collected},
};

/// Longest wait for one answer: a hung request is a failure, not a stall.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client keeps retrying one request through a fault.
const RETRY_FOR: Duration = Duration::from_secs(60);
/// Longest wait in [`Load::progress`] for the lifecycles it asks for.
const PROGRESS_LIMIT: Duration = Duration::from_secs(120);

/// An agent of the load, whether it has a webhook on the receiver, and the
/// event ids its live SSE listener collected so far.
#[derive(Debug, Clone)]
pub struct LoadAgent {
    pub agent: Agent,
    pub hooked: bool,
    pub live: Collected,
}

/// What the clients saw.
#[derive(Debug, Default, Clone)]
pub struct LoadReport {
    /// Lifecycles completed (approved).
    pub lifecycles: u64,
    /// HTTP attempts, retries included.
    pub attempts: u64,
    /// Requests that needed more than one attempt.
    pub retried: u64,
    /// Status of every attempt (0: no answer: refused, reset or timed out).
    pub statuses: BTreeMap<u16, u64>,
    /// Hard failures: a final non-success or an unexpected answer.
    pub failures: Vec<String>,
    /// 503 answers without an `{"error": ...}` body.
    pub bare_unavailable: Vec<String>,
    /// Task id → the workers whose pickup of it answered 200.
    pub claims: HashMap<String, Vec<String>>,
    /// Every registered agent.
    pub agents: Vec<LoadAgent>,
    /// Stops the SSE listeners once the last copy of the report is dropped.
    listeners: Option<Arc<DropGuard>>,
}

impl LoadReport {
    /// Panics on any hard failure, any 500, or a 503 without an error body.
    pub fn assert_clean(&self) {
        println!(
            "load: {} lifecycles, {} attempts, {} requests retried, statuses {:?}",
            self.lifecycles, self.attempts, self.retried, self.statuses
        );
        assert!(
            self.failures.is_empty(),
            "{} hard failures, first ones: {:#?}",
            self.failures.len(),
            &self.failures[..self.failures.len().min(5)]
        );
        assert_eq!(self.statuses.get(&500), None, "the cluster answered 500");
        assert!(
            self.bare_unavailable.is_empty(),
            "503 without an error body: {:?}",
            self.bare_unavailable
        );
    }
}

type Shared = Arc<Mutex<LoadReport>>;

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, LoadReport> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

/// The running load.
pub struct Load {
    stop: CancellationToken,
    shared: Shared,
    clients: Vec<JoinHandle<()>>,
}

impl Load {
    /// Starts `clients` client tasks against `cluster`'s load balancer; every
    /// other client's agents have a webhook on `hooks`.
    pub fn start(cluster: &Cluster, hooks: &Receiver, clients: usize) -> Self {
        pinchwork_client::install_crypto_provider();
        let base = cluster.url();
        let stop = CancellationToken::new();
        let listeners = CancellationToken::new();
        let shared = Shared::default();
        lock(&shared).listeners = Some(Arc::new(listeners.clone().drop_guard()));
        let http = reqwest::Client::builder()
            .timeout(CLIENT_TIMEOUT)
            .build()
            .expect("http client");
        let streams = reqwest::Client::builder()
            .connect_timeout(CLIENT_TIMEOUT)
            .build()
            .expect("http client");
        let clients = (0..clients)
            .map(|n| {
                let runner = Runner {
                    api: Client::with_http(base.clone(), http.clone()),
                    pool: cluster.pool().clone(),
                    shared: shared.clone(),
                    streams: streams.clone(),
                    listeners: listeners.clone(),
                };
                let hook = (n % 2 == 0).then(|| hooks.url(&format!("client-{n}")));
                tokio::spawn(runner.run(n, hook, stop.clone()))
            })
            .collect();
        Self {
            stop,
            shared,
            clients,
        }
    }

    /// Lifecycles completed so far.
    pub fn lifecycles(&self) -> u64 {
        lock(&self.shared).lifecycles
    }

    /// Waits until `n` more lifecycles completed; panics if the load stalls.
    pub async fn progress(&self, n: u64) {
        let target = self.lifecycles() + n;
        let start = Instant::now();
        loop {
            let report = lock(&self.shared).clone();
            if report.lifecycles >= target {
                return;
            }
            assert!(
                start.elapsed() < PROGRESS_LIMIT,
                "the load stalled at {} of {target} lifecycles; failures: {:?}",
                report.lifecycles,
                report.failures
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Lets every client finish its lifecycle, then reports.
    pub async fn stop(self) -> LoadReport {
        self.stop.cancel();
        for client in self.clients {
            client.await.expect("a load client panicked");
        }
        lock(&self.shared).clone()
    }
}

/// Whether a pickup answered 200 (this worker claimed the task), and whether
/// it took retries (so a 409 may hide our own lost success).
struct Pickup {
    won: bool,
    retried: bool,
}

struct Runner {
    api: Client,
    pool: PgPool,
    shared: Shared,
    /// Client of the SSE listeners (no overall timeout).
    streams: reqwest::Client,
    listeners: CancellationToken,
}

impl Runner {
    async fn run(self, n: usize, hook: Option<String>, stop: CancellationToken) {
        let mut agents = Vec::new();
        for role in 0..3 {
            match self
                .register(&format!("load-{n}-{role}"), hook.as_deref())
                .await
            {
                Ok(agent) => agents.push(agent),
                Err(why) => return self.fail(why),
            }
        }
        for agent in &agents {
            let live = Collected::default();
            tokio::spawn(sse::listen(
                self.streams.clone(),
                self.api.base.clone(),
                agent.key.clone(),
                live.clone(),
                self.listeners.clone(),
            ));
            lock(&self.shared).agents.push(LoadAgent {
                agent: agent.clone(),
                hooked: hook.is_some(),
                live,
            });
        }
        let mut spare: Option<String> = None;
        let mut round = 0;
        while !stop.is_cancelled() {
            // Roles rotate so credits flow around instead of draining.
            let poster = &agents[round % 3];
            let racers = [&agents[(round + 1) % 3], &agents[(round + 2) % 3]];
            match self.lifecycle(poster, racers).await {
                Ok(()) => lock(&self.shared).lifecycles += 1,
                Err(why) => self.fail(why),
            }
            // Every third round the previous spare task is made due, for the
            // deadlines service to expire, and a new one is left posted.
            if round % 3 == 0 {
                if let Some(old) = spare.take() {
                    self.expire_now(&old).await;
                }
                match self.create(poster, "a spare task nobody picks up", 2).await {
                    Ok(id) => spare = Some(id),
                    Err(why) => self.fail(why),
                }
            }
            round += 1;
        }
    }

    fn fail(&self, why: String) {
        lock(&self.shared).failures.push(why);
    }

    async fn lifecycle(&self, poster: &Agent, racers: [&Agent; 2]) -> Result<(), String> {
        let task = self.create(poster, "summarise this paragraph", 4).await?;
        let (a, b) = tokio::join!(self.pickup(racers[0], &task), self.pickup(racers[1], &task));
        let (a, b) = (a?, b?);
        let worker = match (a.won, b.won) {
            (true, _) => racers[0],
            (false, true) => racers[1],
            // Both saw 409: one of them claimed it with an attempt whose answer was lost.
            (false, false) if a.retried || b.retried => {
                let state = self.task(poster, &task).await?;
                let id = state["worker_id"].as_str().unwrap_or_default();
                *racers
                    .iter()
                    .find(|r| r.id == id)
                    .ok_or_else(|| format!("{task}: claimed by {id:?}, not by a racer"))?
            }
            (false, false) => return Err(format!("{task}: neither racer could claim it")),
        };
        let result = json!({ "result": "done", "credits_claimed": 3 });
        self.step(worker, &task, "deliver", result, &["delivered", "approved"])
            .await?;
        self.step(poster, &task, "approve", json!({}), &["approved"])
            .await
    }

    async fn register(&self, name: &str, hook: Option<&str>) -> Result<Agent, String> {
        let mut body = json!({ "name": name });
        if let Some(url) = hook {
            body["webhook_url"] = json!(url);
        }
        let (resp, _) = self.call(Method::POST, "/v1/register", None, body).await?;
        match (
            resp.status.as_u16(),
            resp.body["agent_id"].as_str(),
            resp.body["api_key"].as_str(),
        ) {
            (201, Some(id), Some(key)) => Ok(Agent {
                id: id.into(),
                key: key.into(),
            }),
            _ => Err(format!("register: {} {}", resp.status, resp.body)),
        }
    }

    async fn create(&self, poster: &Agent, need: &str, max_credits: i64) -> Result<String, String> {
        let body = json!({ "need": need, "max_credits": max_credits, "tags": ["faults"] });
        let (resp, _) = self
            .call(Method::POST, "/v1/tasks", Some(&poster.key), body)
            .await?;
        match (resp.status.as_u16(), resp.body["task_id"].as_str()) {
            (201, Some(id)) => Ok(id.into()),
            _ => Err(format!("create: {} {}", resp.status, resp.body)),
        }
    }

    async fn pickup(&self, worker: &Agent, task: &str) -> Result<Pickup, String> {
        let path = format!("/v1/tasks/{task}/pickup");
        let (resp, retried) = self
            .call(Method::POST, &path, Some(&worker.key), Value::Null)
            .await?;
        match resp.status.as_u16() {
            200 => {
                lock(&self.shared)
                    .claims
                    .entry(task.into())
                    .or_default()
                    .push(worker.id.clone());
                Ok(Pickup { won: true, retried })
            }
            409 => Ok(Pickup {
                won: false,
                retried,
            }),
            _ => Err(format!("pickup {task}: {} {}", resp.status, resp.body)),
        }
    }

    /// A task action that must answer 200; a 409 after retries is accepted
    /// when the task already reached one of `done` (our lost answer).
    async fn step(
        &self,
        agent: &Agent,
        task: &str,
        action: &str,
        body: Value,
        done: &[&str],
    ) -> Result<(), String> {
        let path = format!("/v1/tasks/{task}/{action}");
        let (resp, retried) = self
            .call(Method::POST, &path, Some(&agent.key), body)
            .await?;
        match resp.status.as_u16() {
            200 => Ok(()),
            409 if retried => {
                let state = self.task(agent, task).await?;
                let status = state["status"].as_str().unwrap_or_default();
                match done.contains(&status) {
                    true => Ok(()),
                    false => Err(format!("{action} {task}: 409 and the task is {status}")),
                }
            }
            _ => Err(format!("{action} {task}: {} {}", resp.status, resp.body)),
        }
    }

    async fn task(&self, agent: &Agent, task: &str) -> Result<Value, String> {
        let path = format!("/v1/tasks/{task}");
        let (resp, _) = self
            .call(Method::GET, &path, Some(&agent.key), Value::Null)
            .await?;
        match resp.status.as_u16() {
            200 => Ok(resp.body),
            _ => Err(format!("get {task}: {} {}", resp.status, resp.body)),
        }
    }

    /// Makes a posted task due for expiry (the deadlines service's job).
    /// Best effort: while the database is down the task simply stays posted.
    async fn expire_now(&self, task: &str) {
        let _ = sqlx::query(
            "UPDATE tasks SET expires_at = now() - interval '1 second'
             WHERE id = $1 AND status = 'posted'",
        )
        .bind(task)
        .execute(&self.pool)
        .await;
    }

    /// Sends a request, retrying refused or cut connections, timeouts and
    /// 502/503/504 with a short backoff for up to [`RETRY_FOR`]. Returns the
    /// answer and whether it took more than one attempt.
    async fn call(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Value,
    ) -> Result<(Resp, bool), String> {
        let start = Instant::now();
        let mut backoff = Duration::from_millis(50);
        let mut attempts = 0;
        loop {
            attempts += 1;
            let answer = self.api.send(method.clone(), path, key, body.clone()).await;
            let status = answer.as_ref().map_or(0, |r| r.status.as_u16());
            {
                let mut report = lock(&self.shared);
                report.attempts += 1;
                *report.statuses.entry(status).or_default() += 1;
                if let Ok(resp) = &answer
                    && status == 503
                    && resp.body["error"].as_str().is_none_or(str::is_empty)
                {
                    report
                        .bare_unavailable
                        .push(format!("{method} {path}: {}", resp.body));
                }
            }
            let why = match answer {
                Ok(resp) if !matches!(status, 502..=504) => {
                    if attempts > 1 {
                        lock(&self.shared).retried += 1;
                    }
                    return Ok((resp, attempts > 1));
                }
                Ok(resp) => format!("{} {}", resp.status, resp.body),
                Err(err) => err.to_string(),
            };
            if start.elapsed() > RETRY_FOR {
                return Err(format!(
                    "{method} {path}: gave up after {attempts} attempts: {why}"
                ));
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_millis(500));
        }
    }
}
