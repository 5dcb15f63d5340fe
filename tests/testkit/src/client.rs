//! The tests' JSON client: the shared [`pinchwork_client::Client`] (which it
//! derefs to) with calls that panic on a transport failure or an unexpected
//! status, so that a test reads as its steps.

use std::ops::Deref;

pub use pinchwork_client::{Agent, Resp};
use reqwest::Method;
use serde_json::{Value, json};

/// Talks JSON to one base URL.
#[derive(Debug, Clone)]
pub struct Client(pinchwork_client::Client);

impl Deref for Client {
    type Target = pinchwork_client::Client;
    fn deref(&self) -> &pinchwork_client::Client {
        &self.0
    }
}

impl Client {
    pub fn new(base: impl Into<String>) -> Self {
        Self(pinchwork_client::Client::new(base))
    }

    /// A client for `base` over a configured `http` client (timeouts, pool).
    pub fn with_http(base: impl Into<String>, http: reqwest::Client) -> Self {
        pinchwork_client::install_crypto_provider();
        Self(pinchwork_client::Client::with_http(base, http))
    }

    /// Sends a request with `Accept: application/json`; `body` is sent as JSON
    /// unless Null. Panics when the request cannot be sent.
    pub async fn call(&self, method: Method, path: &str, key: Option<&str>, body: Value) -> Resp {
        self.send(method, path, key, body)
            .await
            .expect("request failed to send")
    }

    pub async fn get(&self, path: &str, key: Option<&str>) -> Resp {
        self.call(Method::GET, path, key, Value::Null).await
    }

    pub async fn post(&self, path: &str, key: Option<&str>, body: Value) -> Resp {
        self.call(Method::POST, path, key, body).await
    }

    /// Registers an agent and returns its id and key.
    pub async fn register(&self, name: &str) -> Agent {
        self.register_with(json!({ "name": name })).await
    }

    /// Registers an agent with extra fields.
    pub async fn register_with(&self, body: Value) -> Agent {
        self.0
            .register(body)
            .await
            .unwrap_or_else(|e| panic!("register: {e}"))
    }

    /// Posts a task and returns its id.
    pub async fn post_task(&self, poster: &Agent, need: &str, max_credits: i64) -> String {
        self.create_task(poster, need, max_credits)
            .await
            .unwrap_or_else(|e| panic!("create a task: {e}"))
    }

    /// Picks up a specific task.
    pub async fn pickup(&self, worker: &Agent, task_id: &str) -> Resp {
        self.post(
            &format!("/v1/tasks/{task_id}/pickup"),
            Some(&worker.key),
            Value::Null,
        )
        .await
    }

    /// Delivers a result.
    pub async fn deliver(&self, worker: &Agent, task_id: &str, body: Value) -> Resp {
        self.post(
            &format!("/v1/tasks/{task_id}/deliver"),
            Some(&worker.key),
            body,
        )
        .await
    }

    /// A task action by `agent` (`approve`, `reject`, `cancel`, `abandon`, …).
    pub async fn act(&self, agent: &Agent, task_id: &str, action: &str, body: Value) -> Resp {
        self.post(
            &format!("/v1/tasks/{task_id}/{action}"),
            Some(&agent.key),
            body,
        )
        .await
    }

    /// The agent's current balance.
    pub async fn balance(&self, agent: &Agent) -> i64 {
        self.get("/v1/me", Some(&agent.key)).await.expect(200).body["credits"]
            .as_i64()
            .expect("credits")
    }
}
