//! The `agents` table.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor, PgPool};

use super::ledger::{self, Kind};
use crate::{
    domain::Credits,
    ids::AgentId,
    market::{agent_terms, good_at_terms},
};

/// Credits the platform agent starts with; it funds welcome tasks.
pub const PLATFORM_GENESIS_CREDITS: Credits = Credits::new(999_999_999);

/// An agent as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Agent {
    pub id: AgentId,
    pub name: String,
    pub credits: Credits,
    pub reputation: f64,
    pub rating_count: i32,
    pub tasks_posted: i32,
    pub tasks_completed: i32,
    pub accepts_system_tasks: bool,
    /// An operator approved the agent for system tasks (admin API).
    pub infra_approved: bool,
    pub good_at: Option<String>,
    pub capability_tags: Option<Vec<String>>,
    pub suspended: bool,
    pub suspend_reason: Option<String>,
    pub abandon_count: i32,
    pub last_abandon_at: Option<DateTime<Utc>>,
    pub webhook_url: Option<String>,
    pub webhook_secret: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl Agent {
    /// Whether the agent gets system tasks: it asked to and an operator approved it.
    pub fn is_infra(&self) -> bool {
        self.accepts_system_tasks && self.infra_approved && !self.suspended
    }

    /// Capability tags, lower-cased, for relevance scoring.
    pub fn capability_tags_lower(&self) -> Vec<String> {
        let mut tags: Vec<String> = self
            .capability_tags
            .iter()
            .flatten()
            .map(|t| t.to_lowercase())
            .collect();
        // Distinct: the ranking counts each shared tag once.
        tags.sort_unstable();
        tags.dedup();
        tags
    }
}

/// Fields of a new agent.
pub struct NewAgent<'a> {
    pub id: &'a AgentId,
    pub name: &'a str,
    pub key_hash: &'a [u8],
    pub good_at: Option<&'a str>,
    pub accepts_system_tasks: bool,
    pub webhook_url: Option<&'a str>,
    pub webhook_secret: Option<&'a str>,
}

/// Creates the platform agent (and its genesis grant) if it does not exist.
pub async fn ensure_platform_agent(pool: &PgPool, id: &AgentId) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO agents (id, name, credits) VALUES ($1, 'platform', 0) ON CONFLICT (id) DO NOTHING",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 1 {
        ledger::record(
            &mut tx,
            id,
            PLATFORM_GENESIS_CREDITS,
            "genesis",
            Kind::Grant,
            None,
        )
        .await?;
    }
    tx.commit().await
}

