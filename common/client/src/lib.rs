//! The client side of the public HTTP API, one copy for every caller: a JSON
//! client (the benchmark and the tests) and the `text/event-stream` parser
//! (the CLI, the benchmark and the tests).
#![forbid(unsafe_code)]

pub mod json;
pub mod sse;

pub use json::{Agent, Client, Error, Resp};

/// Installs ring as the process-wide rustls provider; call before building
/// any HTTPS client. Calling it again is harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
