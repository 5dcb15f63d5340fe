//! Test support shared by every crate's tests: a cluster of api nodes and
//! services in-process over an isolated database and NATS prefix, the JSON
//! client for the public API, an SSE reader, a webhook receiver, and the
//! money invariants.
#![forbid(unsafe_code)]

pub mod client;
pub mod cluster;
pub mod db;
pub mod events;
pub mod hooks;
pub mod metrics;
pub mod sse;

use std::time::Duration;

pub use client::{Agent, Client, Resp};
pub use cluster::{ADMIN_KEY, Service, TestCluster};
pub use db::{assert_conservation, fresh_database};

/// A random NATS subject prefix, so concurrent tests never see each other's messages.
pub fn nats_prefix() -> String {
    format!("t{:016x}", rand::random::<u64>())
}

/// The configuration of a process under test: database `db`, NATS prefix
/// `prefix`, a free loopback port, then `extra` flags (which win).
pub fn test_config(
    db: &str,
    prefix: &str,
    extra: &[&str],
) -> std::sync::Arc<pinchwork_common::Config> {
    let base = [
        "test",
        "--database-url",
        db,
        "--nats-prefix",
        prefix,
        "--listen",
        "127.0.0.1:0",
    ];
    let args = base.iter().chain(extra);
    std::sync::Arc::new(pinchwork_common::Config::from_args(args).expect("test config"))
}

/// A loopback port free right now, for a process the test starts itself.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The python of the tests' virtual environment, with the pinned tools of
/// `ops/requirements.txt` (the protocol SDKs, the OpenAPI validator), created
/// by `ops/pyenv` when missing.
pub fn python() -> std::path::PathBuf {
    let pyenv = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ops/pyenv");
    let out = std::process::Command::new(&pyenv)
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("run ops/pyenv");
    assert!(out.status.success(), "ops/pyenv failed");
    String::from_utf8_lossy(&out.stdout).trim().into()
}

/// Polls `check` every 50 ms until it holds; panics after `limit`, naming `what`.
pub async fn eventually<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