/// Inserts a new agent with a zero balance (the signup grant follows) and
/// its match terms.
pub async fn insert(conn: &mut PgConnection, agent: &NewAgent<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO agents (id, name, key_hash, good_at, accepts_system_tasks, webhook_url, webhook_secret,
                             match_terms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(agent.id)
    .bind(agent.name)
    .bind(agent.key_hash)
    .bind(agent.good_at)
    .bind(agent.accepts_system_tasks)
    .bind(agent.webhook_url)
    .bind(agent.webhook_secret)
    .bind(agent_terms(agent.good_at, None))
    .execute(conn)
    .await?;
    Ok(())
}

/// The agent holding an API key with this digest (one indexed lookup).
pub async fn find_by_key_hash(
    db: impl PgExecutor<'_>,
    key_hash: &[u8],
) -> Result<Option<Agent>, sqlx::Error> {
    sqlx::query_as::<_, Agent>("SELECT * FROM agents WHERE key_hash = $1")
        .bind(key_hash)
        .fetch_optional(db)
        .await
}

/// Replaces an agent's key digest, only while it is still `old_hash`: one
/// conditional UPDATE, so a request holding the old key either ran before it
/// or finds no agent after it, and of two rotations with one key only one
/// succeeds. `false` when the key changed meanwhile.
pub async fn replace_key_hash(
    db: impl PgExecutor<'_>,
    id: &str,
    old_hash: &[u8],
    new_hash: &[u8],
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE agents SET key_hash = $3 WHERE id = $1 AND key_hash = $2")
        .bind(id)
        .bind(old_hash)
        .bind(new_hash)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// An agent by id.
pub async fn get(db: impl PgExecutor<'_>, id: &AgentId) -> Result<Option<Agent>, sqlx::Error> {
    sqlx::query_as::<_, Agent>("SELECT * FROM agents WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await
}

/// The SQL condition "some infra agent (other than the platform, whose id is
/// the numbered parameter) exists", for statements that fold it in.
macro_rules! infra_agents_exist_sql {
    ($platform_param:literal) => {
        concat!(
            "EXISTS (SELECT 1 FROM agents
                     WHERE accepts_system_tasks AND infra_approved AND NOT suspended
                       AND id <> $",
            $platform_param,
            ")"
        )
    };
}
pub(crate) use infra_agents_exist_sql;

/// Whether any infra agent (other than the platform) exists.
pub async fn infra_agents_exist(
    db: impl PgExecutor<'_>,
    platform_id: &AgentId,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(concat!("SELECT ", infra_agents_exist_sql!(1)))
        .bind(platform_id)
        .fetch_one(db)
        .await
}

/// A profile change; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct ProfileUpdate {
    pub good_at: Option<String>,
    pub accepts_system_tasks: Option<bool>,
    /// `Some(None)` removes the webhook.
    pub webhook_url: Option<Option<String>>,
    /// `Some(None)` removes the secret.
    pub webhook_secret: Option<Option<String>>,
}

/// Applies a profile change and returns the updated agent. A new good_at
/// replaces the good_at match terms and keeps the tag ones (terms not computed
/// yet stay so).
pub async fn update_profile(
    db: impl PgExecutor<'_>,
    id: &AgentId,
    update: &ProfileUpdate,
) -> Result<Agent, sqlx::Error> {
    sqlx::query_as::<_, Agent>(
        "UPDATE agents SET
            good_at = CASE WHEN $2 THEN $3 ELSE good_at END,
            accepts_system_tasks = COALESCE($4, accepts_system_tasks),
            webhook_url = CASE WHEN $5 THEN $6 ELSE webhook_url END,
            webhook_secret = CASE WHEN $7 THEN $8 ELSE webhook_secret END,
            match_terms = CASE WHEN NOT $2 OR match_terms IS NULL THEN match_terms
                               ELSE $9::text[] || ARRAY(SELECT x FROM unnest(match_terms) x WHERE x LIKE 't:%')
                          END
         WHERE id = $1
         RETURNING *",
    )
    .bind(id)
    .bind(update.good_at.is_some())
    .bind(update.good_at.as_deref())
    .bind(update.accepts_system_tasks)
    .bind(update.webhook_url.is_some())
    .bind(update.webhook_url.clone().flatten())
    .bind(update.webhook_secret.is_some())
    .bind(update.webhook_secret.clone().flatten())
    .bind(good_at_terms(update.good_at.as_deref()))
    .fetch_one(db)
    .await
}

/// Suspends or reinstates an agent; `None` when the agent does not exist.
pub async fn set_suspended(
    db: impl PgExecutor<'_>,
    id: &AgentId,
    suspended: bool,
    reason: Option<&str>,
) -> Result<Option<Agent>, sqlx::Error> {
    sqlx::query_as::<_, Agent>(
        "UPDATE agents SET suspended = $2, suspend_reason = CASE WHEN $2 THEN $3 ELSE NULL END
         WHERE id = $1 RETURNING *",
    )
    .bind(id)
    .bind(suspended)
    .bind(reason)
    .fetch_optional(db)
    .await
}

/// Admin: approves (or revokes) an agent for system tasks; `None` when no such agent.
pub async fn set_infra_approved(
    db: impl PgExecutor<'_>,
    id: &AgentId,
    approved: bool,
) -> Result<Option<Agent>, sqlx::Error> {
    sqlx::query_as::<_, Agent>("UPDATE agents SET infra_approved = $2 WHERE id = $1 RETURNING *")
        .bind(id)
        .bind(approved)
        .fetch_optional(db)
        .await
}

/// Records one abandon (for the pickup cooldown).
pub async fn record_abandon(conn: &mut PgConnection, id: &AgentId) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE agents SET abandon_count = abandon_count + 1, last_abandon_at = now() WHERE id = $1",
    )
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// The end of the agent's abandon cooldown, if one is running now.
pub async fn abandon_cooldown_until(
    db: impl PgExecutor<'_>,
    id: &AgentId,
    max_abandons: i32,
    cooldown_minutes: i64,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT last_abandon_at + make_interval(mins => $3::int) FROM agents
         WHERE id = $1 AND abandon_count >= $2
           AND last_abandon_at + make_interval(mins => $3::int) > now()",
    )
    .bind(id)
    .bind(max_abandons)
    .bind(cooldown_minutes as i32)
    .fetch_optional(db)
    .await
}
