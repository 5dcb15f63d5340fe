//! Logging and tracing set-up shared by every binary.

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::Config;

/// Installs the global subscriber: text or JSON logs filtered by `RUST_LOG`
/// (default `info`).
pub fn init(config: &Config) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    let result = if config.log_format == "json" {
        registry
            .with(fmt::layer().json().with_current_span(true))
            .try_init()
    } else {
        registry.with(fmt::layer()).try_init()
    };
    // A second init (tests running several services in one process) is harmless.
    drop(result);
}

/// The W3C `traceparent` of the current span, when a trace exporter is active.
pub fn current_traceparent() -> Option<String> {
    None
}
