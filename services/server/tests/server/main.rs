//! `pinchwork-server` as real processes: alone over the test PostgreSQL and
//! NATS, and under `ops/standalone` (the all-in-one image's entrypoint) over
//! servers of its own.

mod one_process;
mod standalone;
mod support;
