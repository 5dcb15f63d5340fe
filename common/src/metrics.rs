//! Prometheus metrics and the ops routes every service serves: `/health`
//! (alive), `/ready` (database and NATS reachable) and `/metrics`.
//!
//! [`install`] sets the process-wide recorder once: several services may run
//! in one test process, and they all share it. The metric names live here,
//! each with its meaning; call sites record through the re-exported macros
//! (`metrics::counter!(metrics::CLAIMS)`).

use std::{
    sync::{
        Arc, OnceLock,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use async_nats::jetstream;
use axum::{
    Json, Router,
    extract::{MatchedPath, Request, State},
    http::{Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use serde::Serialize;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    bus::Bus,
    db::{self, outbox},
};

pub use ::metrics::{counter, gauge, histogram};

/// HTTP requests served by an api node, by `method`, `route` (the matched
/// template) and `status`.
pub const HTTP_REQUESTS: &str = "pinchwork_http_requests_total";
/// Latency of those requests in seconds, same labels.
pub const HTTP_DURATION: &str = "pinchwork_http_request_duration_seconds";
/// Tasks claimed by a pickup (next, batch or a specific task).
pub const CLAIMS: &str = "pinchwork_claims_total";
/// Pickups (next or batch) that found nothing to claim.
pub const PICKUPS_EMPTY: &str = "pinchwork_pickups_empty_total";
/// Task commands that committed, by `action` (create, deliver, approve, reject, cancel, abandon).
pub const TASK_ACTIONS: &str = "pinchwork_task_actions_total";
/// Outbox rows (events and commands) the outbox relay published to JetStream.
pub const OUTBOX_PUBLISHED: &str = "pinchwork_outbox_published_total";
/// Outbox rows not yet published (sampled).
pub const OUTBOX_BACKLOG: &str = "pinchwork_outbox_backlog";
/// Messages a consumer took from JetStream, by `consumer` (sse-relay, webhooks, matcher).
pub const EVENTS_CONSUMED: &str = "pinchwork_events_consumed_total";
/// Messages waiting for a durable consumer (JetStream `num_pending`, sampled), by `consumer`.
pub const CONSUMER_PENDING: &str = "pinchwork_consumer_pending";
/// Webhook POST attempts by `outcome`: delivered, retry (failed, will retry), failed (given up).
pub const WEBHOOK_ATTEMPTS: &str = "pinchwork_webhook_attempts_total";
/// Open SSE connections on this relay.
pub const SSE_CONNECTIONS: &str = "pinchwork_sse_connections";
/// SSE connections cut because the client fell behind its buffer.
pub const SSE_SLOW_DISCONNECTS: &str = "pinchwork_sse_slow_disconnects_total";
/// Timed transitions the deadlines service applied, by `rule`.
pub const DEADLINE_TRANSITIONS: &str = "pinchwork_deadline_transitions_total";

/// Histogram buckets of the HTTP latency, in seconds.
const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// How often the gauges that need a query (lag, backlog) are sampled.
const SAMPLE_EVERY: Duration = Duration::from_secs(2);
/// How often histogram samples are folded into their buckets.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);
/// Content type of the Prometheus text format.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4";

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the Prometheus recorder for this process, once; later calls
/// return the same handle.
pub fn install() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(HTTP_DURATION.into()), LATENCY_BUCKETS)
            .expect("the latency buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        if let Err(err) = ::metrics::set_global_recorder(recorder) {
            tracing::warn!(error = %err, "another metrics recorder is installed; /metrics stays empty");
        }
        let upkeep = handle.clone();
        // A thread, not a task: it must outlive any one tokio runtime (tests start several).
        let spawned = std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(UPKEEP_EVERY);
                    upkeep.run_upkeep();
                }
            });
        if let Err(err) = spawned {
            tracing::warn!(error = %err, "cannot start the metrics upkeep thread");
        }
        describe();
        handle
    })
}

/// The `# HELP` lines.
fn describe() {
    use ::metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(HTTP_REQUESTS, "HTTP requests by method, route and status");
    describe_histogram!(HTTP_DURATION, "HTTP request latency in seconds");
    describe_counter!(CLAIMS, "Tasks claimed by a pickup");
    describe_counter!(PICKUPS_EMPTY, "Pickups that found nothing to claim");
    describe_counter!(TASK_ACTIONS, "Task commands committed, by action");
    describe_counter!(OUTBOX_PUBLISHED, "Outbox rows published to JetStream");
    describe_gauge!(OUTBOX_BACKLOG, "Outbox rows not yet published");
    describe_counter!(
        EVENTS_CONSUMED,
        "Messages taken from JetStream, by consumer"
    );
    describe_gauge!(CONSUMER_PENDING, "Messages waiting for a durable consumer");
    describe_counter!(WEBHOOK_ATTEMPTS, "Webhook attempts by outcome");
    describe_gauge!(SSE_CONNECTIONS, "Open SSE connections");
    describe_counter!(SSE_SLOW_DISCONNECTS, "SSE connections cut for being slow");
    describe_counter!(DEADLINE_TRANSITIONS, "Timed transitions applied, by rule");
}

/// How `/ready` tells whether NATS is reachable.
#[derive(Clone)]
pub enum NatsProbe {
    /// This connection answers a flush, and each flag (raised by a durable
    /// consumer while it is attached) is up.
    Connection {
        bus: Box<Bus>,
        attached: Vec<Arc<AtomicBool>>,
    },
    /// The process does not use NATS.
    Unused,
}

impl NatsProbe {
    async fn reachable(&self) -> Option<bool> {
        match self {
            Self::Connection { bus, attached } => {
                Some(attached.iter().all(|up| up.load(Ordering::Relaxed)) && bus.ping().await)
            }
            Self::Unused => None,
        }
    }
}

