//! The matcher against a real PostgreSQL (and NATS for the consumer tests):
//! every task gets exactly one routing decision, and system work is paid once.

mod support;

mod builtin;
mod burst;
mod infra;
mod ops;
