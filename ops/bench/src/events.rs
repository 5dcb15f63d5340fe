//! Events on demand for the SSE and webhook scenarios: each recipient posts a
//! task that a worker picks up; delivering it later raises exactly one
//! `task_delivered` event for the recipient. Latency runs from the moment the
//! deliver request is sent to the moment the event reaches the client.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use anyhow::Result;
use futures::{StreamExt, TryStreamExt, stream};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedReceiver;

use crate::{
    client::{Agent, Api},
    stats::Samples,
};

/// A claimed task whose delivery will notify its poster.
pub struct Armed {
    task_id: String,
    worker: Agent,
}

/// One claimed task per entry of `recipients`, the workers taking turns.
pub async fn arm(
    api: &Api,
    recipients: &[&Agent],
    workers: &[Agent],
    concurrency: usize,
) -> Result<Vec<Armed>> {
    stream::iter(recipients.iter().enumerate())
        .map(|(i, poster)| async move {
            let task_id = api.create_task(poster, "bench event", 1).await?;
            let worker = workers[i % workers.len()].clone();
            let path = format!("/v1/tasks/{task_id}/pickup");
            api.post(&path, &worker.key, Value::Null, StatusCode::OK)
                .await?;
            anyhow::Ok(Armed { task_id, worker })
        })
        .buffer_unordered(concurrency)
        .try_collect()
        .await
}

/// When each delivery was sent, and how long sending all of them took.
pub struct Fired {
    pub sent: HashMap<String, Instant>,
    pub span: Duration,
}

/// Delivers every armed task, `concurrency` requests at a time.
pub async fn fire(api: &Api, armed: Vec<Armed>, concurrency: usize) -> Result<Fired> {
    let start = Instant::now();
    let sent = stream::iter(armed)
        .map(|a| async move {
            let path = format!("/v1/tasks/{}/deliver", a.task_id);
            let at = Instant::now();
            let body = json!({ "result": "done" });
            api.post(&path, &a.worker.key, body, StatusCode::OK).await?;
            anyhow::Ok((a.task_id, at))
        })
        .buffer_unordered(concurrency)
        .try_collect()
        .await?;
    Ok(Fired {
        sent,
        span: start.elapsed(),
    })
}

/// Arrivals of `task_delivered` events: (task id, when it was read).
pub type Arrival = (String, Instant);

/// Waits until `expected` arrivals came in or none came for `quiet`.
pub async fn gather(
    rx: &mut UnboundedReceiver<Arrival>,
    expected: usize,
    quiet: Duration,
) -> Vec<Arrival> {
    let mut got = Vec::with_capacity(expected);
    while got.len() < expected {
        match tokio::time::timeout(quiet, rx.recv()).await {
            Ok(Some(arrival)) => got.push(arrival),
            _ => break,
        }
    }
    got
}

/// Send-to-arrival latency of every arrival whose task was fired, under `name`.
pub fn latencies(name: &str, fired: &Fired, arrivals: &[Arrival]) -> Samples {
    let mut samples = Samples::default();
    for (task, at) in arrivals {
        if let Some(sent) = fired.sent.get(task) {
            samples.add(name, at.saturating_duration_since(*sent));
        }
    }
    samples
}

/// The task id of a `task_delivered` event body (SSE `data:` or webhook JSON).
pub fn delivered_task(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let kind = v.get("type").or_else(|| v.get("event"))?;
    if kind != "task_delivered" {
        return None;
    }
    v["task_id"].as_str().map(str::to_string)
}
