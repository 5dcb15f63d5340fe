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

/// The configuration of a process under test: database `db`, NATS prefix
/// `prefix`, a free loopback port, then `extra` flags (which win).
pub fn test_config(
    db: &str,
    prefix: &str,
    extra: &[&str],
) -> std::sync::Arc<pinchwork_common::Config> {
    let base = [
        "test",
        "--database-url",
        db,
        "--nats-prefix",
        prefix,
        "--listen",
        "127.0.0.1:0",
    ];
    let args = base.iter().chain(extra);
    std::sync::Arc::new(pinchwork_common::Config::from_args(args).expect("test config"))
}
