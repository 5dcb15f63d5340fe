//! The database's own ceiling for the lifecycle: `ops/bench/lifecycle.sql`
//! (the statements of create → pickup → deliver → approve) run by pgbench on
//! a scratch database of the same PostgreSQL server, with the cluster's schema.

use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

/// The scratch database is named after the cluster's (`<name>_ceiling`), so
/// benches of clusters with databases of their own on one server do not drop
/// each other's scratch database.
const SCRATCH_SUFFIX: &str = "_ceiling";
const SCRIPT: &str = include_str!("../lifecycle.sql");

/// Lifecycles per second of `clients` pgbench clients over `seconds`.
/// `schema_from` is the cluster's database URL, whose schema is copied.
pub fn lifecycles_per_sec(
    pg: &str,
    schema_from: &str,
    clients: usize,
    seconds: u64,
) -> Result<f64> {
    if schema_from.is_empty() {
        bail!("needs the cluster's database (--database-url or DATABASE_URL) to copy its schema");
    }
    let admin = format!("{pg}/postgres");
    let cluster_db = schema_from.rsplit('/').next().unwrap_or_default();
    let cluster_db = cluster_db.split('?').next().unwrap_or_default();
    if cluster_db.is_empty()
        || !cluster_db
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        bail!("the cluster's database name {cluster_db:?} is not a plain identifier");
    }
    let scratch = format!("{cluster_db}{SCRATCH_SUFFIX}");
    let db = format!("{pg}/{scratch}");
    let drop_scratch = format!("DROP DATABASE IF EXISTS {scratch}");
    let _ = run(&["psql", &admin, "-qc", &drop_scratch], None);
    run(
        &["psql", &admin, "-qc", &format!("CREATE DATABASE {scratch}")],
        None,
    )?;
    let result = measure(&db, schema_from, clients, seconds);
    let _ = run(&["psql", &admin, "-qc", &drop_scratch], None);
    result
}

fn measure(db: &str, schema_from: &str, clients: usize, seconds: u64) -> Result<f64> {
    let schema = run(
        &["pg_dump", "--schema-only", "--no-owner", schema_from],
        None,
    )?;
    run(&["psql", db, "-qX", "-v", "ON_ERROR_STOP=1"], Some(&schema))?;
    let seed = format!(
        "INSERT INTO agents (id, name, key_hash, credits)
         SELECT role || '-' || i, 'bench', sha256(('bench-key-' || role || '-' || i)::bytea), 1000000000
         FROM generate_series(0, {}) i, unnest(ARRAY['bp', 'bw']) role",
        clients.saturating_sub(1)
    );
    run(
        &["psql", db, "-qX", "-v", "ON_ERROR_STOP=1", "-c", &seed],
        None,
    )?;
    let script =
        std::env::temp_dir().join(format!("pinchwork-lifecycle-{}.sql", std::process::id()));
    std::fs::write(&script, SCRIPT)?;
    let (c, j, t) = (
        clients.to_string(),
        clients.min(2).to_string(),
        seconds.to_string(),
    );
    let script_path = script.to_string_lossy();
    let out = run(
        &[
            "pgbench",
            "-n",
            "-M",
            "prepared",
            "-f",
            &script_path,
            "-c",
            &c,
            "-j",
            &j,
            "-T",
            &t,
            db,
        ],
        None,
    );
    let _ = std::fs::remove_file(&script);
    let out = out?;
    if let Some(failed) = out
        .lines()
        .find(|l| l.contains("failed transactions") && !l.contains(": 0 "))
    {
        bail!("pgbench: {failed}");
    }
    out.lines()
        .find(|l| l.starts_with("tps ="))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|v| v.parse().ok())
        .context("pgbench printed no tps")
}

fn run(args: &[&str], stdin: Option<&str>) -> Result<String> {
    let mut child = Command::new(args[0])
        .args(&args[1..])
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("running {}", args[0]))?;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        use std::io::Write;
        pipe.write_all(input.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "{} failed: {}",
            args[0],
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
