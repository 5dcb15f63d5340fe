//! [`TestCluster`]: any set of api nodes and services started in-process on
//! port 0 over a fresh database and a fresh NATS prefix, stopped through one
//! cancellation token when the cluster is dropped or stopped.

use std::{
    net::SocketAddr,
    ops::Deref,
    sync::{Arc, Mutex},
};

use pinchwork_common::Config;
use sqlx::PgPool;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::{Client, assert_conservation, fresh_database, nats_prefix, test_config};

/// The admin key of every test cluster.
pub const ADMIN_KEY: &str = "test-admin-key-0123";

/// Settings every test cluster starts with; [`Builder::config`] flags win.
/// Welcome tasks and rate limits are off (tests that need them turn them
/// on), and the timers that pace background work are short.
const TEST_FLAGS: &[&str] = &[
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
    "--webhook-retry-base-ms",
    "100",
    "--deadlines-poll-ms",
    "25",
];

/// One kind of process of the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Api,
    SseRelay,
    Webhooks,
    Matcher,
    Deadlines,
}

type Running = JoinHandle<anyhow::Result<()>>;

impl Service {
    /// The service this kind of process runs.
    fn service(self) -> pinchwork_common::service::Service {
        match self {
            Self::Api => pinchwork_api::SERVICE,
            Self::SseRelay => pinchwork_sse_relay::SERVICE,
            Self::Webhooks => pinchwork_webhooks::SERVICE,
            Self::Matcher => pinchwork_matcher::SERVICE,
            Self::Deadlines => pinchwork_deadlines::SERVICE,
        }
    }

    /// Spawns one instance on `config` until `shutdown`; returns its task
    /// once it listens, and the address it listens on.
    async fn spawn(
        self,
        config: Arc<Config>,
        shutdown: CancellationToken,
    ) -> (Running, SocketAddr) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let on_listen = move |addr| {
            let _ = tx.send(addr);
        };
        let task = tokio::spawn(self.service().run(config, shutdown, on_listen));
        match rx.await {
            Ok(addr) => (task, addr),
            Err(_) => panic!("{self:?} failed to start: {:?}", task.await),
        }
    }
}

/// What [`TestCluster::builder`] starts.
#[derive(Debug, Clone)]
pub struct Builder {
    api_nodes: usize,
    services: Vec<Service>,
    flags: Vec<String>,
}

impl Builder {
    /// `n` api nodes (default 1, at least 1: the first one is the client
    /// tests talk to, and api nodes publish the outbox).
    pub fn api_nodes(mut self, n: usize) -> Self {
        assert!(n >= 1, "a test cluster has at least one api node");
        self.api_nodes = n;
        self
    }

    /// An SSE relay ([`TestCluster::sse_relay`]).
    pub fn sse_relay(self) -> Self {
        self.with(Service::SseRelay)
    }

    /// A webhooks service ([`TestCluster::webhooks`]), with
    /// [`Builder::private_webhooks`].
    pub fn webhooks(self) -> Self {
        self.with(Service::Webhooks).private_webhooks()
    }

    /// Webhook URLs on 127.0.0.1 allowed, so agents can point at a test
    /// receiver ([`crate::hooks::Receiver`]).
    pub fn private_webhooks(self) -> Self {
        self.config(&["--webhook-allow-private", "true"])
    }

    /// A matcher ([`TestCluster::matcher`]).
    pub fn matcher(self) -> Self {
        self.with(Service::Matcher)
    }

    /// A deadlines service ([`TestCluster::deadlines`]).
    pub fn deadlines(self) -> Self {
        self.with(Service::Deadlines)
    }

    /// Extra `--flag value` settings for every process (they win over the
    /// test defaults and over earlier calls).
    pub fn config(mut self, flags: &[&str]) -> Self {
        self.flags.extend(flags.iter().map(|f| f.to_string()));
        self
    }

    fn with(mut self, service: Service) -> Self {
        self.services.push(service);
        self
    }

