//! The database's own write ceiling: pgbench's built-in simple-update script
//! on a scratch database of the same PostgreSQL server.

use std::process::Command;

use anyhow::{Context, Result, bail};

const SCRATCH: &str = "pinchwork_pgbench";

/// Transactions per second of `clients` pgbench clients over `seconds`.
pub fn pgbench_tps(pg: &str, clients: usize, seconds: u64) -> Result<f64> {
    let admin = format!("{pg}/postgres");
    let db = format!("{pg}/{SCRATCH}");
    let drop_scratch = format!("DROP DATABASE IF EXISTS {SCRATCH}");
    let _ = run(&["psql", &admin, "-qc", &drop_scratch]);
    run(&["psql", &admin, "-qc", &format!("CREATE DATABASE {SCRATCH}")])?;
    run(&["pgbench", "-i", "-q", "-s", "10", &db])?;
    let (clients, secs) = (clients.to_string(), seconds.to_string());
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
    ]);
    let _ = run(&["psql", &admin, "-qc", &drop_scratch]);
    out?.lines()
        .find(|l| l.starts_with("tps ="))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|v| v.parse().ok())
        .context("pgbench printed no tps")
}

fn run(args: &[&str]) -> Result<String> {
    let out = Command::new(args[0])
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
}
