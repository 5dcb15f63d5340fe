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
    profile::{self, CpuSnapshot, OutboxSize, Statements},
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
    /// The outbox table read every fifth of the run (seconds since the
    /// start, reading), when the cluster's database is given.
    pub outbox: Vec<(u64, OutboxSize)>,
}

/// Lifecycles per second at `concurrency` pairs over `seconds`, the latency
/// of each endpoint, and where the CPU and the database's time went.
pub async fn run(
    api: Arc<Api>,
    concurrency: usize,
    seconds: u64,
    database_url: Option<&str>,
) -> Result<Outcome> {
    run_with_need(api, concurrency, seconds, database_url, |_| {
        "bench task".to_string()
    })
    .await
}

/// [`run`] with the need of each pair's `i`-th task given by `need(i)`.
pub async fn run_with_need(
    api: Arc<Api>,
    concurrency: usize,
    seconds: u64,
    database_url: Option<&str>,
    need: impl Fn(usize) -> String + Clone + Send + Sync + 'static,
) -> Result<Outcome> {
    let agents = api
        .register_many("bench-life", concurrency * 2, 32, |_| Value::Null)
        .await?;
    let counting = database_url.is_some_and(profile::reset_statements);
    let cpu = CpuSnapshot::take();
    let start = Instant::now();
    let until = start + Duration::from_secs(seconds);
    let watch = database_url.map(|url| tokio::spawn(watch_outbox(url.to_owned(), seconds, until)));
    let mut set = JoinSet::new();
    for pair in agents.chunks_exact(2) {
        set.spawn(pair_loop(
            api.clone(),
            [pair[0].clone(), pair[1].clone()],
            until,
            need.clone(),
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
    let outbox = match watch {
        Some(watch) => watch.await?,
        None => Vec::new(),
    };
    Ok(Outcome {
        per_sec,
        samples,
        cpu_ms,
        statements,
        lifecycles: total,
        outbox,
    })
}

/// Reads the outbox table at the start, every fifth of the run and at its end,
/// so that a long run shows whether the table stays bounded.
async fn watch_outbox(url: String, seconds: u64, until: Instant) -> Vec<(u64, OutboxSize)> {
    let start = Instant::now();
    let step = Duration::from_secs((seconds / 5).max(1));
    let mut readings = Vec::new();
    loop {
        let at = start.elapsed().as_secs();
        let db = url.clone();
        if let Ok(Some(size)) = tokio::task::spawn_blocking(move || profile::outbox_size(&db)).await
        {
            readings.push((at, size));
        }
        let now = Instant::now();
        if now >= until {
            return readings;
        }
        tokio::time::sleep(step.min(until - now)).await;
    }
}

/// One pair, swapping roles each round so neither runs out of credits.
async fn pair_loop(
    api: Arc<Api>,
    pair: [Agent; 2],
    until: Instant,
    need: impl Fn(usize) -> String,
) -> Result<(u64, Samples)> {
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
                json!({"need": need(done as usize), "max_credits": 1}),
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
