//! Where the CPU goes during a scenario: CPU seconds by process group (read
//! from `/proc`, so every process of the machine is counted, the cluster's and
//! everyone else's) and, when PostgreSQL has `pg_stat_statements` loaded,
//! statements and execution time.

use std::{
    collections::{BTreeMap, HashMap},
    fs,
    process::Command,
};

/// CPU time (user + system) of every process with its group, and the whole
/// machine's busy time.
#[derive(Clone, Default)]
pub struct CpuSnapshot {
    processes: HashMap<u32, (&'static str, u64)>,
    machine_busy: u64,
}

/// The group a process belongs to, by its command name (`comm`, at most 15 bytes).
fn group(pid: u32, comm: &str) -> &'static str {
    if pid == std::process::id() {
        return "load generator (pinchwork-bench)";
    }
    match comm {
        c if c.starts_with("pinchwork-api") => "api nodes",
        c if c.starts_with("pinchwork-match") => "matcher",
        c if c.starts_with("pinchwork-deadl") => "deadlines",
        c if c.starts_with("pinchwork-webho") => "webhooks",
        c if c.starts_with("pinchwork-sse") => "sse-relay",
        c if c.starts_with("pinchwork-serve") => "pinchwork-server",
        "postgres" => "PostgreSQL",
        "nats-server" => "NATS",
        "nginx" => "nginx",
        "pgbench" => "pgbench",
        _ => "other processes (not the cluster)",
    }
}

/// Ticks of one process: utime + stime from `/proc/PID/stat`.
fn ticks(stat: &str) -> Option<u64> {
    // The command name is in parentheses and may hold spaces: split after it.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state(0) ... utime(11) stime(12).
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

fn machine_busy() -> u64 {
    let Ok(stat) = fs::read_to_string("/proc/stat") else {
        return 0;
    };
    let Some(cpu) = stat.lines().next() else {
        return 0;
    };
    // user nice system idle iowait irq softirq steal: busy = all but idle and iowait.
    cpu.split_whitespace()
        .skip(1)
        .take(8)
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .filter_map(|(_, v)| v.parse::<u64>().ok())
        .sum()
}

impl CpuSnapshot {
    /// Reads every process under `/proc` now.
    pub fn take() -> Self {
        let mut processes = HashMap::new();
        if let Ok(dir) = fs::read_dir("/proc") {
            for entry in dir.flatten() {
                let Some(pid) = entry
                    .file_name()
                    .to_str()
                    .and_then(|s| s.parse::<u32>().ok())
                else {
                    continue;
                };
                let path = entry.path();
                let (Ok(comm), Ok(stat)) = (
                    fs::read_to_string(path.join("comm")),
                    fs::read_to_string(path.join("stat")),
                ) else {
                    continue;
                };
                if let Some(t) = ticks(&stat) {
                    processes.insert(pid, (group(pid, comm.trim()), t));
                }
            }
        }
        Self {
            processes,
            machine_busy: machine_busy(),
        }
    }

    /// Milliseconds of CPU per unit of work (`units` lifecycles, claims, …)
    /// between `self` (before) and `after`, largest first, with the machine's total.
    /// Processes that exited in between are missing from the groups (their
    /// time since `self` is lost), not from the machine's total.
    pub fn per_unit_ms(&self, after: &CpuSnapshot, units: u64) -> Vec<(String, f64)> {
        let tick_ms = 1000.0 / clock_ticks() as f64;
        let per = |d: u64| d as f64 * tick_ms / units.max(1) as f64;
        // Per process, so that one exiting in between takes nothing away
        // from its group; a process that started in between counts whole.
        let mut groups: BTreeMap<&str, u64> = BTreeMap::new();
        for (pid, (group, t)) in &after.processes {
            let before = match self.processes.get(pid) {
                Some((g, b)) if g == group => *b,
                _ => 0,
            };
            *groups.entry(group).or_default() += t.saturating_sub(before);
        }
        let mut rows: Vec<(String, f64)> = groups
            .into_iter()
            .map(|(g, d)| (g.to_string(), per(d)))
            .filter(|(_, ms)| *ms > 0.0)
            .collect();
        rows.sort_by(|a, b| b.1.total_cmp(&a.1));
        rows.push((
            "whole machine".to_string(),
            per(after.machine_busy.saturating_sub(self.machine_busy)),
        ));
        rows
    }
}

/// Kernel clock ticks per second (`getconf CLK_TCK`, 100 on Linux when unknown).
fn clock_ticks() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

/// Statements executed in one database, from `pg_stat_statements`.
pub struct Statements {
    pub calls: f64,
    pub exec_ms: f64,
    /// The heaviest statements: (query, calls, total ms).
    pub top: Vec<(String, f64, f64)>,
}

/// Clears `pg_stat_statements`; false when the extension is not usable
/// (it must be in `shared_preload_libraries`).
pub fn reset_statements(database_url: &str) -> bool {
    psql(
        database_url,
        "CREATE EXTENSION IF NOT EXISTS pg_stat_statements; SELECT pg_stat_statements_reset()",
    )
    .is_some()
}

/// The statements counted since the last reset in `database_url`'s database.
pub fn read_statements(database_url: &str) -> Option<Statements> {
    let scope = "dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
                 AND query NOT LIKE '%pg_stat_statements%'";
    let total = psql(
        database_url,
        &format!("SELECT sum(calls), sum(total_exec_time) FROM pg_stat_statements WHERE {scope}"),
    )?;
    let mut parts = total.trim().split('|');
    let calls = parts.next()?.parse().ok()?;
    let exec_ms = parts.next()?.parse().ok()?;
    let top = psql(
        database_url,
        &format!(
            "SELECT regexp_replace(left(query, 90), '\\s+', ' ', 'g'), calls, total_exec_time \
             FROM pg_stat_statements WHERE {scope} ORDER BY total_exec_time DESC LIMIT 12"
        ),
    )?
    .lines()
    .filter_map(|l| {
        let mut f = l.rsplitn(3, '|');
        let ms = f.next()?.parse().ok()?;
        let calls = f.next()?.parse().ok()?;
        Some((f.next()?.replace('|', "\\|"), calls, ms))
    })
    .collect();
    Some(Statements {
        calls,
        exec_ms,
        top,
    })
}

/// The outbox table's rows, unpublished rows and size on disk (heap, indexes
/// and TOAST) in bytes.
pub fn outbox_size(database_url: &str) -> Option<OutboxSize> {
    let line = psql(
        database_url,
        "SELECT count(*), count(*) FILTER (WHERE published_at IS NULL), \
                pg_total_relation_size('outbox') FROM outbox",
    )?;
    let mut f = line.trim().split('|').map(str::parse::<i64>);
    Some(OutboxSize {
        rows: f.next()?.ok()?,
        unpublished: f.next()?.ok()?,
        bytes: f.next()?.ok()?,
    })
}

/// One reading of the outbox table.
#[derive(Debug, Clone, Copy)]
pub struct OutboxSize {
    pub rows: i64,
    pub unpublished: i64,
    pub bytes: i64,
}

fn psql(database_url: &str, sql: &str) -> Option<String> {
    let out = Command::new("psql")
        .args([database_url, "-qAtX", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}
