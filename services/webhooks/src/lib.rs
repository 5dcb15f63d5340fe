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

use axum::Router;
use pinchwork_common::{
    Config,
    bus::Bus,
    db,
    metrics::{self, NatsProbe},
};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub use send::sign;

/// Name of the durable consumer shared by every webhooks instance.
pub const CONSUMER: &str = "webhooks";

/// Connects, starts the consumer and the sender, and serves `/health`,
/// `/ready` and `/metrics` until `shutdown`. Calls `on_listen` with the bound address.
pub async fn run(
    config: Arc<Config>,
    shutdown: CancellationToken,
    on_listen: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    pinchwork_common::tls::install_crypto_provider();
    metrics::install();
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
    let lag = tokio::spawn(metrics::sample_consumer_lag(
        bus.js.clone(),
        bus.layout.events_stream(),
        CONSUMER,
        shutdown.clone(),
    ));
    let app: Router = metrics::routes(pool.clone(), NatsProbe::Bus(Box::new(bus)));
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.clone().cancelled_owned())
        .await?;
    shutdown.cancel();
    let _ = ingest.await;
    let _ = sender.await;
    let _ = lag.await;
    pool.close().await;
    Ok(())
}
