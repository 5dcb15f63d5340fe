//! An api node and a webhooks service in-process over a fresh database and
//! NATS prefix, and a real HTTP receiver on 127.0.0.1.
#![allow(dead_code)]

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU16, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode, Uri},
};
use pinchwork_common::Config;
use pinchwork_testkit::{Client, fresh_database, nats_prefix};
use serde_json::Value;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

pub struct Cluster {
    pub api: Client,
    pub pool: PgPool,
    pub db: String,
    pub config: Arc<Config>,
    /// Address of the in-process webhooks service (`start` only).
    pub webhooks: Option<SocketAddr>,
    shutdown: CancellationToken,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Test settings shared by the api node and the services.
pub fn test_config(db: &str, prefix: &str, extra: &[&str]) -> Arc<Config> {
    let mut args = vec![
        "test",
        "--database-url",
        db,
        "--nats-prefix",
        prefix,
        "--listen",
        "127.0.0.1:0",
        "--welcome-task-enabled",
        "false",
        "--rate-limit-enabled",
        "false",
        "--webhook-allow-private",
        "true",
        "--webhook-retry-base-ms",
        "100",
        "--outbox-sweep-ms",
        "200",
        "--db-max-connections",
        "10",
    ];
    args.extend_from_slice(extra);
    Arc::new(Config::from_args(args).expect("test config"))
}

impl Cluster {
    /// Starts an api node and the webhooks service.
    pub async fn start(extra: &[&str]) -> Self {
        let mut cluster = Self::start_api_only(extra).await;
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(pinchwork_webhooks::run(
            cluster.config.clone(),
            cluster.shutdown.clone(),
            move |a| {
                let _ = tx.send(a);
            },
        ));
        cluster.webhooks = Some(rx.await.expect("webhooks failed to start"));
        cluster
    }

    /// Starts only the api node (it runs the outbox publisher).
    pub async fn start_api_only(extra: &[&str]) -> Self {
        let db = fresh_database().await;
        let config = test_config(&db, &nats_prefix(), extra);
        let shutdown = CancellationToken::new();
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(pinchwork_api::run(
            config.clone(),
            shutdown.clone(),
            move |a| {
                let _ = tx.send(a);
            },
        ));
        let addr = rx.await.expect("api failed to start");
        Self {
            api: Client::new(format!("http://{addr}")),
            pool: PgPool::connect(&db).await.expect("connect"),
            db,
            config,
            webhooks: None,
            shutdown,
        }
    }
}

/// One POST the receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    pub raw: Vec<u8>,
    pub body: Value,
    pub signature: Option<String>,
    pub event_id: Option<String>,
    /// The W3C `traceparent` header, when sent.
    pub traceparent: Option<String>,
    pub status: u16,
    pub at: Instant,
}

#[derive(Clone)]
struct Inner {
    got: Arc<Mutex<Vec<Received>>>,
    status: Arc<AtomicU16>,
}

/// A webhook receiver answering a settable status.
pub struct Receiver {
    addr: SocketAddr,
    inner: Inner,
}

impl Receiver {
    pub async fn start(status: u16) -> Self {
        let inner = Inner {
            got: Arc::default(),
            status: Arc::new(AtomicU16::new(status)),
        };
        let app = Router::new().fallback(record).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { addr, inner }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{path}", self.addr)
    }

    pub fn set_status(&self, status: u16) {
        self.inner.status.store(status, Ordering::SeqCst);
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.got.lock().expect("lock").clone()
    }
}

async fn record(
    State(inner): State<Inner>,
    uri: Uri,
    headers: HeaderMap,
    raw: Bytes,
) -> StatusCode {
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    };
    let status = inner.status.load(Ordering::SeqCst);
    inner.got.lock().expect("lock").push(Received {
        path: uri.path().to_string(),
        body: serde_json::from_slice(&raw).unwrap_or(Value::Null),
        raw: raw.to_vec(),
        signature: header("x-pinchwork-signature"),
        event_id: header("x-pinchwork-event-id"),
        traceparent: header("traceparent"),
        status,
        at: Instant::now(),
    });
    StatusCode::from_u16(status).unwrap_or(StatusCode::OK)
}

/// Polls `check` every 50 ms until it holds; panics after `limit`.
pub async fn eventually(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < limit, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Starts the real `pinchwork-webhooks` binary on `cluster`'s database and
/// prefix, listening on `listen`, with fast retries; killed when dropped.
pub fn spawn_binary(cluster: &Cluster, listen: &str) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_pinchwork-webhooks"))
        .env("DATABASE_URL", &cluster.db)
        .env("PINCHWORK_NATS_PREFIX", &cluster.config.nats_prefix)
        .env("PINCHWORK_LISTEN", listen)
        .env("PINCHWORK_WEBHOOK_ALLOW_PRIVATE", "true")
        .env("PINCHWORK_WEBHOOK_MAX_RETRIES", "20")
        .env("PINCHWORK_WEBHOOK_RETRY_BASE_MS", "100")
        .env("PINCHWORK_WEBHOOK_TIMEOUT_SECONDS", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start pinchwork-webhooks")
}
