//! `TestApp` (a test cluster: an api node on port 0 over a fresh database,
//! optionally with the real SSE relay behind a front that routes like the
//! load balancer) and `Cli` (the real binary with its own config directory).

use std::{
    convert::Infallible,
    ops::Deref,
    path::{Path, PathBuf},
    process::{Output, Stdio},
    sync::Arc,
    time::Duration,
};

use axum::{
    Router,
    body::{Body, Bytes},
    extract::{Request, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use futures::StreamExt;
use pinchwork_testkit::TestCluster;
use serde_json::Value;
use tokio::io::AsyncWriteExt;

pub use pinchwork_testkit::ADMIN_KEY;

/// How long a test waits for the cluster or a started run before failing
/// (longer than any `--wait` a test passes).
const PATIENCE: Duration = Duration::from_secs(90);

pub struct TestApp {
    pub cluster: TestCluster,
    /// What the CLI is pointed at: the api node, or the front with a relay.
    url: String,
    streams: Arc<Streams>,
}

impl Deref for TestApp {
    type Target = TestCluster;
    fn deref(&self) -> &TestCluster {
        &self.cluster
    }
}

impl TestApp {
    /// An api node with welcome tasks and rate limits off, on its own NATS
    /// prefix so that parallel tests do not see each other's events.
    pub async fn spawn() -> Self {
        let cluster = TestCluster::spawn().await;
        Self {
            url: cluster.client.base.clone(),
            cluster,
            streams: Arc::default(),
        }
    }

    /// The api node and the real SSE relay over the same database and NATS
    /// prefix, behind a [`Front`] that the CLI is pointed at. With `cut_after`,
    /// the front drops the first event stream in the middle of the event that
    /// follows that many complete ones.
    pub async fn with_relay(cut_after: Option<usize>) -> Self {
        let cluster = TestCluster::builder().sse_relay().start().await;
        let streams = Arc::<Streams>::default();
        let front = Front {
            http: cluster.client.http.clone(),
            api: cluster.client.base.clone(),
            relay: cluster.sse_relay.clone().expect("the relay runs"),
            streams: streams.clone(),
            cut_after,
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the front");
        let url = format!("http://{}", listener.local_addr().expect("front address"));
        let router = Router::new().fallback(forward).with_state(front);
        let shutdown = cluster.shutdown_token();
        tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(shutdown.cancelled_owned())
                .await
        });
        Self {
            cluster,
            url,
            streams,
        }
    }

    /// A CLI pointed at this cluster (through `PINCHWORK_URL`).
    pub fn cli(&self) -> Cli {
        Cli::new(&self.url)
    }

    /// Waits until the front has answered `n` event-stream requests and
    /// returns them (for a 200 the relay has registered the stream by then).
    pub async fn streams(&self, n: usize) -> Vec<Stream> {
        let mut seen = self.streams.subscribe();
        let streams = tokio::time::timeout(PATIENCE, seen.wait_for(|s| s.len() >= n))
            .await
            .unwrap_or_else(|_| panic!("fewer than {n} event streams were requested"))
            .expect("the front is gone");
        streams.clone()
    }
}

/// One `GET /v1/events` as the front saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    /// The relay's status.
    pub status: u16,
    /// The `Last-Event-ID` the client sent.
    pub last_event_id: Option<String>,
}

/// The event streams requested through the front, in order.
type Streams = tokio::sync::watch::Sender<Vec<Stream>>;

/// The load balancer of the deployment (ops/compose/nginx.conf) in a test:
/// `/v1/events` to the SSE relay, everything else to the api node.
#[derive(Clone)]
struct Front {
    http: reqwest::Client,
    api: String,
    relay: String,
    streams: Arc<Streams>,
    cut_after: Option<usize>,
}

async fn forward(State(front): State<Front>, req: Request) -> Response {
    let events = req.uri().path().starts_with("/v1/events");
    let target = format!(
        "{}{}",
        if events { &front.relay } else { &front.api },
        req.uri().path_and_query().map_or("/", |p| p.as_str())
    );
    let (mut parts, body) = req.into_parts();
    parts.headers.remove(header::HOST);
    let last_event_id = parts
        .headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let Ok(body) = axum::body::to_bytes(body, usize::MAX).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let sent = front
        .http
        .request(parts.method, target)
        .headers(parts.headers)
        .body(body)
        .send()
        .await;
    let upstream = match sent {
        Ok(upstream) => upstream,
        Err(e) => return (StatusCode::BAD_GATEWAY, format!("upstream: {e}")).into_response(),
    };
    let status = upstream.status();
    let mut headers = upstream.headers().clone();
    headers.remove(header::TRANSFER_ENCODING);
    headers.remove(header::CONNECTION);
    let first = events && {
        let mut first = false;
        front.streams.send_modify(|s| {
            s.push(Stream {
                status: status.as_u16(),
                last_event_id,
            });
            first = s.len() == 1;
        });
        first
    };
    let body = match front.cut_after {
        Some(events) if first && status.is_success() => cut_mid_event(upstream, events),
        _ => Body::from_stream(upstream.bytes_stream()),
    };
    (status, headers, body).into_response()
}

/// The relay's stream up to `events` complete events and the first half of
/// the next one, then the end: a connection dropped in the middle of an event.
fn cut_mid_event(upstream: reqwest::Response, events: usize) -> Body {
    let (tx, rx) = futures::channel::mpsc::unbounded::<Result<Bytes, Infallible>>();
    tokio::spawn(async move {
        let mut body = upstream.bytes_stream();
        let mut pending = Vec::new();
        let mut passed = 0;
        while let Some(Ok(chunk)) = body.next().await {
            pending.extend_from_slice(&chunk);
            while let Some(end) = pending.windows(2).position(|w| w == b"\n\n") {
                let frame: Vec<u8> = pending.drain(..end + 2).collect();
                let is_event = frame.split(|b| *b == b'\n').any(|l| l.starts_with(b"id:"));
                if is_event && passed == events {
                    let _ =
                        tx.unbounded_send(Ok(Bytes::copy_from_slice(&frame[..frame.len() / 2])));
                    return;
                }
                passed += usize::from(is_event);
                if tx.unbounded_send(Ok(Bytes::from(frame))).is_err() {
                    return;
                }
            }
        }
    });
    Body::from_stream(rx)
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

    /// Waits for a started run; a run still going after [`PATIENCE`] fails
    /// the test (and is killed) instead of hanging it.
    pub async fn finish(child: tokio::process::Child) -> Run {
        let out = tokio::time::timeout(PATIENCE, child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("pinchwork still running after {PATIENCE:?}"))
            .expect("run pinchwork");
        Run::from(out)
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

    /// `--json tasks create` as `profile`; returns the task id.
    pub async fn create_task(
        &self,
        profile: &str,
        need: &str,
        credits: &str,
        tags: &str,
    ) -> String {
        let body = self
            .run(&[
                "--profile",
                profile,
                "--json",
                "tasks",
                "create",
                need,
                "--credits",
                credits,
                "--tags",
                tags,
            ])
            .await
            .json();
        body["task_id"].as_str().expect("task_id").to_string()
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
