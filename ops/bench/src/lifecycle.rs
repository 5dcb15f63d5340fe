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
    profile::{self, CpuSnapshot, Statements},
    stats::Samples,
};

/// What one concurrency level measured.
pub struct Outcome {
    pub per_sec: f64,
    pub samples: Samples,
    /// Milliseconds of CPU per lifecycle by process group, the machine last.
    pub cpu_ms: Vec<(String, f64)>,
    /// Statements of the cluster's database, when `pg_stat_statements` is loaded.
    pub statements: Option<Statements>,
    pub lifecycles: u64,
}

/// Lifecycles per second at `concurrency` pairs over `seconds`, the latency
/// of each endpoint, and where the CPU and the database's time went.
pub async fn run(
    api: Arc<Api>,
    concurrency: usize,
    seconds: u64,
    database_url: Option<&str>,
) -> Result<Outcome> {
    let agents = api
        .register_many("bench-life", concurrency * 2, 32, |_| Value::Null)
        .await?;
    let counting = database_url.is_some_and(profile::reset_statements);
    let cpu = CpuSnapshot::take();
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
    let per_sec = total as f64 / start.elapsed().as_secs_f64();
    let cpu_ms = cpu.per_unit_ms(&CpuSnapshot::take(), total);
    let statements = database_url
        .filter(|_| counting)
        .and_then(profile::read_statements);
    Ok(Outcome {
        per_sec,
        samples,
        cpu_ms,
        statements,
        lifecycles: total,
    })
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
