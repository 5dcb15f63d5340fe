//! `pinchwork-server` as a real process over the test PostgreSQL and NATS.

mod one_process;
mod support;
