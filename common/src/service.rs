//! The one service runtime: everything a Pinchwork process does around its
//! own work. [`run`] installs the metrics recorder, opens the database pool
//! and refuses a database `pinchwork-migrate` has not brought up to date,
//! connects to NATS when a service needs it, binds, serves the ops routes
//! (`/health`, `/ready`, `/metrics`) next to the services' own routes, and on
//! shutdown stops accepting, lets in-flight requests finish, then waits for
//! every background task before it closes the pool.
//!
//! A service says only what is its own: a [`Service`] names it and turns the
//! shared [`Runtime`] into a [`Component`] (routes and background tasks).
//! Several services can run in one process on one port: [`run`] merges their
//! routes (which must not overlap) and shares one pool, one NATS connection
//! and one outbox wake-up between them.

use std::{
    future::Future,
    net::SocketAddr,
    sync::{Arc, atomic::AtomicBool},
};

use anyhow::Context;
use axum::Router;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::{
    Config,
    bus::Bus,
    db,
    market::Market,
    metrics::{self, NatsProbe},
    shutdown, telemetry,
};

/// One service of a process: `Service::new("matcher", start).with_nats()`.
#[derive(Clone, Copy)]
pub struct Service {
    name: &'static str,
    uses_nats: bool,
    default_port: Option<u16>,
    start: fn(&Runtime) -> anyhow::Result<Component>,
}

impl Service {
    /// A service named `name` (for logs) that needs only the database;
    /// `start` runs once, inside the runtime, and returns its share.
    pub const fn new(name: &'static str, start: fn(&Runtime) -> anyhow::Result<Component>) -> Self {
        Self {
            name,
            uses_nats: false,
            default_port: None,
            start,
        }
    }

    /// The service talks to NATS: the runtime connects before starting it.
    pub const fn with_nats(self) -> Self {
        Self {
            uses_nats: true,
            ..self
        }
    }

    /// The port used when the service runs alone and neither `PINCHWORK_LISTEN`
    /// nor another address is set (otherwise `PINCHWORK_PORT`).
    pub const fn with_default_port(self, port: u16) -> Self {
        Self {
            default_port: Some(port),
            ..self
        }
    }

    /// Its name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Runs this service alone: [`run`] with one service.
    pub async fn run(
        self,
        config: Arc<Config>,
        shutdown: CancellationToken,
        on_listen: impl FnOnce(SocketAddr),
    ) -> anyhow::Result<()> {
        run(&[self], config, shutdown, on_listen).await
    }
}

/// What the runtime hands every service: shared connections and the shutdown signal.
pub struct Runtime {
    /// The marketplace over this process's pool and configuration (one outbox
    /// wake-up for the whole process).
    pub market: Market,
    /// Cancelled when the process shuts down; background tasks stop on it.
    pub shutdown: CancellationToken,
    bus: Option<Bus>,
}

impl Runtime {
    /// The process's configuration.
    pub fn config(&self) -> &Arc<Config> {
        &self.market.config
    }

    /// The process's database pool.
    pub fn pool(&self) -> &sqlx::PgPool {
        &self.market.pool
    }

    /// The process's NATS connection; an error when no service declared `uses_nats`.
    pub fn bus(&self) -> anyhow::Result<Bus> {
        self.bus
            .clone()
            .context("this process was started without NATS (set `uses_nats` on the service)")
    }
}

/// A service's share of the process: routes served on the process's port and
/// background tasks the runtime waits for at shutdown.
#[derive(Default)]
pub struct Component {
    router: Router,
    tasks: Vec<JoinHandle<()>>,
    attached: Vec<Arc<AtomicBool>>,
}

impl Component {
    /// A component with no routes and no tasks yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds routes (the ops routes are the runtime's: do not add them here).
    pub fn routes(mut self, router: Router) -> Self {
        self.router = self.router.merge(router);
        self
    }

    /// Spawns a background task; it must return soon after `shutdown` is cancelled.
    pub fn task(mut self, work: impl Future<Output = ()> + Send + 'static) -> Self {
        self.tasks.push(tokio::spawn(work));
        self
    }

    /// `/ready` reports NATS unreachable while `flag` is false (e.g. a durable
    /// consumer not attached yet).
    pub fn ready_when(mut self, flag: Arc<AtomicBool>) -> Self {
        self.attached.push(flag);
        self
    }
}

