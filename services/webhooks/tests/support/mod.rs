//! The real `pinchwork-webhooks` binary on a test cluster.

use pinchwork_testkit::TestCluster;

/// Starts the real `pinchwork-webhooks` binary on `cluster`'s database and
/// prefix, listening on `listen`, with fast retries; killed when dropped.
pub fn spawn_binary(cluster: &TestCluster, listen: &str) -> tokio::process::Child {
    cluster
        .command(env!("CARGO_BIN_EXE_pinchwork-webhooks"))
        .env("PINCHWORK_LISTEN", listen)
        .env("PINCHWORK_WEBHOOK_ALLOW_PRIVATE", "true")
        .env("PINCHWORK_WEBHOOK_MAX_RETRIES", "20")
        .env("PINCHWORK_WEBHOOK_RETRY_BASE_MS", "100")
        .env("PINCHWORK_WEBHOOK_TIMEOUT_SECONDS", "1")
        .spawn()
        .expect("start pinchwork-webhooks")
}
