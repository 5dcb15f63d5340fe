//! The Pinchwork SSE relay: serves `GET /v1/events`. One ordered JetStream
//! consumer per instance feeds an in-memory fan-out to each agent's
//! connections; every message carries `id:` = its stream sequence, so a
//! reconnect with `Last-Event-ID` replays exactly what the agent missed.
#![forbid(unsafe_code)]

mod events;
mod hub;
mod routes;
mod stream;

use std::sync::Arc;

use pinchwork_common::service::{Component, Runtime, Service};

pub use hub::{Hub, SseEvent};
pub use routes::{RelayState, router};

/// The relay: `GET /v1/events`, fed by one ordered consumer per instance.
pub const SERVICE: Service = Service::new("sse-relay", start).with_nats();

fn start(rt: &Runtime) -> anyhow::Result<Component> {
    let state = RelayState {
        pool: rt.pool().clone(),
        bus: rt.bus()?,
        hub: Arc::new(Hub::new(rt.config().sse_buffer)),
        config: rt.config().clone(),
    };
    // SSE streams never end by themselves: at shutdown the hub drops their
    // senders so they end, and the server's graceful shutdown can complete.
    let closing = {
        let (hub, stop) = (state.hub.clone(), rt.shutdown.clone());
        async move {
            stop.cancelled().await;
            hub.close_all();
        }
    };
    let feeder = hub::feed(state.hub.clone(), state.bus.clone(), rt.shutdown.clone());
    Ok(Component::new()
        .task(feeder)
        .task(closing)
        .routes(router(state)))
}
