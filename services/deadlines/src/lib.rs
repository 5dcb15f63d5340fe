//! The deadlines service: applies every timed rule of the marketplace. Due
//! times live in PostgreSQL columns, so any number of instances can run (they
//! share due rows through `SKIP LOCKED`) and a restart loses nothing.
#![forbid(unsafe_code)]

mod sweep;

use pinchwork_common::service::{Component, Runtime, Service};

/// Port used when neither `PINCHWORK_LISTEN` nor another address is given,
/// so an instance next to an api node on the same host does not collide.
pub const DEFAULT_PORT: u16 = 8200;

/// The deadlines service: no routes of its own, one sweeper. It never talks
/// to NATS: api nodes publish the outbox rows it writes.
pub const SERVICE: Service = Service::new("deadlines", start).with_default_port(DEFAULT_PORT);

fn start(rt: &Runtime) -> anyhow::Result<Component> {
    Ok(Component::new().task(sweep::sweep_until(rt.market.clone(), rt.shutdown.clone())))
}
