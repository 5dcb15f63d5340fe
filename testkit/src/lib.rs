//! Test support shared by every crate's tests: an isolated database per test,
//! a JSON client for the public API, and the money invariants.
#![forbid(unsafe_code)]

pub mod client;
pub mod db;
pub mod events;
pub mod metrics;
pub mod sse;

pub use client::{Agent, Client, Resp};
pub use db::{assert_conservation, fresh_database};

/// A random NATS subject prefix, so concurrent tests never see each other's messages.
pub fn nats_prefix() -> String {
    format!("t{:016x}", rand::random::<u64>())
}
