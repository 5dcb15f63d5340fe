//! A JSON client for one base URL: requests with an optional Bearer key and
//! JSON body, responses as status, headers and JSON body.

use reqwest::{Method, StatusCode, header::HeaderMap};
use serde_json::{Value, json};

/// A registered agent.
#[derive(Debug, Clone)]
pub struct Agent {
    pub id: String,
    pub key: String,
}

/// A request that failed: it could not be sent, or it was answered with
/// another status than the caller expected.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("request failed: {0}")]
    Transport(#[from] reqwest::Error),
    #[error("unexpected status {status}: {body}")]
    Status { status: StatusCode, body: Value },
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

    /// The response when its status is `expected`, else [`Error::Status`].
    pub fn check(self, expected: StatusCode) -> Result<Self, Error> {
        if self.status == expected {
            Ok(self)
        } else {
            Err(Error::Status {
                status: self.status,
                body: self.body,
            })
        }
    }

    /// Panics unless the status is `expected`, showing the body (for tests).
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
    /// A client for `base` with a default connection pool.
    pub fn new(base: impl Into<String>) -> Self {
        crate::install_crypto_provider();
        Self::with_http(base, reqwest::Client::new())
    }

    /// A client for `base` over a configured `http` client.
    pub fn with_http(base: impl Into<String>, http: reqwest::Client) -> Self {
        Self {
            base: base.into().trim_end_matches('/').to_string(),
            http,
        }
    }

    /// Sends a request with `Accept: application/json`; `body` is sent as
    /// JSON unless Null. Any status is a response; only a transport failure
    /// (refused, reset, timed out) is an error.
    pub async fn send(
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

    /// `POST /v1/register` with `body` (a name and any other fields).
    pub async fn register(&self, body: Value) -> Result<Agent, Error> {
        let resp = self
            .send(Method::POST, "/v1/register", None, body)
            .await?
            .check(StatusCode::CREATED)?;
        let text = |field: &str| resp.body[field].as_str().unwrap_or_default().to_string();
        Ok(Agent {
            id: text("agent_id"),
            key: text("api_key"),
        })
    }

    /// `POST /v1/tasks` by `poster`; returns the new task's id.
    pub async fn create_task(
        &self,
        poster: &Agent,
        need: &str,
        max_credits: i64,
    ) -> Result<String, Error> {
        let body = json!({ "need": need, "max_credits": max_credits });
        let resp = self
            .send(Method::POST, "/v1/tasks", Some(&poster.key), body)
            .await?
            .check(StatusCode::CREATED)?;
        Ok(resp.body["task_id"]
            .as_str()
            .unwrap_or_default()
            .to_string())
    }
}
