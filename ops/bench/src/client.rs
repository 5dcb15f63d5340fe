//! The harness's view of the cluster: the shared JSON client with the
//! benchmark's own steps (expected statuses as errors, timed calls, agents in
//! bulk).

use std::{ops::Deref, time::Instant};

use anyhow::{Context, Result};
use futures::{StreamExt, TryStreamExt, stream};
pub use pinchwork_client::Agent;
use pinchwork_client::Client;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::stats::Samples;

/// One base URL and a shared connection pool.
pub struct Api(Client);

impl Deref for Api {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.0
    }
}

impl Api {
    /// A client for `base` keeping up to `idle` idle connections.
    pub fn new(base: &str, idle: usize) -> Result<Self> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(idle)
            .tcp_nodelay(true)
            .build()?;
        Ok(Self(Client::with_http(base, http)))
    }

    /// POSTs (no body when Null) and insists on the expected status.
    pub async fn post(
        &self,
        path: &str,
        key: &str,
        body: Value,
        expected: StatusCode,
    ) -> Result<Value> {
        let resp = self.send(Method::POST, path, Some(key), body).await?;
        let resp = resp
            .check(expected)
            .with_context(|| format!("POST {path}"))?;
        Ok(resp.body)
    }

    /// POSTs like [`Api::post`] and records the latency under `name`.
    pub async fn timed(
        &self,
        samples: &mut Samples,
        name: &str,
        path: &str,
        key: &str,
        body: Value,
        expected: StatusCode,
    ) -> Result<Value> {
        let start = Instant::now();
        let result = self.post(path, key, body, expected).await;
        samples.add(name, start.elapsed());
        result
    }

    /// Registers one agent; `extra` fields (e.g. `webhook_url`) join the name.
    pub async fn register_agent(&self, name: &str, extra: &Value) -> Result<Agent> {
        let mut body = json!({ "name": name });
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        self.register(body)
            .await
            .context("register failed — is PINCHWORK_RATE_LIMIT_ENABLED=false?")
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
                async move { self.register_agent(&format!("{prefix}{i}"), &extra).await }
            })
            .buffered(concurrency)
            .try_collect()
            .await
    }
}
