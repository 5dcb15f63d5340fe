//! The HTTP side: one reqwest client, JSON in and out, errors mapped to [`CliError`].

use std::time::Duration;

use reqwest::{Method, StatusCode, header};
use serde_json::Value;

use crate::error::CliError;

/// Time allowed to open a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Time allowed for an ordinary request (a `wait` on create is added to it).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Sends of one POST at most: the first and its retries, all with the same
/// `Idempotency-Key`, so a retry of a request that did reach the server gets
/// its answer again instead of acting twice.
pub const POST_ATTEMPTS: u32 = 3;
/// Longest pause before a retry, whatever `Retry-After` says.
const LONGEST_RETRY_PAUSE: Duration = Duration::from_secs(5);

/// A successful response: its status and JSON body (`Null` when empty, e.g. 204).
#[derive(Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: StatusCode,
    /// Parsed body.
    pub body: Value,
}

/// A client for one API base URL, with the caller's key if one was resolved.
#[derive(Debug, Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
    key: Option<String>,
}

impl Api {
    /// A client for `base`; `extra` extends the request timeout (for `wait`).
    pub fn new(base: &str, key: Option<String>, extra: Duration) -> Result<Self, CliError> {
        let http = builder()
            .timeout(REQUEST_TIMEOUT + extra)
            .build()
            .map_err(|e| CliError::Local(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_string(),
            key,
        })
    }

    /// A client without an overall timeout, for long-lived streams; a read
    /// idle for `idle` breaks the connection.
    pub fn streaming(&self, idle: Duration) -> Result<Self, CliError> {
        let http = builder()
            .read_timeout(idle)
            .build()
            .map_err(|e| CliError::Local(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            http,
            ..self.clone()
        })
    }

    /// The caller's API key, or the error telling how to get one.
    pub fn key(&self) -> Result<&str, CliError> {
        self.key.as_deref().ok_or_else(|| {
            CliError::NoKey(
                "no API key configured: run `pinchwork register --name NAME` or set PINCHWORK_API_KEY"
                    .into(),
            )
        })
    }

    /// An authenticated GET with query parameters (unset ones are skipped).
    pub async fn get(
        &self,
        path: &str,
        query: &[(&str, Option<String>)],
    ) -> Result<Reply, CliError> {
        let key = self.key()?.to_string();
        self.call(Method::GET, path, query, None, Some(&key)).await
    }

    /// An unauthenticated GET (public routes).
    pub async fn get_public(
        &self,
        path: &str,
        query: &[(&str, Option<String>)],
    ) -> Result<Reply, CliError> {
        self.call(Method::GET, path, query, None, None).await
    }

    /// An authenticated POST with a JSON body (none when `Null`).
    pub async fn post(&self, path: &str, body: Value) -> Result<Reply, CliError> {
        let key = self.key()?.to_string();
        self.call(Method::POST, path, &[], Some(body), Some(&key))
            .await
    }

    /// Sends one request; any status of 400 or more becomes a [`CliError::Api`].
    /// A POST carries a fresh `Idempotency-Key` and is sent again with the
    /// same key (up to [`POST_ATTEMPTS`] sends) when its answer is lost (a
    /// network error or timeout), the server or its gateway failed (502, 503,
    /// 504), or the first send is still running (409 with `Retry-After`).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, Option<String>)],
        body: Option<Value>,
        key: Option<&str>,
    ) -> Result<Reply, CliError> {
        let query: Vec<(&str, &str)> = query
            .iter()
            .filter_map(|(k, v)| v.as_deref().map(|v| (*k, v)))
            .collect();
        let body = body.filter(|b| !b.is_null());
        if method != Method::POST {
            return self
                .send(method, path, &query, body.as_ref(), key, None)
                .await
                .0;
        }
        let idempotency_key = new_idempotency_key();
        let mut attempt = 1;
        loop {
            let (result, retry) = self
                .send(
                    method.clone(),
                    path,
                    &query,
                    body.as_ref(),
                    key,
                    Some(&idempotency_key),
                )
                .await;
            match retry {
                Some(pause) if attempt < POST_ATTEMPTS => {
                    tokio::time::sleep(pause.min(LONGEST_RETRY_PAUSE)).await;
                    attempt += 1;
                }
                _ => return result,
            }
        }
    }

    /// Sends a request once: its outcome, and the pause before a retry when
    /// one may help.
    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
        key: Option<&str>,
        idempotency_key: Option<&str>,
    ) -> (Result<Reply, CliError>, Option<Duration>) {
        const PAUSE: Duration = Duration::from_secs(1);
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header(header::ACCEPT, "application/json")
            .query(query);
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        if let Some(idempotency_key) = idempotency_key {
            req = req.header("idempotency-key", idempotency_key);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = match req.send().await {
            Ok(resp) => resp,
            Err(e) => return (Err(self.network(&e)), (!e.is_builder()).then_some(PAUSE)),
        };
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok()?.parse().ok())
            .map(Duration::from_secs);
        let retry = match status {
            StatusCode::BAD_GATEWAY
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::GATEWAY_TIMEOUT => Some(retry_after.unwrap_or(PAUSE)),
            StatusCode::CONFLICT => retry_after,
            _ => None,
        };
        let text = match resp.text().await {
            Ok(text) => text,
            Err(e) => return (Err(self.network(&e)), Some(PAUSE)),
        };
        if status.is_client_error() || status.is_server_error() {
            return (Err(api_error(status, &text)), retry);
        }
        let body = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (Ok(Reply { status, body }), None)
    }

    /// Opens a GET stream (for SSE), sending `extra` headers; error statuses
    /// are read and mapped like [`Api::call`].
    pub async fn open_stream(
        &self,
        path: &str,
        extra: &[(&str, String)],
    ) -> Result<reqwest::Response, CliError> {
        let mut req = self
            .http
            .get(format!("{}{path}", self.base))
            // JSON is listed so that an error before the stream starts is `{"error"}`.
            .header(header::ACCEPT, "text/event-stream, application/json")
            .bearer_auth(self.key()?);
        for (name, value) in extra {
            req = req.header(*name, value);
        }
        let resp = req.send().await.map_err(|e| self.network(&e))?;
        let status = resp.status();
        if status.is_client_error() || status.is_server_error() {
            let text = resp.text().await.unwrap_or_default();
            return Err(api_error(status, &text));
        }
        Ok(resp)
    }

    /// Describes a transport failure.
    pub fn network(&self, err: &reqwest::Error) -> CliError {
        let mut reason = err.to_string();
        let mut source = std::error::Error::source(err);
        while let Some(inner) = source {
            reason = format!("{reason}: {inner}");
            source = inner.source();
        }
        CliError::Network {
            url: self.base.clone(),
            reason,
        }
    }
}

/// A key for one logical POST: 128 random bits, so no two requests share one.
fn new_idempotency_key() -> String {
    format!("pwcli-{:032x}", rand::random::<u128>())
}

fn builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .user_agent(concat!("pinchwork-cli/", env!("CARGO_PKG_VERSION")))
}

/// The `{"error": …}` message of an error body, or a short description of it.
fn api_error(status: StatusCode, text: &str) -> CliError {
    let message = serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| {
            let trimmed: String = text.trim().chars().take(200).collect();
            if trimmed.is_empty() {
                status
                    .canonical_reason()
                    .unwrap_or("request failed")
                    .to_string()
            } else {
                trimmed
            }
        });
    CliError::Api {
        status: status.as_u16(),
        message,
    }
}