#[derive(Clone)]
struct Probes {
    pool: PgPool,
    nats: NatsProbe,
}

/// `/health`, `/ready` and `/metrics`, ready to merge into a service's router.
/// Installs the recorder if nobody did yet.
pub fn routes<S>(pool: PgPool, nats: NatsProbe) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    documented_routes(pool, nats).into()
}

/// [`routes`] with their OpenAPI operations, for a service that publishes a document.
pub fn documented_routes<S>(pool: PgPool, nats: NatsProbe) -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    install();
    ops_table().with_state(Probes { pool, nats })
}

/// The OpenAPI operations of [`routes`].
pub fn ops_openapi() -> utoipa::openapi::OpenApi {
    ops_table().into_openapi()
}

fn ops_table() -> OpenApiRouter<Probes> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(ready))
        .routes(routes!(render))
}

/// `/health`: the process is alive.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    pub status: String,
}

/// `/ready`: the state of each dependency. Fields in alphabetical order, the
/// order these bodies have always had.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ok` or `unreachable`.
    pub database: String,
    /// What is down (only when not ready).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// `ok` or `unreachable`; absent for a service that does not use NATS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nats: Option<String>,
    /// `ready` or `unavailable`.
    pub status: String,
}

/// Liveness: the process answers
///
/// Always 200 `{"status": "ok"}`.
#[utoipa::path(get, path = "/health", tag = "meta",
    responses((status = 200, description = "Alive", body = Health)))]
async fn health() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

/// Readiness: the database (and NATS, where used) answer
///
/// 200 when they do; 503 with `{"error"}` and the state of each otherwise.
#[utoipa::path(get, path = "/ready", tag = "meta",
    responses((status = 200, description = "Database and NATS reachable", body = Readiness),
              (status = 503, description = "Database or NATS unreachable", body = Readiness),
              (status = 404, description = "Asked through the load balancer, which keeps \
               the operations routes to each instance's own port", body = Object)))]
async fn ready(State(probes): State<Probes>) -> (StatusCode, Json<Readiness>) {
    let db_ok = db::ping(&probes.pool).await;
    let nats_ok = probes.nats.reachable().await;
    let word = |ok: bool| if ok { "ok" } else { "unreachable" }.to_string();
    let mut down = Vec::new();
    if !db_ok {
        down.push("database");
    }
    if nats_ok == Some(false) {
        down.push("NATS");
    }
    let (status, word_status, error) = if down.is_empty() {
        (StatusCode::OK, "ready", None)
    } else {
        let why = format!("not ready: {} unreachable", down.join(" and "));
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable", Some(why))
    };
    let body = Readiness {
        database: word(db_ok),
        error,
        nats: nats_ok.map(word),
        status: word_status.into(),
    };
    (status, Json(body))
}

/// Prometheus metrics (text format)
#[utoipa::path(get, path = "/metrics", tag = "meta",
    responses((status = 200, description = "Prometheus metrics (text format 0.0.4)",
               content_type = "text/plain; version=0.0.4", body = String),
              (status = 404, description = "Asked through the load balancer, which keeps \
               the operations routes to each instance's own port", body = Object)))]
async fn render() -> Response {
    (
        [(header::CONTENT_TYPE, PROMETHEUS_TEXT)],
        install().render(),
    )
        .into_response()
}

/// Middleware: counts each request and records its latency by method, matched
/// route template (never the raw path, whose ids would make a series per
/// task) and status. Layer it on the whole router so `MatchedPath` is known;
/// unmatched requests are labelled `unmatched`.
pub async fn track_http(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    let labels = [
        ("method", method.to_owned()),
        ("route", route),
        ("status", response.status().as_u16().to_string()),
    ];
    counter!(HTTP_REQUESTS, &labels).increment(1);
    histogram!(HTTP_DURATION, &labels).record(started.elapsed().as_secs_f64());
    response
}

/// The method as a label; made-up methods share one value.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PATCH => "PATCH",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Samples `num_pending` of the durable consumer `durable` on `stream` into
/// [`CONSUMER_PENDING`] every few seconds until `shutdown`.
pub async fn sample_consumer_lag(
    js: jetstream::Context,
    stream: String,
    durable: &'static str,
    shutdown: CancellationToken,
) {
    loop {
        let info = match js.get_stream_no_info(&stream).await {
            Ok(stream) => stream
                .consumer_info(durable)
                .await
                .map_err(|e| e.to_string()),
            Err(err) => Err(err.to_string()),
        };
        match info {
            Ok(info) => {
                gauge!(CONSUMER_PENDING, "consumer" => durable).set(info.num_pending as f64);
            }
            // Not created yet, or NATS is away: the next round tries again.
            Err(err) => tracing::debug!(error = %err, durable, "consumer lag not sampled"),
        }
        if stopped_while_waiting(&shutdown).await {
            return;
        }
    }
}

/// Samples the number of unpublished outbox rows into [`OUTBOX_BACKLOG`]
/// every few seconds until `shutdown` (an index covers them).
pub async fn sample_outbox_backlog(pool: PgPool, shutdown: CancellationToken) {
    loop {
        match outbox::unpublished_count(&pool).await {
            Ok(rows) => gauge!(OUTBOX_BACKLOG).set(rows as f64),
            Err(err) => tracing::debug!(error = %err, "outbox backlog not sampled"),
        }
        if stopped_while_waiting(&shutdown).await {
            return;
        }
    }
}

/// Waits one sampling period; true when `shutdown` came first.
async fn stopped_while_waiting(shutdown: &CancellationToken) -> bool {
    tokio::select! {
        () = shutdown.cancelled() => true,
        () = tokio::time::sleep(SAMPLE_EVERY) => false,
    }
}
