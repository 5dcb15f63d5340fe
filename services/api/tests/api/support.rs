//! `TestApp`: an api node on port 0 over a fresh database.

use std::{ops::Deref, sync::Arc};

use pinchwork_common::Config;
use pinchwork_testkit::{Client, assert_conservation, fresh_database};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

pub const ADMIN_KEY: &str = "test-admin-key";

pub struct TestApp {
    pub client: Client,
    pub pool: PgPool,
    pub config: Arc<Config>,
    shutdown: CancellationToken,
}

impl Deref for TestApp {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl TestApp {
    /// An api node with welcome tasks and rate limits off (tests turn them on when needed).
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// An api node with extra `--flag value` settings.
    pub async fn spawn_with(extra: &[&str]) -> Self {
        let url = fresh_database().await;
        let mut args = vec![
            "test",
            "--database-url",
            &url,
            "--listen",
            "127.0.0.1:0",
            "--admin-key",
            ADMIN_KEY,
            "--welcome-task-enabled",
            "false",
            "--rate-limit-enabled",
            "false",
            "--db-max-connections",
            "10",
        ];
        args.extend_from_slice(extra);
        let config = Arc::new(Config::from_args(args).expect("test config"));
        let shutdown = CancellationToken::new();
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(pinchwork_api::run(
            config.clone(),
            shutdown.clone(),
            move |addr| {
                let _ = tx.send(addr);
            },
        ));
        let addr = rx.await.expect("api node failed to start");
        let pool = PgPool::connect(&url).await.expect("connect test database");
        Self {
            client: Client::new(format!("http://{addr}")),
            pool,
            config,
            shutdown,
        }
    }

    /// Asserts the money invariants of design §2.
    pub async fn assert_conservation(&self) {
        assert_conservation(&self.pool).await;
    }
}
