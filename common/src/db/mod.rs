//! PostgreSQL access: one module per aggregate, one function per statement.

pub mod agents;
pub mod console;
pub mod deadlines;
pub mod idempotency;
pub mod ledger;
pub mod matching;
pub mod messages;
pub mod outbox;
pub mod profiles;
pub mod public;
pub mod questions;
pub mod rate_limits;
pub mod ratings;
pub mod reports;
pub mod stats;
pub mod tasks;
pub mod trust;
pub mod webhooks;

use std::{str::FromStr, time::Duration};

use sqlx::{
    PgPool,
    postgres::{PgConnectOptions, PgPoolOptions},
};

use crate::Config;

/// The migrations embedded in every binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A pooled connection idle at least this long is pinged before it is
/// handed out (see [`connect`]).
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// Opens the connection pool of this process.
///
/// The pool already pings every connection when it is returned; a
/// connection is pinged again before it is handed out only when it sat idle
/// for [`PING_AFTER_IDLE`] or longer (a server restart or an idle-session
/// timeout drops idle connections). A busy node's connections come back
/// within microseconds, and pinging each of them again would be a round
/// trip to PostgreSQL per checkout (two of them per request).
///
/// JIT compilation is off for these sessions: every statement here is short
/// or bounded, and compiling one that reads a large pool (a search over a
/// million open tasks) cost more than it saved (0.7 s against 1.4 s).
pub async fn connect(config: &Config) -> Result<PgPool, sqlx::Error> {
    let options = PgConnectOptions::from_str(&config.database_url)?.options([("jit", "off")]);
    PgPoolOptions::new()
        .max_connections(config.db_max_connections)
        .acquire_timeout(Duration::from_secs(3))
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_AFTER_IDLE {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
        .connect_with(options)
        .await
}

/// Whether the database answers (readiness).
pub async fn ping(pool: &PgPool) -> bool {
    sqlx::query("SELECT 1").execute(pool).await.is_ok()
}

/// Applies pending migrations (sqlx holds an advisory lock, so several
/// `pinchwork-migrate` runs may overlap) and makes sure the platform agent
/// exists. Only `pinchwork-migrate` and the test template call it: services
/// check with [`check_migrated`] instead.
pub async fn migrate(pool: &PgPool, config: &Config) -> anyhow::Result<()> {
    MIGRATOR.run(pool).await?;
    agents::ensure_platform_agent(pool, &config.platform_agent_id).await?;
    Ok(())
}

/// Why a database is not ready for this binary; each message names the fix.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// No migration was ever applied.
    #[error(
        "the database has no Pinchwork schema: run `pinchwork-migrate` (same DATABASE_URL) before starting services"
    )]
    Unmigrated,
    /// Migrations this binary knows are missing, failed or differ from the applied ones.
    #[error(
        "the database schema is behind this binary (migrations {0} not applied as shipped): run `pinchwork-migrate` (same DATABASE_URL) before starting services"
    )]
    Behind(String),
    /// The platform agent (`PINCHWORK_PLATFORM_AGENT_ID`) does not exist.
    #[error(
        "the platform agent {0} does not exist: run `pinchwork-migrate` with the same PINCHWORK_PLATFORM_AGENT_ID before starting services"
    )]
    NoPlatformAgent(String),
    /// The check itself failed.
    #[error("checking the database schema: {0}")]
    Db(#[from] sqlx::Error),
}

/// Refuses a database that lacks a migration this binary ships (or applied
/// it with other contents), or the platform agent. Migrations newer than this
/// binary are accepted, so a rolling upgrade can migrate first.
pub async fn check_migrated(pool: &PgPool, config: &Config) -> Result<(), SchemaError> {
    let has_table: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(pool)
        .await?;
    if !has_table {
        return Err(SchemaError::Unmigrated);
    }
    let applied: Vec<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT version, checksum FROM _sqlx_migrations WHERE success")
            .fetch_all(pool)
            .await?;
    let missing: Vec<String> = MIGRATOR
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .filter(|m| {
            !applied
                .iter()
                .any(|(v, sum)| *v == m.version && sum.as_slice() == &*m.checksum)
        })
        .map(|m| format!("{:04}", m.version))
        .collect();
    if !missing.is_empty() {
        return Err(SchemaError::Behind(missing.join(", ")));
    }
    if agents::get(pool, &config.platform_agent_id)
        .await?
        .is_none()
    {
        return Err(SchemaError::NoPlatformAgent(
            config.platform_agent_id.to_string(),
        ));
    }
    Ok(())
}

/// The money invariants (ARCHITECTURE.md, "Invariants"), computed from the database.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Conservation {
    /// Sum of every agent's balance.
    pub balances: i64,
    /// Credits held in escrow by open tasks.
    pub escrow: i64,
    /// Credits ever minted (grants: signup, admin, genesis).
    pub granted: i64,
    /// Grants tied to a task: none may exist, since task payouts (system
    /// tasks included) only move credits that were already granted.
    pub task_grants: i64,
    /// Agents whose balance differs from the sum of their ledger rows.
    pub mismatched_agents: i64,
}

impl Conservation {
    /// Whether balances + escrow equal grants, every balance equals its
    /// ledger, and no task minted credits.
    pub fn holds(&self) -> bool {
        self.balances + self.escrow == self.granted
            && self.mismatched_agents == 0
            && self.task_grants == 0
    }
}

/// Computes the conservation figures in one consistent snapshot.
pub async fn conservation(pool: &PgPool) -> Result<Conservation, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut *tx)
        .await?;
    let row = sqlx::query_as::<_, Conservation>(
        "SELECT
            (SELECT COALESCE(sum(credits), 0)::bigint FROM agents) AS balances,
            (SELECT COALESCE(sum(max_credits), 0)::bigint FROM tasks
              WHERE escrowed AND status IN ('posted', 'claimed', 'delivered')) AS escrow,
            (SELECT COALESCE(sum(amount), 0)::bigint FROM ledger WHERE kind = 'grant') AS granted,
            (SELECT count(*) FROM ledger WHERE kind = 'grant' AND task_id IS NOT NULL) AS task_grants,
            (SELECT count(*) FROM agents a
              WHERE a.credits <> (SELECT COALESCE(sum(amount), 0) FROM ledger l WHERE l.agent_id = a.id))
              AS mismatched_agents",
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(row)
}
