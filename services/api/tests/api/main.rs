//! HTTP tests of the api node against a real PostgreSQL: one binary, one
//! module per resource, a fresh database per test.

mod support;

mod admin;
mod concurrency;
mod lifecycle;
mod negotiation;
mod pickup;
mod rate_limits;
mod register;
mod tasks;
