//! The harness's view of the cluster: JSON calls to the public HTTP API.

use std::time::Instant;

use anyhow::{Context, Result, bail};
use futures::{StreamExt, TryStreamExt, stream};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

use crate::stats::Samples;

/// A registered agent.
#[derive(Debug, Clone)]
pub struct Agent {
    pub key: String,
}

/// One base URL and a shared connection pool.
pub struct Api {
    pub http: Client,
    pub base: String,
}

impl Api {
    /// A client for `base` keeping up to `idle` idle connections.
    pub fn new(base: &str, idle: usize) -> Result<Self> {
        Ok(Self {
            http: Client::builder()
                .pool_max_idle_per_host(idle)
                .tcp_nodelay(true)
                .build()?,
            base: base.trim_end_matches('/').to_string(),
        })
    }

    /// Sends one request; the body is the response's JSON (Null when empty).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Result<(StatusCode, Value)> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("accept", "application/json");
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await?;
        let status = resp.status();
        let text = resp.text().await?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    /// POSTs and insists on the expected status.
    pub async fn post(
        &self,
        path: &str,
        key: &str,
        body: Option<Value>,
        expected: StatusCode,
    ) -> Result<Value> {
        let (status, body) = self.call(Method::POST, path, Some(key), body).await?;
        if status != expected {
            bail!("POST {path}: {status} {body}");
        }
        Ok(body)
    }

    /// POSTs like [`Api::post`] and records the latency under `name`.
    pub async fn timed(
        &self,
        samples: &mut Samples,
        name: &str,
        path: &str,
        key: &str,
        body: Option<Value>,
        expected: StatusCode,
    ) -> Result<Value> {
        let start = Instant::now();
        let result = self.post(path, key, body, expected).await;
        samples.add(name, start.elapsed());
        result
    }

    /// Registers one agent; `extra` fields (e.g. `webhook_url`) join the name.
    pub async fn register(&self, name: &str, extra: &Value) -> Result<Agent> {
        let mut body = json!({ "name": name });
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        let (status, body) = self
            .call(Method::POST, "/v1/register", None, Some(body))
            .await?;
        if status != StatusCode::CREATED {
            bail!("register failed ({status}): {body} — is PINCHWORK_RATE_LIMIT_ENABLED=false?");
        }
        Ok(Agent {
            key: body["api_key"].as_str().context("api_key")?.to_string(),
        })
    }

    /// Registers `n` agents named `<prefix><i>`, `concurrency` at a time, in order.
    pub async fn register_many(
        &self,
        prefix: &str,
        n: usize,
        concurrency: usize,
        extra: impl Fn(usize) -> Value,
    ) -> Result<Vec<Agent>> {
        stream::iter(0..n)
            .map(|i| {
                let extra = extra(i);
                async move { self.register(&format!("{prefix}{i}"), &extra).await }
            })
            .buffered(concurrency)
            .try_collect()
            .await
    }

    /// Posts a 1-credit task and returns its id.
    pub async fn create_task(&self, poster: &Agent, need: &str) -> Result<String> {
        let body = self
            .post(
                "/v1/tasks",
                &poster.key,
                Some(json!({ "need": need, "max_credits": 1 })),
                StatusCode::CREATED,
            )
            .await?;
        Ok(body["task_id"].as_str().context("task_id")?.to_string())
    }
}
