//! The Pinchwork webhook sender. A durable consumer on the events stream turns
//! each event for an agent with a `webhook_url` into a `webhook_deliveries`
//! row (idempotent per event id), a batch of events per commit, each acked
//! only after its batch is committed; a sender polls due rows with `SKIP
//! LOCKED`, POSTs them signed, records every attempt and reschedules failures
//! with exponential back-off. Nothing lives only in memory, so kill -9 and a
//! restart lose nothing.
#![forbid(unsafe_code)]

mod ingest;
mod send;

use std::sync::Arc;

use pinchwork_common::{
    metrics,
    service::{Component, Runtime, Service},
};
use tokio::sync::Notify;

pub use send::sign;

/// Name of the durable consumer shared by every webhooks instance.
pub const CONSUMER: &str = "webhooks";

/// The webhook sender: no routes of its own; the event consumer, the sender
/// and the consumer-lag sampler.
pub const SERVICE: Service = Service::new("webhooks", start).with_nats();

fn start(rt: &Runtime) -> anyhow::Result<Component> {
    pinchwork_common::tls::install_crypto_provider();
    let (bus, pool, stop) = (rt.bus()?, rt.pool().clone(), rt.shutdown.clone());
    let wake = Arc::new(Notify::new());
    let lag = metrics::sample_consumer_lag(
        bus.js.clone(),
        bus.layout.events_stream(),
        CONSUMER,
        stop.clone(),
    );
    Ok(Component::new()
        .task(ingest::run(pool.clone(), bus, wake.clone(), stop.clone()))
        .task(send::run(pool, rt.config().clone(), wake, stop))
        .task(lag))
}
