//! SSE fan-out: N concurrent `GET /v1/events` connections held open while
//! deliveries raise events for a spread of their agents; measures the latency
//! from each triggering request to the event's arrival, and the relay's memory.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use futures::{StreamExt, TryStreamExt, stream};
use pinchwork_client::sse::Parser;
use reqwest::{Client, StatusCode};
use serde_json::Value;
use tokio::{
    sync::mpsc::{UnboundedSender, unbounded_channel},
    task::JoinSet,
};

use crate::{
    client::{Agent, Api},
    events::{self, Arrival},
    stats::Samples,
};

/// How one fan-out level is run.
pub struct Level {
    /// Base URL the connections go to (the load balancer or one relay).
    pub url: String,
    /// Concurrent connections.
    pub connections: usize,
    /// Connections per registered agent (the relay fans an agent's events out to each).
    pub per_agent: usize,
    /// Deliveries fired, spread evenly over the agents.
    pub events: usize,
    /// Deliveries in flight at once.
    pub trigger_concurrency: usize,
    /// The relay process whose resident memory is read.
    pub relay_pid: Option<u32>,
}

/// Runs one level; returns the summary line and the latency samples.
pub async fn run(api: Arc<Api>, level: &Level) -> Result<(String, Samples)> {
    let n_agents = level.connections.div_ceil(level.per_agent);
    eprintln!("sse: registering {n_agents} agents");
    let agents = api
        .register_many("bench-sse", n_agents, 64, |_| Value::Null)
        .await?;
    let workers = api
        .register_many("bench-sse-worker", 8, 8, |_| Value::Null)
        .await?;
    let rss_before = level.relay_pid.and_then(rss_mib);

    eprintln!(
        "sse: opening {} connections to {}",
        level.connections, level.url
    );
    let client = Client::builder()
        .pool_max_idle_per_host(0)
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(10))
        .build()?;
    let (tx, mut rx) = unbounded_channel();
    let started = Instant::now();
    let agents_ref = &agents;
    let responses: Vec<reqwest::Response> = stream::iter(0..level.connections)
        .map(|i| open(&client, &level.url, &agents_ref[i / level.per_agent]))
        .buffer_unordered(256)
        .try_collect()
        .await?;
    let connect_secs = started.elapsed().as_secs_f64();
    let mut readers = JoinSet::new();
    for resp in responses {
        readers.spawn(read_events(resp, tx.clone()));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_held = level.relay_pid.and_then(rss_mib);

    // Spread the events evenly; an agent's event reaches each of its connections.
    let picks: Vec<usize> = (0..level.events)
        .map(|i| i * n_agents / level.events.max(1) % n_agents)
        .collect();
    let expected: usize = picks
        .iter()
        .map(|&j| level.per_agent.min(level.connections - j * level.per_agent))
        .sum();
    let recipients: Vec<&Agent> = picks.iter().map(|&j| &agents[j]).collect();
    eprintln!("sse: arming and firing {} deliveries", level.events);
    let armed = events::arm(&api, &recipients, &workers, 32).await?;
    let fired = events::fire(&api, armed, level.trigger_concurrency).await?;
    let arrivals = events::gather(&mut rx, expected, Duration::from_secs(10)).await;
    let rss_after = level.relay_pid.and_then(rss_mib);
    let mut dropped = 0;
    while readers.try_join_next().is_some() {
        dropped += 1;
    }
    readers.shutdown().await;

    let name = format!("SSE event, {} connections", level.connections);
    let mut samples = events::latencies(&name, &fired, &arrivals);
    let p = |samples: &mut Samples, q| samples.percentile_ms(&name, q).unwrap_or(f64::NAN);
    let (p50, p99) = (p(&mut samples, 0.5), p(&mut samples, 0.99));
    let memory = match (rss_before, rss_held, rss_after) {
        (Some(b), Some(h), Some(a)) => format!(
            "relay RSS {b:.0} MiB before, {h:.0} MiB holding them ({:.1} KiB/connection), {a:.0} MiB after the events",
            (h - b) * 1024.0 / level.connections as f64
        ),
        _ => "relay RSS not measured (no pid: --relay-pid or PINCHWORK_RUN_DIR)".to_string(),
    };
    let line = format!(
        "event p50 {p50:.1} ms, p99 {p99:.1} ms; {} of {expected} events arrived, {dropped} streams dropped; {memory}; {} connections opened in {connect_secs:.1} s",
        arrivals.len(),
        level.connections
    );
    Ok((line, samples))
}

async fn open(client: &Client, url: &str, agent: &Agent) -> Result<reqwest::Response> {
    let resp = client
        .get(format!("{url}/v1/events"))
        .bearer_auth(&agent.key)
        .header("accept", "text/event-stream")
        .send()
        .await
        .context("opening an SSE connection")?;
    if resp.status() != StatusCode::OK {
        bail!("GET /v1/events: {}", resp.status());
    }
    Ok(resp)
}

/// Reads SSE events until the stream ends, reporting `task_delivered` events.
async fn read_events(resp: reqwest::Response, tx: UnboundedSender<Arrival>) {
    let mut body = resp.bytes_stream();
    let mut parser = Parser::default();
    while let Some(Ok(chunk)) = body.next().await {
        let at = Instant::now();
        for event in parser.feed(&chunk) {
            if let Some(task) = events::delivered_task(event.data.as_bytes()) {
                let _ = tx.send((task, at));
            }
        }
    }
}

/// Resident memory of a process in MiB (`VmRSS` of /proc/<pid>/status).
pub fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}
