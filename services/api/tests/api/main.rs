//! HTTP tests of the api node against a real PostgreSQL: one binary, one
//! module per resource, a fresh database per test.

mod support;

mod register;
mod wait;
