//! Fault-test harness: the real topology, started as processes by
//! `ops/cluster up` (so the tests prove the script), optionally over a NATS
//! server and a PostgreSQL instance of its own that a test may restart; a load
//! generator of retrying clients ([`Load`]), a webhook receiver
//! ([`Receiver`]) and the invariants checked after each fault
//! ([`invariants`]).
//!
//! The binaries must be built first (`cargo build --workspace --bins`, which
//! `ops/test` does); the harness takes them from the target directory the
//! test runs from.
#![forbid(unsafe_code)]

mod deps;
pub mod invariants;
pub mod load;
pub mod sse;

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use sqlx::{PgPool, postgres::PgPoolOptions};

pub use load::{Load, LoadReport};
pub use pinchwork_testkit::hooks::Receiver;

use deps::{PrivateNats, PrivatePostgres};

/// Offsets from `PINCHWORK_PORT` that one cluster uses: the load balancer,
/// two api nodes and one instance of each service (see `ops/cluster`), then
/// a private NATS and PostgreSQL.
const PORT_OFFSETS: [u16; 9] = [0, 101, 102, 201, 301, 401, 501, 601, 602];

/// One line of `ops/cluster status`.
#[derive(Debug, Clone)]
pub struct Process {
    pub name: String,
    pub running: bool,
    pub healthy: bool,
}

/// Choices made before the cluster starts.
#[derive(Debug, Default)]
pub struct ClusterBuilder {
    private_nats: bool,
    private_postgres: bool,
    env: Vec<(String, String)>,
}

impl ClusterBuilder {
    /// Runs the cluster on a nats-server of its own, which the test may restart.
    pub fn private_nats(mut self) -> Self {
        self.private_nats = true;
        self
    }

    /// Runs the cluster on a PostgreSQL instance of its own, which the test may stop.
    pub fn private_postgres(mut self) -> Self {
        self.private_postgres = true;
        self
    }

