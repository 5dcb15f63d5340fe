//! `TestApp` (an api node on port 0 over a fresh database) and `Cli` (the real
//! binary with its own config directory).

use std::{
    path::{Path, PathBuf},
    process::{Output, Stdio},
    sync::Arc,
};

use pinchwork_common::Config;
use pinchwork_testkit::{Client, assert_conservation, fresh_database};
use serde_json::Value;
use sqlx::PgPool;
use tokio::io::AsyncWriteExt;
use tokio_util::sync::CancellationToken;

pub const ADMIN_KEY: &str = "test-admin-key";

pub struct TestApp {
    pub client: Client,
    pub pool: PgPool,
    shutdown: CancellationToken,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl TestApp {
    /// An api node with welcome tasks and rate limits off, on its own NATS
    /// prefix so that parallel tests do not see each other's events.
    pub async fn spawn() -> Self {
        let url = fresh_database().await;
        let prefix = pinchwork_testkit::nats_prefix();
        let args = vec![
            "test",
            "--nats-prefix",
            &prefix,
            "--database-url",
            &url,
            "--listen",
            "127.0.0.1:0",
            "--admin-key",
            ADMIN_KEY,
            "--welcome-task-enabled",
            "false",
            "--rate-limit-enabled",
            "false",
            "--db-max-connections",
            "10",
            "--outbox-sweep-ms",
            "200",
            "--sse-keepalive-seconds",
            "1",
        ];
        let config = Arc::new(Config::from_args(args).expect("test config"));
        let shutdown = CancellationToken::new();
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(pinchwork_api::run(config, shutdown.clone(), move |addr| {
            let _ = tx.send(addr);
        }));
        let addr = rx.await.expect("api node failed to start");
        let pool = PgPool::connect(&url).await.expect("connect test database");
        Self {
            client: Client::new(format!("http://{addr}")),
            pool,
            shutdown,
        }
    }

    /// A CLI pointed at this node (through `PINCHWORK_URL`).
    pub fn cli(&self) -> Cli {
        Cli::new(&self.client.base)
    }

    /// Asserts the money invariants.
    pub async fn assert_conservation(&self) {
        assert_conservation(&self.pool).await;
    }
}

/// What one CLI run produced.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(out: Output) -> Self {
        Self {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Panics unless the run exited 0; returns stdout.
    #[track_caller]
    pub fn ok(self) -> String {
        assert_eq!(self.code, 0, "command failed: {self:?}");
        assert!(self.stderr.is_empty(), "unexpected stderr: {}", self.stderr);
        self.stdout
    }

    /// stdout parsed as JSON (for `--json` runs).
    #[track_caller]
    pub fn json(self) -> Value {
        let out = self.ok();
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
    }

    /// Panics unless the run failed with `code` and nothing on stdout; returns stderr.
    #[track_caller]
    pub fn fails(self, code: i32) -> String {
        assert_eq!(self.code, code, "unexpected exit code: {self:?}");
        assert!(self.stdout.is_empty(), "stdout on failure: {}", self.stdout);
        assert!(
            !self.stderr.contains("panicked") && !self.stderr.contains("RUST_BACKTRACE"),
            "a panic instead of a message: {}",
            self.stderr
        );
        self.stderr
    }
}

/// The `pinchwork` binary with a private config directory and a clean environment.
pub struct Cli {
    pub url: String,
    pub dir: PathBuf,
    env: Vec<(String, String)>,
}

impl Drop for Cli {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Cli {
    /// A CLI whose PINCHWORK_URL is `url` (unset when empty).
    pub fn new(url: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("pinchwork-cli-{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        Self {
            url: url.to_string(),
            dir,
            env: Vec::new(),
        }
    }

    /// Sets an environment variable for later runs.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// The config directory (where credentials.json goes).
    pub fn config_dir(&self) -> &Path {
        &self.dir
    }

    /// Runs `pinchwork ARGS`.
    pub async fn run(&self, args: &[&str]) -> Run {
        self.run_with_stdin(args, None).await
    }

    /// Starts `pinchwork ARGS` in the background; `finish` collects it.
    pub fn start(&self, args: &[&str]) -> tokio::process::Child {
        self.command(args, false).spawn().expect("spawn pinchwork")
    }

    /// Waits for a started run.
    pub async fn finish(child: tokio::process::Child) -> Run {
        Run::from(child.wait_with_output().await.expect("run pinchwork"))
    }

    fn command(&self, args: &[&str], stdin: bool) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_pinchwork"));
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", &self.dir)
            .env("PINCHWORK_CONFIG_DIR", &self.dir)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if !self.url.is_empty() {
            cmd.env("PINCHWORK_URL", &self.url);
        }
        cmd
    }

    /// Runs `pinchwork ARGS` feeding `stdin`.
    pub async fn run_with_stdin(&self, args: &[&str], stdin: Option<&str>) -> Run {
        let mut child = self
            .command(args, stdin.is_some())
            .spawn()
            .expect("spawn pinchwork");
        if let Some(text) = stdin {
            let mut pipe = child.stdin.take().expect("stdin pipe");
            pipe.write_all(text.as_bytes()).await.expect("write stdin");
        }
        Run::from(child.wait_with_output().await.expect("run pinchwork"))
    }

    /// Registers `name` into `profile` and returns (agent id, api key).
    pub async fn register(&self, profile: &str, name: &str) -> (String, String) {
        let body = self
            .run(&["--profile", profile, "--json", "register", "--name", name])
            .await
            .json();
        (
            body["agent_id"].as_str().expect("agent_id").to_string(),
            body["api_key"].as_str().expect("api_key").to_string(),
        )
    }
}
