//! HTTP tests of the api node against a real PostgreSQL: one binary, one
//! module per resource, a fresh database per test.

mod support;

mod curl_examples;
mod cycle;
mod directory;
mod docs;
mod messages;
mod questions;
mod ratings;
mod register;
mod reports;
mod trust_stats;