    /// An extra setting for every process of the cluster.
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Starts the private servers, then the cluster with `ops/cluster up`.
    pub async fn start(self) -> Cluster {
        let dir =
            std::env::temp_dir().join(format!("pinchwork-cluster-{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).expect("create the cluster's directory");
        let port = free_port_block();
        let nats = match self.private_nats {
            true => Some(PrivateNats::start(&dir, port + 601).await),
            false => None,
        };
        let postgres = match self.private_postgres {
            true => Some(PrivatePostgres::create(&dir, port + 602).await),
            false => None,
        };
        let database_url = match &postgres {
            Some(pg) => pg.url("pinchwork"),
            None => pinchwork_testkit::fresh_database().await,
        };
        let nats_url = match &nats {
            Some(nats) => nats.url(),
            None => std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into()),
        };
        let mut env: Vec<(String, String)> = [
            ("PATH", std::env::var("PATH").unwrap_or_default()),
            (
                "HOME",
                std::env::var("HOME").unwrap_or_else(|_| "/root".into()),
            ),
            ("PINCHWORK_RUN_DIR", dir.join("run").display().to_string()),
            ("PINCHWORK_BIN_DIR", bin_dir().display().to_string()),
            ("PINCHWORK_SKIP_BUILD", "1".into()),
            ("PINCHWORK_EXTERNAL_DEPS", "1".into()),
            ("PINCHWORK_PORT", port.to_string()),
            ("PINCHWORK_API_NODES", "2".into()),
            ("DATABASE_URL", database_url.clone()),
            ("NATS_URL", nats_url),
            ("PINCHWORK_NATS_PREFIX", pinchwork_testkit::nats_prefix()),
            ("PINCHWORK_RATE_LIMIT_ENABLED", "false".into()),
            ("PINCHWORK_WEBHOOK_ALLOW_PRIVATE", "true".into()),
            ("PINCHWORK_WELCOME_TASK_ENABLED", "false".into()),
            // Short timers, so recovery after a fault is quick.
            ("PINCHWORK_OUTBOX_SWEEP_MS", "200".into()),
            ("PINCHWORK_DEADLINES_POLL_MS", "200".into()),
            ("PINCHWORK_MATCHER_SWEEP_MS", "500".into()),
            ("PINCHWORK_WEBHOOK_RETRY_BASE_MS", "200".into()),
            ("PINCHWORK_WEBHOOK_MAX_RETRIES", "10".into()),
            ("PINCHWORK_WEBHOOK_TIMEOUT_SECONDS", "2".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        env.extend(self.env);
        let cluster = Cluster {
            pool: PgPoolOptions::new()
                .max_connections(4)
                .acquire_timeout(Duration::from_secs(5))
                .connect_lazy(&database_url)
                .expect("database URL"),
            dir,
            port,
            env,
            nats,
            postgres,
        };
        cluster.ops(&["up"]).await;
        cluster
    }
}

/// A running cluster; `ops/cluster down` when dropped. Its logs are kept
/// (and their tails printed) when the test fails, or when
/// `PINCHWORK_KEEP_CLUSTER` is set.
pub struct Cluster {
    dir: PathBuf,
    port: u16,
    env: Vec<(String, String)>,
    pool: PgPool,
    nats: Option<PrivateNats>,
    postgres: Option<PrivatePostgres>,
}

impl Cluster {
    /// A cluster on the shared PostgreSQL (a fresh database) and NATS (a fresh prefix).
    pub fn builder() -> ClusterBuilder {
        ClusterBuilder::default()
    }

    /// The load balancer.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Base URL of api node `n` (1-based), bypassing the load balancer.
    pub fn api_node_url(&self, n: u16) -> String {
        format!("http://127.0.0.1:{}", self.port + 100 + n)
    }

    /// A built binary of the workspace (the one the cluster runs, or the CLI).
    pub fn binary(&self, name: &str) -> PathBuf {
        bin_dir().join(name)
    }

    /// A scratch directory of this cluster's, removed with it.
    pub fn scratch(&self, name: &str) -> PathBuf {
        let dir = self.dir.join(name);
        std::fs::create_dir_all(&dir).expect("create a scratch directory");
        dir
    }

    /// A pool on the cluster's database.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// `ops/cluster kill NAME`: kill -9.
    pub async fn kill9(&self, name: &str) {
        self.ops(&["kill", name]).await;
    }

    /// `ops/cluster restart NAME`: stop (SIGTERM) if running, start, wait healthy.
    pub async fn restart(&self, name: &str) {
        self.ops(&["restart", name]).await;
    }

    /// `ops/cluster status`, parsed.
    pub async fn status(&self) -> Vec<Process> {
        let out = self.ops(&["status"]).await;
        out.lines()
            .skip(1)
            .filter_map(|line| {
                let cols: Vec<&str> = line.split_whitespace().collect();
                // NAME [PID] STATE LISTEN HEALTH: no pid once a process was never started.
                let (name, state, health) = match cols.as_slice() {
                    [name, _, state, _, health] | [name, state, _, health] => (name, state, health),
                    _ => return None,
                };
                Some(Process {
                    name: name.to_string(),
                    running: *state == "running",
                    healthy: *health == "ok",
                })
            })
            .collect()
    }

    /// The status line of one process.
    pub async fn process(&self, name: &str) -> Process {
        self.status()
            .await
            .into_iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("ops/cluster status lists no {name}"))
    }

    /// Stops the private nats-server (SIGTERM).
    pub async fn stop_nats(&mut self) {
        self.private_nats().stop().await;
    }

    /// Starts the private nats-server again, on the same port and store.
    pub async fn start_nats(&mut self) {
        self.private_nats().restart().await;
    }

    fn private_nats(&mut self) -> &mut PrivateNats {
        self.nats
            .as_mut()
            .expect("needs ClusterBuilder::private_nats")
    }

    /// Stops the private PostgreSQL (fast shutdown: sessions are cut).
    pub async fn stop_postgres(&self) {
        self.private_pg().stop().await;
    }

    /// Starts the private PostgreSQL again.
    pub async fn start_postgres(&self) {
        self.private_pg().start().await;
    }

    fn private_pg(&self) -> &PrivatePostgres {
        self.postgres
            .as_ref()
            .expect("needs ClusterBuilder::private_postgres")
    }

    /// Runs `ops/cluster ARGS` with this cluster's settings; panics on failure.
    async fn ops(&self, args: &[&str]) -> String {
        let out = self
            .ops_command(args)
            .output()
            .await
            .expect("run ops/cluster");
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            // Drop prints the logs' tails.
            panic!(
                "ops/cluster {args:?} failed ({}):\n{stderr}\n(binaries older than the \
                 code? `cargo build --workspace --bins`)",
                out.status
            );
        }
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn ops_command(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(workspace_root().join("ops/cluster"));
        cmd.args(args)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        cmd
    }

    /// Prints the last lines of every log of the run folder (for a failed test).
    fn print_logs(&self) {
        let Ok(entries) = std::fs::read_dir(self.dir.join("run")) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "log") {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                let lines: Vec<&str> = text.lines().collect();
                let tail = lines[lines.len().saturating_sub(15)..].join("\n");
                eprintln!("----- {} (last lines)\n{tail}", path.display());
            }
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let mut down = std::process::Command::new(workspace_root().join("ops/cluster"));
        down.arg("down")
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let _ = down.status();
        if let Some(pg) = self.postgres.take() {
            pg.stop_now();
        }
        drop(self.nats.take());
        let keep = std::env::var_os("PINCHWORK_KEEP_CLUSTER").is_some();
        if std::thread::panicking() {
            self.print_logs();
        }
        if std::thread::panicking() || keep {
            eprintln!("cluster files kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The repository's root directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The directory of the built binaries: the target directory this test
/// executable was built in (`…/debug/deps/faults-…` → `…/debug`).
fn bin_dir() -> PathBuf {
    let from_exe = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.to_path_buf()));
    let dir = from_exe.unwrap_or_else(|| workspace_root().join("target/debug"));
    assert!(
        dir.join("pinchwork-api").is_file(),
        "no pinchwork-api in {}: run `cargo build --workspace --bins` first (ops/test does)",
        dir.display()
    );
    dir
}

/// A base port whose whole block ([`PORT_OFFSETS`]) is free, below the
/// ephemeral range so client sockets never take one.
fn free_port_block() -> u16 {
    for _ in 0..500 {
        let base = 10_000 + 100 * rand::random_range(0..200u16);
        let free = PORT_OFFSETS
            .iter()
            .all(|offset| TcpListener::bind(("0.0.0.0", base + offset)).is_ok());
        if free {
            return base;
        }
    }
    panic!("no free block of ports for a cluster");
}
