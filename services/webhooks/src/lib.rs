//! The Pinchwork webhook sender. A durable consumer on the events stream turns
//! each event for an agent with a `webhook_url` into a `webhook_deliveries`
//! row (idempotent per event id), acked only after the row is written; a
//! sender polls due rows with `SKIP LOCKED`, POSTs them signed, records every
//! attempt and reschedules failures with exponential back-off. Nothing lives
//! only in memory, so kill -9 and a restart lose nothing.
#![forbid(unsafe_code)]

mod ingest;
mod send;

use std::{net::SocketAddr, sync::Arc};

use axum::{Json, Router, extract::State, http::StatusCode, routing::get};
use pinchwork_common::{Config, bus::Bus, db};
use serde_json::json;
use sqlx::PgPool;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub use send::sign;

/// Name of the durable consumer shared by every webhooks instance.
pub const CONSUMER: &str = "webhooks";

#[derive(Clone)]
struct Health {
    pool: PgPool,
    bus: Bus,
}

/// Connects, starts the consumer and the sender, and serves `/health` and
/// `/ready` until `shutdown`. Calls `on_listen` with the bound address.
pub async fn run(
    config: Arc<Config>,
    shutdown: CancellationToken,
    on_listen: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    pinchwork_common::tls::install_crypto_provider();
    let pool = db::connect(&config).await?;
    db::migrate(&pool, &config).await?;
    let bus = Bus::connect(&config).await?;
    let wake = Arc::new(Notify::new());
    let ingest = tokio::spawn(ingest::run(
        pool.clone(),
        bus.clone(),
        wake.clone(),
        shutdown.clone(),
    ));
    let sender = tokio::spawn(send::run(
        pool.clone(),
        config.clone(),
        wake,
        shutdown.clone(),
    ));
    let listener = tokio::net::TcpListener::bind(config.listen_addr()).await?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "webhooks listening");
    on_listen(addr);
    let app = Router::new()
        .route("/health", get(|| async { Json(json!({ "status": "ok" })) }))
        .route("/ready", get(ready))
        .with_state(Health {
            pool: pool.clone(),
            bus,
        });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.clone().cancelled_owned())
        .await?;
    shutdown.cancel();
    let _ = ingest.await;
    let _ = sender.await;
    pool.close().await;
    Ok(())
}

async fn ready(State(h): State<Health>) -> (StatusCode, Json<serde_json::Value>) {
    let db_ok = sqlx::query("SELECT 1").execute(&h.pool).await.is_ok();
    let nats_ok = h.bus.ping().await;
    let word = |ok: bool| if ok { "ok" } else { "unreachable" };
    let status = if db_ok && nats_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({
            "status": if status == StatusCode::OK { "ready" } else { "unavailable" },
            "database": word(db_ok),
            "nats": word(nats_ok),
        })),
    )
}
