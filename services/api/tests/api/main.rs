//! HTTP tests of the api node against a real PostgreSQL: one binary, one
//! module per resource, a fresh database per test.

mod support;

mod lifecycle;
mod pickup;
mod register;
mod tasks;
