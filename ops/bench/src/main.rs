//! `pinchwork-bench`: measures a running cluster through its public HTTP API
//! only — lifecycles, contended claims, webhook deliveries, SSE fan-out — and
//! the database's own ceiling with pgbench, and prints one markdown report.
//! The cluster must run with its rate limits raised or off (and
//! `PINCHWORK_WEBHOOK_ALLOW_PRIVATE=true` for the webhook scenario).

mod ceiling;
mod client;
mod contention;
mod events;
mod fanout;
mod lifecycle;
mod profile;
mod scale;
mod stats;
mod webhooks;

use std::{path::PathBuf, sync::Arc};

use anyhow::{Result, bail};
use clap::{Parser, ValueEnum};
use nix::sys::resource::{Resource, getrlimit, setrlimit};

use crate::{client::Api, stats::Report};

/// The scenarios, in the order they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Scenario {
    Lifecycle,
    Contention,
    Webhooks,
    Sse,
    Ceiling,
    /// Not in the default run: seeds the cluster's database (bench-only!).
    Scale,
}

/// Command line of the harness.
#[derive(Parser, Debug)]
#[command(about = "Benchmark a running Pinchwork cluster")]
struct Args {
    /// Base URL of the cluster (the load balancer).
    #[arg(long, env = "PINCHWORK_URL", default_value = "http://127.0.0.1:8000")]
    url: String,
    /// Scenarios to run (default: all).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "lifecycle,contention,webhooks,sse,ceiling"
    )]
    scenarios: Vec<Scenario>,
    /// Concurrency levels of the lifecycle scenario.
    #[arg(long, value_delimiter = ',', default_value = "1,8,32")]
    concurrency: Vec<usize>,
    /// Seconds each lifecycle level (and pgbench) runs.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Tasks posted before the contention race.
    #[arg(long, default_value_t = 2000)]
    contention_tasks: usize,
    /// Workers racing in the contention scenario.
    #[arg(long, default_value_t = 64)]
    contention_workers: usize,
    /// Agents with a webhook in the webhook scenario.
    #[arg(long, default_value_t = 50)]
    webhook_agents: usize,
    /// Events (deliveries) raised in the webhook scenario.
    #[arg(long, default_value_t = 2000)]
    webhook_events: usize,
    /// Triggering requests in flight at once in the webhook scenario.
    #[arg(long, default_value_t = 32)]
    webhook_trigger_concurrency: usize,
    /// Concurrent SSE connections, one level per value.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
    sse_connections: Vec<usize>,
    /// Where SSE connections go: default the cluster URL (through the load
    /// balancer); give a relay's own address (e.g. http://127.0.0.1:8201) to bypass it.
    #[arg(long)]
    sse_url: Option<String>,
    /// SSE connections per agent (1: one registered agent per connection).
    #[arg(long, default_value_t = 1)]
    sse_connections_per_agent: usize,
    /// Events raised per SSE level, spread evenly over its agents.
    #[arg(long, default_value_t = 1000)]
    sse_events: usize,
    /// Triggering requests in flight at once in the SSE scenario.
    #[arg(long, default_value_t = 8)]
    sse_trigger_concurrency: usize,
    /// Pid of the sse-relay whose memory is read (default: from the run dir).
    #[arg(long)]
    relay_pid: Option<u32>,
    /// ops/cluster's run directory, where `sse-relay-1.pid` is found.
    #[arg(long, env = "PINCHWORK_RUN_DIR", default_value = "run")]
    run_dir: PathBuf,
    /// PostgreSQL server for the pgbench ceiling (a scratch database is created there).
    #[arg(
        long,
        env = "PINCHWORK_BENCH_PG",
        default_value = "postgres://postgres@127.0.0.1:5432"
    )]
    pg: String,
    /// The cluster's database: statements per lifecycle are read from its
    /// `pg_stat_statements` (when loaded), and the ceiling copies its schema.
    #[arg(long, env = "DATABASE_URL")]
    database_url: Option<String>,
    /// Seeded worker agents of the scale scenario, one level per value.
    #[arg(long, value_delimiter = ',', default_value = "100,100000")]
    scale_agents: Vec<usize>,
    /// Seeded open tasks of the scale scenario, one level per value.
    #[arg(long, value_delimiter = ',', default_value = "1000,1000000")]
    scale_tasks: Vec<usize>,
    /// Lifecycle pairs of the scale scenario.
    #[arg(long, default_value_t = 8)]
    scale_concurrency: usize,
    /// Also write the run's figures as JSON here (read by `ops/compare`).
    #[arg(long)]
    json: Option<PathBuf>,
}

impl Args {
    fn runs(&self, scenario: Scenario) -> bool {
        self.scenarios.contains(&scenario)
    }

    fn relay_pid(&self) -> Option<u32> {
        self.relay_pid.or_else(|| {
            let file = self.run_dir.join("sse-relay-1.pid");
            std::fs::read_to_string(file).ok()?.trim().parse().ok()
        })
    }
}

