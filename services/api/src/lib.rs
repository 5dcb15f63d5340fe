//! The Pinchwork api node: every REST route except the SSE stream. It holds no
//! state between requests, so any number of nodes can serve behind a balancer.
#![forbid(unsafe_code)]

mod a2a;
pub mod error;
pub mod extract;
mod fields;
#[doc(hidden)]
pub mod fuzzing;
mod idempotency;
mod input;
mod mcp;
pub mod negotiate;
pub mod openapi;
mod rate_limit;
mod routes;
mod state;
mod trace;
pub mod views;
mod wait;
pub mod web;

use std::time::Duration;

use pinchwork_common::{
    metrics, outbox_relay,
    service::{Component, Runtime, Service},
};

pub use routes::{PROTOCOLS, RELAYED, UNDOCUMENTED, document, router};
pub use state::AppState;

/// An api node: every REST route, the outbox publisher, and upkeep tasks.
pub const SERVICE: Service = Service::new("api", start).with_nats();

fn start(rt: &Runtime) -> anyhow::Result<Component> {
    let state = AppState::new(rt.market.clone(), rt.bus()?, rt.shutdown.clone());
    let (pool, stop) = (rt.pool().clone(), rt.shutdown.clone());
    let publisher = outbox_relay::run(
        pool.clone(),
        state.bus.clone(),
        rt.market.outbox_wake.clone(),
        Duration::from_millis(rt.config().outbox_sweep_ms),
        stop.clone(),
    );
    Ok(Component::new()
        .task(publisher)
        .task(rate_limit::prune(pool.clone(), stop.clone()))
        .task(metrics::sample_outbox_backlog(pool, stop))
        .routes(router(state)))
}
