//! A JSON client for the public HTTP API.

use reqwest::{Method, StatusCode, header::HeaderMap};
use serde_json::{Value, json};

/// A registered agent.
#[derive(Debug, Clone)]
pub struct Agent {
    pub id: String,
    pub key: String,
}

/// A response: status, JSON body (Null when empty or not JSON) and headers.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: StatusCode,
    pub body: Value,
    pub headers: HeaderMap,
}

impl Resp {
    /// A response header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `error` message of an error body.
    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or_default()
    }

    /// Panics unless the status is `expected`, showing the body.
    #[track_caller]
    pub fn expect(self, expected: u16) -> Self {
        assert_eq!(
            self.status.as_u16(),
            expected,
            "unexpected status, body: {}",
            self.body
        );
        self
    }
}

/// Talks JSON to one base URL.
#[derive(Debug, Clone)]
pub struct Client {
    pub base: String,
    pub http: reqwest::Client,
}

impl Client {
    pub fn new(base: impl Into<String>) -> Self {
        pinchwork_common::tls::install_crypto_provider();
        Self {
            base: base.into(),
            http: reqwest::Client::new(),
        }
    }

    /// Sends a request with `Accept: application/json`; `body` is sent as JSON unless Null.
    pub async fn call(&self, method: Method, path: &str, key: Option<&str>, body: Value) -> Resp {
        self.try_call(method, path, key, body)
            .await
            .expect("request failed to send")
    }

    /// Like [`Client::call`], but a transport failure (refused, reset, timed
    /// out) is returned instead of panicking: for clients that retry.
    pub async fn try_call(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Value,
    ) -> Result<Resp, reqwest::Error> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("accept", "application/json");
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        if !body.is_null() {
            req = req.json(&body);
        }
        let resp = req.send().await?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await?;
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Resp {
            status,
            body,
            headers,
        })
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
        let resp = self.post("/v1/register", None, body).await.expect(201);
        Agent {
            id: resp.body["agent_id"]
                .as_str()
                .expect("agent_id")
                .to_string(),
            key: resp.body["api_key"].as_str().expect("api_key").to_string(),
        }
    }

    /// Posts a task and returns its id.
    pub async fn post_task(&self, poster: &Agent, need: &str, max_credits: i64) -> String {
        let resp = self
            .post(
                "/v1/tasks",
                Some(&poster.key),
                json!({ "need": need, "max_credits": max_credits }),
            )
            .await
            .expect(201);
        resp.body["task_id"].as_str().expect("task_id").to_string()
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