/// Raises the soft limit on open files to the hard limit; returns the new soft limit.
fn raise_fd_limit() -> u64 {
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
            Ok(()) => hard,
            Err(_) => soft,
        },
        Ok((soft, _)) => soft,
        Err(_) => 1024,
    }
}

/// The CPU per lifecycle by process and the statements per lifecycle.
fn report_profile(report: &mut stats::Report, c: usize, o: &lifecycle::Outcome) {
    let rows: Vec<Vec<String>> = o
        .cpu_ms
        .iter()
        .map(|(group, ms)| vec![group.clone(), format!("{ms:.2}")])
        .collect();
    if let Some((_, machine)) = o.cpu_ms.last() {
        report.figure(format!("cpu_ms_per_lifecycle_c{c}"), *machine);
    }
    report.table(
        &format!(
            "CPU per lifecycle at concurrency {c} ({} lifecycles)",
            o.lifecycles
        ),
        &["process", "CPU ms per lifecycle"],
        &rows,
    );
    if let Some((_, last)) = o.outbox.last() {
        report.figure(format!("outbox_rows_end_c{c}"), last.rows as f64);
        let rows: Vec<Vec<String>> = o
            .outbox
            .iter()
            .map(|(at, size)| {
                vec![
                    at.to_string(),
                    size.rows.to_string(),
                    size.unpublished.to_string(),
                    format!("{:.1}", size.bytes as f64 / 1_048_576.0),
                ]
            })
            .collect();
        report.table(
            &format!("Outbox table during the run at concurrency {c}"),
            &["seconds", "rows", "unpublished", "MiB (with indexes)"],
            &rows,
        );
    }
    let Some(st) = &o.statements else {
        return;
    };
    let per = |v: f64| v / o.lifecycles.max(1) as f64;
    report.figure(format!("statements_per_lifecycle_c{c}"), per(st.calls));
    report.figure(format!("statement_ms_per_lifecycle_c{c}"), per(st.exec_ms));
    let mut rows = vec![vec![
        "**all statements**".to_string(),
        format!("{:.1}", per(st.calls)),
        format!("{:.3}", per(st.exec_ms)),
    ]];
    rows.extend(st.top.iter().map(|(query, calls, ms)| {
        vec![
            format!("`{query}`"),
            format!("{:.2}", per(*calls)),
            format!("{:.3}", per(*ms)),
        ]
    }));
    report.table(
        &format!("Statements per lifecycle at concurrency {c} (pg_stat_statements)"),
        &["statement", "calls", "execution ms"],
        &rows,
    );
}

