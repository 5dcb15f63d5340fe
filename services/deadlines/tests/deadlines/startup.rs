//! No service migrates: one started against a database `pinchwork-migrate`
//! has not brought up to date refuses to start, and says which command to run.

use std::{process::Stdio, time::Duration};

use pinchwork_common::db;
use pinchwork_testkit::db::server_url;
use sqlx::{Connection, Executor, PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

use pinchwork_testkit::{nats_prefix, test_config};

/// An empty database (no schema at all); dropped by [`drop_database`].
async fn empty_database() -> (String, String) {
    let name = format!("pwt_empty_{:016x}", rand::random::<u64>());
    let mut admin = PgConnection::connect(&format!("{}/postgres", server_url()))
        .await
        .expect("PostgreSQL must be running for tests");
    admin
        .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .expect("create database");
    (format!("{}/{name}", server_url()), name)
}

async fn drop_database(name: &str) {
    let mut admin = PgConnection::connect(&format!("{}/postgres", server_url()))
        .await
        .expect("connect");
    let _ = admin
        .execute(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .await;
}

#[tokio::test]
async fn the_binary_refuses_an_unmigrated_database_naming_pinchwork_migrate() {
    let (url, name) = empty_database().await;
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_pinchwork-deadlines"))
        .env("DATABASE_URL", &url)
        .env("PINCHWORK_LISTEN", "127.0.0.1:0")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    // A bound on a hang (a service that started anyway), not a speed assertion.
    let out = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the binary exits instead of serving")
        .expect("run pinchwork-deadlines");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "started anyway: {stderr}");
    assert!(
        stderr.contains("no Pinchwork schema") && stderr.contains("pinchwork-migrate"),
        "unclear refusal: {stderr}"
    );
    // Nothing was created behind the operator's back.
    let pool = PgPool::connect(&url).await.expect("connect");
    let tables: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            .fetch_one(&pool)
            .await
            .expect("count tables");
    assert_eq!(tables, 0);
    pool.close().await;
    drop_database(&name).await;
}

#[tokio::test]
async fn a_database_behind_the_binary_is_refused_until_migrated() {
    let (url, name) = empty_database().await;
    let config = test_config(&url, &nats_prefix(), &[]);
    let pool = PgPool::connect(&url).await.expect("connect");
    // What `pinchwork-migrate` does, then the newest migration's record set
    // aside: to the service, that migration was never applied.
    db::migrate(&pool, &config).await.expect("migrate");
    let newest = db::MIGRATOR
        .iter()
        .map(|m| m.version)
        .max()
        .expect("migrations");
    let (description, checksum): (String, Vec<u8>) = sqlx::query_as(
        "DELETE FROM _sqlx_migrations WHERE version = $1 RETURNING description, checksum",
    )
    .bind(newest)
    .fetch_one(&pool)
    .await
    .expect("set the newest migration aside");

    let refused = pinchwork_deadlines::SERVICE
        .run(config.clone(), CancellationToken::new(), |_| {
            panic!("must not listen on a database that is behind")
        })
        .await
        .expect_err("a database behind the binary is refused");
    let message = format!("{refused:#}");
    assert!(
        message.contains(&format!("{newest:04}")) && message.contains("pinchwork-migrate"),
        "unclear refusal: {message}"
    );

    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES ($1, $2, true, $3, 0)",
    )
    .bind(newest)
    .bind(description)
    .bind(checksum)
    .execute(&pool)
    .await
    .expect("the migration is applied again");
    let shutdown = CancellationToken::new();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let running =
        tokio::spawn(
            pinchwork_deadlines::SERVICE.run(config, shutdown.clone(), move |addr| {
                let _ = tx.send(addr);
            }),
        );
    rx.await.expect("starts once migrated");
    shutdown.cancel();
    running.await.expect("join").expect("clean shutdown");
    pool.close().await;
    drop_database(&name).await;
}
