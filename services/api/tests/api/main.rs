//! HTTP tests of the api node against a real PostgreSQL: one binary, one
//! module per resource, a fresh database per test.

/// Each test's cluster: api nodes over a fresh database and NATS prefix.
mod support {
    pub use pinchwork_testkit::{ADMIN_KEY, TestCluster as TestApp};
}

mod admin;
mod concurrency;
mod curl_examples;
mod cycle;
mod directory;
mod docs;
mod idempotency;
mod lifecycle;
mod messages;
mod negotiation;
mod ops;
mod pickup;
mod questions;
mod rate_limits;
mod ratings;
mod register;
mod reports;
mod security_input;
mod security_market;
mod tasks;
mod trust_stats;
mod wait;
mod web;
