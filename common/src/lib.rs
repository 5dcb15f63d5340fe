//! What every Pinchwork service shares: configuration, database access, the
//! marketplace rules, telemetry set-up and the service runtime. No HTTP
//! handlers live here, apart from the ops routes every service serves
//! (`/health`, `/ready`, `/metrics`), Bearer authentication and the error body.
#![forbid(unsafe_code)]

pub mod bus;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod http;
pub mod ids;
pub mod market;
pub mod metrics;
pub mod outbox_relay;
pub mod service;
pub mod shutdown;
pub mod telemetry;
pub mod tls;
pub mod webhook_url;

pub use config::Config;
pub use error::{Error, Result};
