//! `pinchwork-bench`: measures a running cluster through its public HTTP API
//! only, and the database's own ceiling with pgbench, and prints a markdown
//! table. The cluster must run with `PINCHWORK_RATE_LIMIT_ENABLED=false`.

use std::{
    collections::{BTreeMap, HashSet},
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use clap::Parser;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use tokio::{sync::Mutex, task::JoinSet};

/// Command line of the harness.
#[derive(Parser, Debug)]
#[command(about = "Benchmark a running Pinchwork cluster")]
struct Args {
    /// Base URL of the cluster (the load balancer).
    #[arg(long, env = "PINCHWORK_URL", default_value = "http://127.0.0.1:8000")]
    url: String,
    /// Concurrency levels of the lifecycle scenario.
    #[arg(long, value_delimiter = ',', default_value = "1,8,32")]
    concurrency: Vec<usize>,
    /// Seconds each lifecycle level runs.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Tasks posted before the contention race.
    #[arg(long, default_value_t = 2000)]
    contention_tasks: usize,
    /// Workers racing in the contention scenario.
    #[arg(long, default_value_t = 64)]
    contention_workers: usize,
    /// PostgreSQL server for the pgbench ceiling (a scratch database is created there).
    #[arg(
        long,
        env = "PINCHWORK_BENCH_PG",
        default_value = "postgres://postgres@127.0.0.1:5432"
    )]
    pg: String,
    /// Skip the pgbench ceiling.
    #[arg(long)]
    no_ceiling: bool,
}

