//! The `pinchwork` binary driven as a user would: against an api node on
//! port 0 over a fresh database, with a private config directory per test.

mod support;

mod admin;
mod errors;
mod events;
mod flow;
mod profiles;
mod retries;
mod security_output;
mod social;