/// Reads the configuration, sets up telemetry, cancels on SIGINT/SIGTERM and
/// runs `services`: the whole `main` of a Pinchwork binary.
pub async fn main(binary: &'static str, services: &[Service]) -> anyhow::Result<()> {
    main_with(binary, Config::load(), services).await
}

/// [`main`] with a configuration the binary read itself (with flags of its
/// own around it; see [`Config::checked`]).
pub async fn main_with(
    binary: &'static str,
    config: Config,
    services: &[Service],
) -> anyhow::Result<()> {
    let config = Arc::new(config);
    let _telemetry = telemetry::init(&config, binary);
    tracing::info!(?config, "starting {binary}");
    let stop = CancellationToken::new();
    tokio::spawn(shutdown::on_signal(stop.clone()));
    run(services, config, stop, |_| {}).await
}

/// Runs `services` in this process until `shutdown` is cancelled, then drains
/// and returns. Calls `on_listen` with the bound address once serving.
pub async fn run(
    services: &[Service],
    config: Arc<Config>,
    shutdown: CancellationToken,
    on_listen: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    metrics::install();
    let pool = db::connect(&config).await?;
    db::check_migrated(&pool, &config).await?;
    let bus = match services.iter().any(|s| s.uses_nats) {
        true => Some(Bus::connect(&config).await?),
        false => None,
    };
    let listener = tokio::net::TcpListener::bind(listen_addr(services, &config))
        .await
        .with_context(|| format!("binding {}", listen_addr(services, &config)))?;
    let addr = listener.local_addr()?;
    // Stopped with the process, and also when a service fails to start, so
    // the tasks of the services started before it end too.
    let stop = shutdown.child_token();
    let runtime = Runtime {
        market: Market::new(pool.clone(), config),
        shutdown: stop.clone(),
        bus,
    };
    let mut started = Component::new();
    for service in services {
        match (service.start)(&runtime) {
            Ok(part) => started = started.merge(part),
            Err(err) => {
                stop.cancel();
                started.join().await;
                return Err(err.context(format!("starting {}", service.name)));
            }
        }
    }
    let names: Vec<&str> = services.iter().map(|s| s.name).collect();
    tracing::info!(%addr, services = ?names, "listening");
    on_listen(addr);

    let probe = nats_probe(runtime.bus.as_ref(), &started.attached);
    let app = std::mem::take(&mut started.router)
        .merge(metrics::routes(pool.clone(), probe))
        // Routes without a fallback of their own (the ops routes) answer a
        // wrong method like the api does: a 405 `{"error"}` with `Allow`.
        .method_not_allowed_fallback(method_not_allowed)
        .into_make_service_with_connect_info::<SocketAddr>();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(stop.clone().cancelled_owned())
        .await;
    stop.cancel();
    started.join().await;
    pool.close().await;
    Ok(served?)
}

impl Component {
    fn merge(mut self, other: Component) -> Self {
        self.router = self.router.merge(other.router);
        self.tasks.extend(other.tasks);
        self.attached.extend(other.attached);
        self
    }

    /// Waits for every task; a task that panicked is logged.
    async fn join(self) {
        for task in self.tasks {
            if let Err(err) = task.await {
                tracing::error!(error = %err, "a background task failed");
            }
        }
    }
}

async fn method_not_allowed() -> axum::response::Response {
    use axum::response::IntoResponse;
    let body = crate::http::ErrorBody {
        error: "Method not allowed".into(),
    };
    (axum::http::StatusCode::METHOD_NOT_ALLOWED, axum::Json(body)).into_response()
}

/// `PINCHWORK_LISTEN`, else the host with the only service's own default port
/// or `PINCHWORK_PORT`.
fn listen_addr(services: &[Service], config: &Config) -> String {
    match (&config.listen, services) {
        (
            None,
            [
                Service {
                    default_port: Some(port),
                    ..
                },
            ],
        ) => format!("{}:{port}", config.host),
        _ => config.listen_addr(),
    }
}

/// NATS is ready when the connection answers and every flag is raised.
fn nats_probe(bus: Option<&Bus>, attached: &[Arc<AtomicBool>]) -> NatsProbe {
    match bus {
        Some(bus) => NatsProbe::Connection {
            bus: Box::new(bus.clone()),
            attached: attached.to_vec(),
        },
        None => NatsProbe::Unused,
    }
}
