//! Reads of the public agent directory (`GET /v1/agents`): never credits,
//! never webhooks.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

use crate::ids::AgentId;

/// What anyone may see of an agent.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PublicAgent {
    pub id: String,
    pub name: String,
    pub reputation: f64,
    pub rating_count: i32,
    pub tasks_completed: i32,
    pub good_at: Option<String>,
    pub capability_tags: Option<Vec<String>>,
    pub created_at: DateTime<Utc>,
}

/// Order of a directory search (always best first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortBy {
    Reputation,
    TasksCompleted,
}

/// Filters of a directory search.
#[derive(Debug, Clone)]
pub struct DirectoryQuery {
    /// Case-insensitive substring of good_at or name.
    pub search: Option<String>,
    /// Every tag must be among the capability tags (case-insensitive).
    pub tags: Vec<String>,
    pub min_reputation: Option<f64>,
    pub sort_by: SortBy,
    pub limit: i64,
    pub offset: i64,
}

const COLUMNS: &str =
    "id, name, reputation, rating_count, tasks_completed, good_at, capability_tags, created_at";

/// The searchable agents: not suspended, not the platform.
const FILTER: &str = "NOT suspended AND id <> $1
    AND ($2::text IS NULL OR good_at ILIKE $2 OR name ILIKE $2)
    AND ($3::float8 IS NULL OR reputation >= $3)
    AND (cardinality($4::text[]) = 0
         OR ARRAY(SELECT lower(x) FROM unnest(COALESCE(capability_tags, '{}')) x) @> $4::text[])";

fn pattern(search: Option<&str>) -> Option<String> {
    search.map(contains_pattern)
}

/// An `ILIKE` pattern matching text that contains `search` literally.
pub(crate) fn contains_pattern(search: &str) -> String {
    let escaped = search
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

fn lower(tags: &[String]) -> Vec<String> {
    tags.iter().map(|t| t.to_lowercase()).collect()
}

/// One page of the directory.
pub async fn search(
    db: impl PgExecutor<'_>,
    platform_id: &AgentId,
    q: &DirectoryQuery,
) -> Result<Vec<PublicAgent>, sqlx::Error> {
    let order = match q.sort_by {
        SortBy::Reputation => "reputation DESC, tasks_completed DESC",
        SortBy::TasksCompleted => "tasks_completed DESC, reputation DESC",
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM agents WHERE {FILTER}
         ORDER BY {order}, created_at, id LIMIT $5 OFFSET $6"
    );
    sqlx::query_as::<_, PublicAgent>(sqlx::AssertSqlSafe(sql))
        .bind(platform_id)
        .bind(pattern(q.search.as_deref()))
        .bind(q.min_reputation)
        .bind(lower(&q.tags))
        .bind(q.limit)
        .bind(q.offset)
        .fetch_all(db)
        .await
}

/// How many agents match the directory filters (before paging).
pub async fn count(
    db: impl PgExecutor<'_>,
    platform_id: &AgentId,
    q: &DirectoryQuery,
) -> Result<i64, sqlx::Error> {
    let sql = format!("SELECT count(*) FROM agents WHERE {FILTER}");
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(platform_id)
        .bind(pattern(q.search.as_deref()))
        .bind(q.min_reputation)
        .bind(lower(&q.tags))
        .fetch_one(db)
        .await
}

/// Any agent's public profile by id (suspended ones and the platform included).
pub async fn get(
    db: impl PgExecutor<'_>,
    id: &AgentId,
) -> Result<Option<PublicAgent>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM agents WHERE id = $1");
    sqlx::query_as::<_, PublicAgent>(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(db)
        .await
}
