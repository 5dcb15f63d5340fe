//! A fresh, migrated database per test, cloned from a template database that
//! is built once per migration set (so tests can run in parallel processes).

use pinchwork_common::db::{self, MIGRATOR};
use sqlx::{Connection, Executor, PgConnection, PgPool};

/// Server URL without a database name (`PINCHWORK_TEST_PG`, default local trust auth).
pub fn server_url() -> String {
    std::env::var("PINCHWORK_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

fn template_name() -> String {
    let mut hash: u64 = 0xcbf29ce484222325;
    for migration in MIGRATOR.iter() {
        for byte in migration
            .checksum
            .iter()
            .chain(migration.version.to_le_bytes().iter())
        {
            hash = (hash ^ u64::from(*byte)).wrapping_mul(0x100000001b3);
        }
    }
    format!("pwt_template_{hash:016x}")
}

/// Creates a new database from the migrated template and returns its URL.
pub async fn fresh_database() -> String {
    let server = server_url();
    let mut admin = PgConnection::connect(&format!("{server}/postgres"))
        .await
        .expect("PostgreSQL must be running for tests (see README)");
    let template = template_name();
    // Serialise template creation across test processes.
    admin
        .execute("SELECT pg_advisory_lock(7261)")
        .await
        .expect("advisory lock");
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&template)
            .fetch_one(&mut admin)
            .await
            .expect("query pg_database");
    if !exists {
        build_template(&mut admin, &server, &template).await;
    }
    let name = format!("pwt_{:016x}", rand::random::<u64>());
    let created = admin
        .execute(sqlx::AssertSqlSafe(format!(
            "CREATE DATABASE {name} TEMPLATE {template}"
        )))
        .await;
    admin
        .execute("SELECT pg_advisory_unlock(7261)")
        .await
        .expect("advisory unlock");
    created.expect("create test database");
    format!("{server}/{name}")
}

async fn build_template(admin: &mut PgConnection, server: &str, template: &str) {
    let building = format!("{template}_build");
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {building}"
        )))
        .await
        .expect("drop stale template");
    admin
        .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {building}")))
        .await
        .expect("create template");
    let pool = PgPool::connect(&format!("{server}/{building}"))
        .await
        .expect("connect template");
    let config = pinchwork_common::Config::from_args(["test"]).expect("default config");
    db::migrate(&pool, &config).await.expect("migrate template");
    pool.close().await;
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "ALTER DATABASE {building} RENAME TO {template}"
        )))
        .await
        .expect("publish template");
}

/// Asserts the money invariants: every balance equals the sum of its ledger
/// rows, and balances plus escrow equal everything ever granted.
pub async fn assert_conservation(pool: &PgPool) {
    let c = db::conservation(pool).await.expect("conservation query");
    assert!(c.holds(), "credit conservation violated: {c:?}");
}