/// The scale scenario: every (open tasks, agents) level, tasks outer.
async fn run_scale(args: &Args, api: &Arc<Api>, report: &mut Report) {
    let Some(url) = args.database_url.as_deref() else {
        report.row(
            "scale",
            "skipped: needs --database-url (a bench-only database)",
        );
        return;
    };
    let pool = match scale::connect(url).await {
        Ok(pool) => pool,
        Err(err) => return report.row("scale", &format!("failed: {err:#}")),
    };
    let c = args.scale_concurrency;
    let mut first: Option<f64> = None;
    for &tasks in &args.scale_tasks {
        for &agents in &args.scale_agents {
            let scenario = format!("scale: {agents} agents, {tasks} open tasks, concurrency {c}");
            let run = scale::run(api.clone(), &pool, agents, tasks, c, args.seconds);
            let mut o = match run.await {
                Ok(o) => o,
                Err(err) => {
                    report.row(&scenario, &format!("failed: {err:#}"));
                    continue;
                }
            };
            let mut ms = |name: &str, p: f64| {
                o.samples
                    .percentile_ms(name, p)
                    .map_or("-".to_string(), |v| format!("{v:.1}"))
            };
            let line = format!(
                "{:.0} lifecycles/s; create p50/p99 {}/{} ms; pickup p50/p99 {}/{} ms; \
                 routing p50/p99 {}/{} ms ({} samples); seeded in {:.0} s",
                o.per_sec,
                ms("create", 0.5),
                ms("create", 0.99),
                ms("pickup", 0.5),
                ms("pickup", 0.99),
                ms("routing", 0.5),
                ms("routing", 0.99),
                o.routed,
                o.seed_secs,
            );
            report.row(&scenario, &line);
            let key = format!("scale_a{agents}_t{tasks}");
            report.figure(format!("{key}_lifecycles"), o.per_sec);
            if let Some(p50) = o.samples.percentile_ms("routing", 0.5) {
                report.figure(format!("{key}_routing_p50_ms"), p50);
            }
            match first {
                None => first = Some(o.per_sec),
                Some(base) if base > 0.0 => report.row(
                    &format!("{scenario}: over the first level"),
                    &format!("{:.2}", o.per_sec / base),
                ),
                Some(_) => {}
            }
            report.detail(
                format!("Scale: {agents} agents, {tasks} open tasks"),
                o.samples,
            );
        }
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    pinchwork_client::install_crypto_provider();
    let fd_limit = raise_fd_limit();
    let api = Arc::new(Api::new(&args.url, 256)?);
    let mut report = Report::start(&api.base);
    let mut doubles = 0;

    let mut ours = Vec::new();
    if args.runs(Scenario::Lifecycle) {
        for &c in &args.concurrency {
            let scenario = format!("lifecycle, concurrency {c}");
            match lifecycle::run(api.clone(), c, args.seconds, args.database_url.as_deref()).await {
                Ok(mut o) => {
                    report.row(&scenario, &format!("{:.0} lifecycles/s", o.per_sec));
                    report.figure(format!("lifecycle_c{c}"), o.per_sec);
                    ours.push((c, o.per_sec));
                    if let Some(p99) = o.samples.percentile_ms("pickup", 0.99) {
                        report.figure(format!("pickup_p99_ms_c{c}"), p99);
                    }
                    report_profile(&mut report, c, &o);
                    report.detail(format!("Lifecycle latencies at concurrency {c}"), o.samples);
                }
                Err(err) => report.row(&scenario, &format!("failed: {err:#}")),
            }
        }
    }
    if args.runs(Scenario::Contention) {
        let (tasks, workers) = (args.contention_tasks, args.contention_workers);
        let scenario = format!("contention: {workers} workers on {tasks} tasks");
        match contention::run(api.clone(), tasks, workers).await {
            Ok(o) => {
                doubles = o.double_claims;
                report.row(
                    &scenario,
                    &format!(
                        "{:.0} claims/s, {} claimed, {} double claims",
                        o.claims_per_sec, o.claimed, o.double_claims
                    ),
                );
                report.detail("Contention", o.samples);
            }
            Err(err) => report.row(&scenario, &format!("failed: {err:#}")),
        }
    }
    if args.runs(Scenario::Webhooks) {
        let scenario = format!(
            "webhooks: {} events to {} agents, {} triggers in flight",
            args.webhook_events, args.webhook_agents, args.webhook_trigger_concurrency
        );
        let run = webhooks::run(
            api.clone(),
            args.webhook_agents,
            args.webhook_events,
            args.webhook_trigger_concurrency,
        );
        match run.await {
            Ok((line, samples)) => {
                report.row(&scenario, &line);
                report.detail("Webhooks", samples);
            }
            Err(err) => report.row(&scenario, &format!("failed: {err:#}")),
        }
    }
    if args.runs(Scenario::Sse) {
        let url = args.sse_url.clone().unwrap_or_else(|| api.base.clone());
        let path = if args.sse_url.is_some() {
            format!("direct to the relay at {url}")
        } else {
            "through the load balancer".to_string()
        };
        for &connections in &args.sse_connections {
            let per_agent = args.sse_connections_per_agent.max(1);
            let scenario = format!(
                "SSE fan-out, {connections} connections ({} agents × {per_agent}, {path})",
                connections.div_ceil(per_agent)
            );
            // Each connection needs a descriptor here (and at the relay, and twice at the LB).
            if fd_limit < connections as u64 + 256 {
                report.row(
                    &scenario,
                    &format!("skipped: the open-file limit is {fd_limit}; raise it (ulimit -n)"),
                );
                continue;
            }
            let level = fanout::Level {
                url: url.trim_end_matches('/').to_string(),
                connections,
                per_agent,
                events: args.sse_events,
                trigger_concurrency: args.sse_trigger_concurrency,
                relay_pid: args.relay_pid(),
            };
            match fanout::run(api.clone(), &level).await {
                Ok((line, samples)) => {
                    report.row(&scenario, &line);
                    report.detail(format!("SSE fan-out, {connections} connections"), samples);
                }
                Err(err) => report.row(&scenario, &format!("failed: {err:#}")),
            }
        }
    }
    if args.runs(Scenario::Ceiling) {
        let schema_from = args.database_url.as_deref().unwrap_or_default();
        for &c in &args.concurrency {
            let scenario = format!("ceiling: the lifecycle's SQL by pgbench, {c} clients");
            match ceiling::lifecycles_per_sec(&args.pg, schema_from, c, args.seconds) {
                Ok(tps) => {
                    report.row(&scenario, &format!("{tps:.0} lifecycles/s"));
                    report.figure(format!("ceiling_c{c}"), tps);
                    if let Some((_, rate)) = ours.iter().find(|(level, _)| *level == c) {
                        let ratio = rate / tps;
                        report.row(
                            &format!("ours / ceiling at concurrency {c}"),
                            &format!("{ratio:.2}"),
                        );
                        report.figure(format!("ours_over_ceiling_c{c}"), ratio);
                    }
                }
                Err(err) => report.row(&scenario, &format!("not measured: {err:#}")),
            }
        }
    }
    if args.runs(Scenario::Scale) {
        run_scale(&args, &api, &mut report).await;
    }
    report.finish(args.json.as_deref())?;
    if doubles > 0 {
        bail!("{doubles} tasks were claimed twice");
    }
    Ok(())
}
