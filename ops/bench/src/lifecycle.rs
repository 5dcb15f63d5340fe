//! Lifecycle: poster/worker pairs looping create → pickup → deliver → approve.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Result;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::{
    client::{Agent, Api},
    stats::Samples,
};

/// Lifecycles per second at `concurrency` pairs over `seconds`, and the
/// latency of each endpoint.
pub async fn run(api: Arc<Api>, concurrency: usize, seconds: u64) -> Result<(f64, Samples)> {
    let agents = api
        .register_many("bench-life", concurrency * 2, 32, |_| Value::Null)
        .await?;
    let start = Instant::now();
    let until = start + Duration::from_secs(seconds);
    let mut set = JoinSet::new();
    for pair in agents.chunks_exact(2) {
        set.spawn(pair_loop(
            api.clone(),
            [pair[0].clone(), pair[1].clone()],
            until,
        ));
    }
    let mut total = 0;
    let mut samples = Samples::default();
    while let Some(r) = set.join_next().await {
        let (done, s) = r??;
        total += done;
        samples.merge(s);
    }
    Ok((total as f64 / start.elapsed().as_secs_f64(), samples))
}

/// One pair, swapping roles each round so neither runs out of credits.
async fn pair_loop(api: Arc<Api>, pair: [Agent; 2], until: Instant) -> Result<(u64, Samples)> {
    let mut samples = Samples::default();
    let mut done = 0u64;
    while Instant::now() < until {
        let (poster, worker) = (&pair[done as usize % 2], &pair[(done as usize + 1) % 2]);
        let s = &mut samples;
        let created = api
            .timed(
                s,
                "create",
                "/v1/tasks",
                &poster.key,
                json!({"need": "bench task", "max_credits": 1}),
                StatusCode::CREATED,
            )
            .await?;
        let id = created["task_id"].as_str().unwrap_or_default();
        let task = |action: &str| format!("/v1/tasks/{id}/{action}");
        let (ok, deliver) = (StatusCode::OK, json!({"result": "done"}));
        api.timed(s, "pickup", &task("pickup"), &worker.key, Value::Null, ok)
            .await?;
        api.timed(s, "deliver", &task("deliver"), &worker.key, deliver, ok)
            .await?;
        api.timed(s, "approve", &task("approve"), &poster.key, Value::Null, ok)
            .await?;
        done += 1;
    }
    Ok((done, samples))
}
