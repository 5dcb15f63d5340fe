//! The Pinchwork matcher: consumes the `task_created` and `profile_changed`
//! commands and routes work. Its results are ordinary rows written in
//! transactions; any number of instances may run, each command is applied
//! once. A periodic sweep routes tasks whose command never arrived; the match
//! and verification windows it opens are closed by the deadlines service.
#![forbid(unsafe_code)]

mod consumer;
mod sweep;

use std::sync::{Arc, atomic::AtomicBool};

use pinchwork_common::{
    metrics,
    service::{Component, Runtime, Service},
};

pub use consumer::Command;

/// Name of the durable consumer every matcher instance shares, and the
/// service token of its command subjects (`<prefix>.cmd.matcher.<kind>`).
pub const CONSUMER: &str = "matcher";

/// The matcher: no routes of its own; the command consumer, the un-routed
/// sweep and the consumer-lag sampler. `/ready` waits for the consumer.
pub const SERVICE: Service = Service::new("matcher", start).with_nats();

fn start(rt: &Runtime) -> anyhow::Result<Component> {
    let bus = rt.bus()?;
    let attached = Arc::new(AtomicBool::new(false));
    let lag = metrics::sample_consumer_lag(
        bus.js.clone(),
        bus.layout.commands_stream(),
        CONSUMER,
        rt.shutdown.clone(),
    );
    let consumer = consumer::consume(
        rt.market.clone(),
        bus,
        attached.clone(),
        rt.shutdown.clone(),
    );
    Ok(Component::new()
        .ready_when(attached)
        .task(consumer)
        .task(sweep::sweep(rt.market.clone(), rt.shutdown.clone()))
        .task(lag))
}