    /// Creates the database and prefix, then starts the api nodes and the
    /// services, each once it listens.
    pub async fn start(self) -> TestCluster {
        let db_url = fresh_database().await;
        let flags: Vec<&str> = TEST_FLAGS
            .iter()
            .copied()
            .chain(self.flags.iter().map(String::as_str))
            .collect();
        let config = test_config(&db_url, &nats_prefix(), &flags);
        let pool = PgPool::connect(&db_url)
            .await
            .expect("connect the test database");
        let shutdown = CancellationToken::new();
        let (first, addr) = Service::Api.spawn(config.clone(), shutdown.clone()).await;
        let client = Client::new(format!("http://{addr}"));
        let mut cluster = TestCluster {
            api_nodes: vec![client.clone()],
            client,
            sse_relay: None,
            webhooks: None,
            matcher: None,
            deadlines: None,
            pool,
            db_url,
            config,
            shutdown,
            running: Mutex::new(vec![first]),
        };
        for _ in 1..self.api_nodes {
            let node = cluster.start_api_node().await;
            cluster.api_nodes.push(node);
        }
        for service in self.services {
            let base = cluster.start_service(service).await;
            let slot = match service {
                Service::Api => continue,
                Service::SseRelay => &mut cluster.sse_relay,
                Service::Webhooks => &mut cluster.webhooks,
                Service::Matcher => &mut cluster.matcher,
                Service::Deadlines => &mut cluster.deadlines,
            };
            *slot = Some(base);
        }
        cluster
    }
}

/// A running test cluster. Derefs to the first api node's client.
pub struct TestCluster {
    /// A client of the first api node.
    pub client: Client,
    /// A client of each api node, in start order (the first is `client`).
    pub api_nodes: Vec<Client>,
    /// Base URL of the SSE relay, when started.
    pub sse_relay: Option<String>,
    /// Base URL of the webhooks service's ops routes, when started.
    pub webhooks: Option<String>,
    /// Base URL of the matcher's ops routes, when started.
    pub matcher: Option<String>,
    /// Base URL of the deadlines service's ops routes, when started.
    pub deadlines: Option<String>,
    /// A pool on the cluster's database, for assertions.
    pub pool: PgPool,
    pub db_url: String,
    /// The configuration every process of the cluster runs with.
    pub config: Arc<Config>,
    shutdown: CancellationToken,
    running: Mutex<Vec<Running>>,
}

impl Deref for TestCluster {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl TestCluster {
    /// Chooses what to start: one api node and nothing else unless told.
    pub fn builder() -> Builder {
        Builder {
            api_nodes: 1,
            services: Vec::new(),
            flags: Vec::new(),
        }
    }

    /// One api node with the test defaults: `builder().start()`.
    pub async fn spawn() -> Self {
        Self::builder().start().await
    }

    /// One api node with extra `--flag value` settings:
    /// `builder().config(flags).start()`.
    pub async fn spawn_with(flags: &[&str]) -> Self {
        Self::builder().config(flags).start().await
    }

    /// The token that stops the cluster: test-side servers (a proxy in
    /// front of the cluster, say) stop with it.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Starts one more instance of `service` on the cluster's database and
    /// prefix (a late matcher, a peer api node); returns its base URL.
    pub async fn start_service(&self, service: Service) -> String {
        let (task, addr) = service
            .spawn(self.config.clone(), self.shutdown.clone())
            .await;
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(task);
        format!("http://{addr}")
    }

    /// Starts one more api node; returns its client.
    pub async fn start_api_node(&self) -> Client {
        Client::new(self.start_service(Service::Api).await)
    }

    /// Cancels every process and waits for each to return; the first error
    /// (or panic) of any of them is the result.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        let running = std::mem::take(&mut *self.running.lock().unwrap_or_else(|e| e.into_inner()));
        let mut result = Ok(());
        for task in running {
            let outcome = task.await.map_err(anyhow::Error::from).and_then(|r| r);
            if result.is_ok() {
                result = outcome;
            }
        }
        result
    }

    /// A command running the workspace binary at `path` (an
    /// `env!("CARGO_BIN_EXE_…")`) on the cluster's database, NATS server and
    /// prefix, its output discarded, killed when dropped.
    pub fn command(&self, path: &str) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(path);
        command
            .env("DATABASE_URL", &self.db_url)
            .env("NATS_URL", &self.config.nats_url)
            .env("PINCHWORK_NATS_PREFIX", &self.config.nats_prefix)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true);
        command
    }

    /// Asserts the money invariants over the cluster's database.
    pub async fn assert_conservation(&self) {
        assert_conservation(&self.pool).await;
    }
}