/// Latency samples per endpoint.
#[derive(Default)]
struct Samples(BTreeMap<&'static str, Vec<Duration>>);

impl Samples {
    fn add(&mut self, endpoint: &'static str, took: Duration) {
        self.0.entry(endpoint).or_default().push(took);
    }

    fn merge(&mut self, other: Samples) {
        for (k, mut v) in other.0 {
            self.0.entry(k).or_default().append(&mut v);
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx].as_secs_f64() * 1000.0
}

struct Api {
    http: Client,
    base: String,
}

impl Api {
    async fn call(
        &self,
        method: reqwest::Method,
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

    async fn register(&self, name: &str) -> Result<String> {
        let (status, body) = self
            .call(
                reqwest::Method::POST,
                "/v1/register",
                None,
                Some(json!({ "name": name })),
            )
            .await?;
        if status != StatusCode::CREATED {
            bail!("register failed ({status}): {body} — is PINCHWORK_RATE_LIMIT_ENABLED=false?");
        }
        Ok(body["api_key"].as_str().context("api_key")?.to_string())
    }

    /// Times one call and insists on the expected status.
    async fn timed(
        &self,
        samples: &mut Samples,
        endpoint: &'static str,
        path: &str,
        key: &str,
        body: Option<Value>,
        expected: StatusCode,
    ) -> Result<Value> {
        let start = Instant::now();
        let (status, body) = self
            .call(reqwest::Method::POST, path, Some(key), body)
            .await?;
        samples.add(endpoint, start.elapsed());
        if status != expected {
            bail!("{endpoint}: {status} {body}");
        }
        Ok(body)
    }
}

/// One poster/worker pair looping create → pickup → deliver → approve, swapping roles each round.
async fn lifecycle_pair(
    api: Arc<Api>,
    keys: [String; 2],
    until: Instant,
) -> Result<(u64, Samples)> {
    let mut samples = Samples::default();
    let mut done = 0u64;
    let mut round = 0usize;
    while Instant::now() < until {
        let (poster, worker) = (&keys[round % 2], &keys[(round + 1) % 2]);
        let created = api
            .timed(
                &mut samples,
                "create",
                "/v1/tasks",
                poster,
                Some(json!({"need": "bench task", "max_credits": 1})),
                StatusCode::CREATED,
            )
            .await?;
        let id = created["task_id"].as_str().context("task_id")?.to_string();
        api.timed(
            &mut samples,
            "pickup",
            &format!("/v1/tasks/{id}/pickup"),
            worker,
            None,
            StatusCode::OK,
        )
        .await?;
        api.timed(
            &mut samples,
            "deliver",
            &format!("/v1/tasks/{id}/deliver"),
            worker,
            Some(json!({"result": "done"})),
            StatusCode::OK,
        )
        .await?;
        api.timed(
            &mut samples,
            "approve",
            &format!("/v1/tasks/{id}/approve"),
            poster,
            None,
            StatusCode::OK,
        )
        .await?;
        done += 1;
        round += 1;
    }
    Ok((done, samples))
}

async fn lifecycle(api: Arc<Api>, concurrency: usize, seconds: u64) -> Result<(f64, Samples)> {
    let mut pairs = Vec::new();
    for i in 0..concurrency {
        pairs.push([
            api.register(&format!("bench-a{i}")).await?,
            api.register(&format!("bench-b{i}")).await?,
        ]);
    }
    let start = Instant::now();
    let until = start + Duration::from_secs(seconds);
    let mut set = JoinSet::new();
    for keys in pairs {
        set.spawn(lifecycle_pair(api.clone(), keys, until));
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

/// Pre-posts tasks, then races workers on `POST /v1/tasks/pickup` until the pool is empty.
async fn contention(
    api: Arc<Api>,
    tasks: usize,
    workers: usize,
) -> Result<(f64, usize, usize, Samples)> {
    let per_poster = 100;
    let mut posting = JoinSet::new();
    for p in 0..tasks.div_ceil(per_poster) {
        let api = api.clone();
        let n = per_poster.min(tasks - p * per_poster);
        posting.spawn(async move {
            let key = api.register(&format!("bench-poster{p}")).await?;
            for _ in 0..n {
                let (s, b) = api
                    .call(
                        reqwest::Method::POST,
                        "/v1/tasks",
                        Some(&key),
                        Some(json!({"need": "contended", "max_credits": 1})),
                    )
                    .await?;
                if s != StatusCode::CREATED {
                    bail!("create failed: {s} {b}");
                }
            }
            anyhow::Ok(())
        });
    }
    while let Some(r) = posting.join_next().await {
        r??;
    }
    let mut keys = Vec::new();
    for w in 0..workers {
        keys.push(api.register(&format!("bench-racer{w}")).await?);
    }
    let claimed = Arc::new(Mutex::new(Vec::new()));
    let start = Instant::now();
    let mut set = JoinSet::new();
    for key in keys {
        let (api, claimed) = (api.clone(), claimed.clone());
        set.spawn(async move {
            let mut samples = Samples::default();
            loop {
                let t = Instant::now();
                let (status, body) = api
                    .call(reqwest::Method::POST, "/v1/tasks/pickup", Some(&key), None)
                    .await?;
                samples.add("pickup (contended)", t.elapsed());
                match status {
                    StatusCode::NO_CONTENT => break,
                    StatusCode::OK => claimed
                        .lock()
                        .await
                        .push(body["task_id"].as_str().unwrap_or_default().to_string()),
                    other => bail!("pickup: {other} {body}"),
                }
            }
            anyhow::Ok(samples)
        });
    }
    let mut samples = Samples::default();
    while let Some(r) = set.join_next().await {
        samples.merge(r??);
    }
    let elapsed = start.elapsed().as_secs_f64();
    let claimed = claimed.lock().await;
    let unique: HashSet<&String> = claimed.iter().collect();
    Ok((
        claimed.len() as f64 / elapsed,
        claimed.len(),
        claimed.len() - unique.len(),
        samples,
    ))
}

/// pgbench's built-in simple-update script on a scratch database: the write ceiling.
fn pgbench_ceiling(pg: &str, clients: usize, seconds: u64) -> Result<f64> {
    let run = |args: &[&str]| -> Result<String> {
        let out = std::process::Command::new(args[0])
            .args(&args[1..])
            .output()
            .with_context(|| format!("running {}", args[0]))?;
        if !out.status.success() {
            bail!(
                "{} failed: {}",
                args[0],
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let admin = format!("{pg}/postgres");
    let db = format!("{pg}/pinchwork_pgbench");
    let _ = run(&[
        "psql",
        &admin,
        "-qc",
        "DROP DATABASE IF EXISTS pinchwork_pgbench",
    ]);
    run(&["psql", &admin, "-qc", "CREATE DATABASE pinchwork_pgbench"])?;
    run(&["pgbench", "-i", "-q", "-s", "10", &db])?;
    let clients = clients.to_string();
    let secs = seconds.to_string();
    let out = run(&[
        "pgbench",
        "-b",
        "simple-update",
        "-c",
        &clients,
        "-j",
        "2",
        "-T",
        &secs,
        &db,
    ])?;
    let _ = run(&[
        "psql",
        &admin,
        "-qc",
        "DROP DATABASE IF EXISTS pinchwork_pgbench",
    ]);
    out.lines()
        .find(|l| l.starts_with("tps ="))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|v| v.parse().ok())
        .context("pgbench printed no tps")
}

fn print_latencies(title: &str, samples: &mut Samples) {
    println!(
        "\n{title}\n\n| endpoint | requests | p50 ms | p95 ms | p99 ms |\n|---|---:|---:|---:|---:|"
    );
    for (endpoint, v) in samples.0.iter_mut() {
        v.sort();
        println!(
            "| {endpoint} | {} | {:.2} | {:.2} | {:.2} |",
            v.len(),
            percentile(v, 0.50),
            percentile(v, 0.95),
            percentile(v, 0.99)
        );
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    pinchwork_common::tls::install_crypto_provider();
    let http = Client::builder().pool_max_idle_per_host(256).build()?;
    let api = Arc::new(Api {
        http,
        base: args.url.trim_end_matches('/').to_string(),
    });

    println!("# pinchwork-bench against {}\n", api.base);
    println!("| scenario | result |\n|---|---|");
    let mut detail = Vec::new();
    for &c in &args.concurrency {
        let (rate, samples) = lifecycle(api.clone(), c, args.seconds).await?;
        println!("| lifecycle, concurrency {c} | {rate:.0} lifecycles/s |");
        detail.push((format!("Lifecycle latencies at concurrency {c}"), samples));
    }
    let (claims, claimed, doubles, samples) =
        contention(api.clone(), args.contention_tasks, args.contention_workers).await?;
    println!(
        "| contention: {} workers on {} tasks | {claims:.0} claims/s, {claimed} claimed, {doubles} double claims |",
        args.contention_workers, args.contention_tasks
    );
    detail.push(("Contention".to_string(), samples));
    if !args.no_ceiling {
        match pgbench_ceiling(&args.pg, 32, args.seconds) {
            Ok(tps) => println!("| ceiling: pgbench simple-update, 32 clients | {tps:.0} TPS |"),
            Err(err) => println!("| ceiling: pgbench simple-update | not measured: {err} |"),
        }
    }
    for (title, mut samples) in detail {
        print_latencies(&title, &mut samples);
    }
    if doubles > 0 {
        bail!("{doubles} tasks were claimed twice");
    }
    Ok(())
}
