//! Matching's statements: system tasks, match rows, routing state and the
//! match/verification timers. Every write is guarded so that running it twice,
//! or in two matcher instances at once, changes nothing the second time.

use sqlx::{PgConnection, PgExecutor};

use crate::domain::SystemTaskType;
use crate::{
    domain::Credits,
    ids::{AgentId, TaskId},
};

/// A possible worker as the matchers see it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Candidate {
    pub id: AgentId,
    pub good_at: String,
    pub capability_tags: Vec<String>,
    pub reputation: f64,
}

/// Agents that may be matched to a task of `poster_id`: not the platform, not
/// the poster, not suspended, with a non-empty `good_at`; the best `limit` by
/// reputation (then age). What a match_agents prompt lists.
pub async fn candidates(
    db: impl PgExecutor<'_>,
    platform_id: &AgentId,
    poster_id: &AgentId,
    limit: i64,
) -> Result<Vec<Candidate>, sqlx::Error> {
    sqlx::query_as::<_, Candidate>(
        "SELECT id, good_at, COALESCE(capability_tags, '{}') AS capability_tags, reputation
         FROM agents
         WHERE id <> $1 AND id <> $2 AND NOT suspended
           AND good_at IS NOT NULL AND btrim(good_at) <> ''
         ORDER BY reputation DESC, created_at ASC, id
         LIMIT $3",
    )
    .bind(platform_id)
    .bind(poster_id)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// A possible worker as the built-in matcher sees it: the task's terms it
/// has, read from the match-terms index, or (terms not computed yet) what
/// they are computed from.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TermCandidate {
    pub id: AgentId,
    pub reputation: f64,
    /// Those of the task's terms that the agent has; `None` when its match
    /// terms are not computed yet.
    pub shared_terms: Option<Vec<String>>,
    /// Only when `shared_terms` is `None`.
    pub good_at: Option<String>,
    /// Only when `shared_terms` is `None`.
    pub capability_tags: Option<Vec<String>>,
}

/// The built-in matcher's candidates for a task with match terms `terms`:
/// the best `limit` (by reputation, then age, then id) of the agents that may
/// be matched (as [`candidates`]) and share one of the terms, or whose terms
/// are not computed yet; in that order.
///
/// Read from the index alone: for each term, the best `limit` entries of
/// `agent_match_terms_best_idx` (and of the agents without terms, the best
/// `limit` of `agents_match_terms_missing_idx`), and the best `limit` of
/// their union are exactly the best `limit` of all agents sharing a term.
/// An agent among those is also among the first `limit` entries of every
/// term it shares (all terms' entries are in the same order, so each entry
/// before it is a distinct agent before it in the union), so the entries
/// read list all the task's terms it has: its `shared_terms` are complete
/// without reading the agent's row. Entries read are bounded by
/// (terms + 1) × limit, whatever the number of agents.
pub async fn builtin_candidates(
    db: impl PgExecutor<'_>,
    platform_id: &AgentId,
    poster_id: &AgentId,
    terms: &[String],
    limit: i64,
) -> Result<Vec<TermCandidate>, sqlx::Error> {
    // agent_match_terms holds only agents that may be matched (its trigger
    // leaves out suspended agents and those without a good_at).
    sqlx::query_as::<_, TermCandidate>(
        "WITH terms AS (SELECT DISTINCT unnest($4::text[]) AS term),
         hits AS (
            SELECT h.agent_id, h.reputation, h.created_at, terms.term
            FROM terms CROSS JOIN LATERAL (
                SELECT m.agent_id, m.reputation, m.created_at FROM agent_match_terms m
                WHERE m.term = terms.term AND m.agent_id <> $1 AND m.agent_id <> $2
                ORDER BY m.reputation DESC, m.created_at, m.agent_id
                LIMIT $3) h
         ), indexed AS (
            SELECT agent_id AS id, reputation, created_at, array_agg(term) AS shared_terms
            FROM hits
            GROUP BY agent_id, reputation, created_at
            ORDER BY reputation DESC, created_at, agent_id
            LIMIT $3
         )
         SELECT id, reputation, created_at, shared_terms,
                NULL::text AS good_at, NULL::text[] AS capability_tags
         FROM indexed
         UNION ALL
         (SELECT a.id, a.reputation, a.created_at, NULL, a.good_at, COALESCE(a.capability_tags, '{}')
          FROM agents a
          WHERE a.match_terms IS NULL AND a.id <> $1 AND a.id <> $2 AND NOT a.suspended
            AND a.good_at IS NOT NULL AND btrim(a.good_at) <> ''
          ORDER BY a.reputation DESC, a.created_at, a.id
          LIMIT $3)
         ORDER BY reputation DESC, created_at, id
         LIMIT $3",
    )
    .bind(platform_id)
    .bind(poster_id)
    .bind(limit)
    .bind(terms)
    .fetch_all(db)
    .await
}

/// An agent whose match terms are not computed yet.
#[derive(Debug, sqlx::FromRow)]
pub struct UnindexedAgent {
    pub id: AgentId,
    pub good_at: Option<String>,
    pub capability_tags: Option<Vec<String>>,
}

/// Locks up to `limit` agents without match terms (skipping rows another
/// transaction holds).
pub async fn agents_without_terms(
    conn: &mut PgConnection,
    limit: i64,
) -> Result<Vec<UnindexedAgent>, sqlx::Error> {
    sqlx::query_as::<_, UnindexedAgent>(
        "SELECT id, good_at, capability_tags FROM agents
         WHERE match_terms IS NULL
         LIMIT $1
         FOR UPDATE SKIP LOCKED",
    )
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Stores an agent's match terms.
pub async fn set_match_terms(
    conn: &mut PgConnection,
    agent_id: &AgentId,
    terms: &[String],
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE agents SET match_terms = $2 WHERE id = $1")
        .bind(agent_id)
        .bind(terms)
        .execute(conn)
        .await?;
    Ok(())
}

/// Locks a regular task that still waits for a routing decision: posted,
/// `pending`, and without a match_agents system task. `None` when the task was
/// already routed (or is gone), which makes every handler idempotent.
pub async fn lock_unrouted(
    conn: &mut PgConnection,
    task_id: &TaskId,
) -> Result<Option<crate::db::tasks::Task>, sqlx::Error> {
    sqlx::query_as::<_, crate::db::tasks::Task>(
        "SELECT * FROM tasks t
         WHERE t.id = $1 AND t.status = 'posted' AND t.match_status = 'pending' AND NOT t.is_system
           AND NOT EXISTS (SELECT 1 FROM tasks s
                           WHERE s.parent_task_id = t.id AND s.system_task_type = 'match_agents')
         FOR UPDATE",
    )
    .bind(task_id)
    .fetch_optional(conn)
    .await
}

/// Locks a task row (any state).
pub async fn lock_task(
    conn: &mut PgConnection,
    task_id: &TaskId,
) -> Result<Option<crate::db::tasks::Task>, sqlx::Error> {
    sqlx::query_as::<_, crate::db::tasks::Task>("SELECT * FROM tasks WHERE id = $1 FOR UPDATE")
        .bind(task_id)
        .fetch_optional(conn)
        .await
}

/// Locks an agent row, serialising concurrent profile handlers for it.
pub async fn lock_agent(
    conn: &mut PgConnection,
    agent_id: &AgentId,
) -> Result<Option<crate::db::agents::Agent>, sqlx::Error> {
    sqlx::query_as::<_, crate::db::agents::Agent>("SELECT * FROM agents WHERE id = $1 FOR UPDATE")
        .bind(agent_id)
        .fetch_optional(conn)
        .await
}

/// Fields of a new system task (posted by the platform, nothing escrowed).
#[derive(Debug)]
pub struct NewSystemTask<'a> {
    pub id: &'a TaskId,
    pub platform_id: &'a AgentId,
    pub kind: SystemTaskType,
    pub need: &'a str,
    pub context: Option<&'a str>,
    pub credits: Credits,
    pub parent_task_id: Option<&'a TaskId>,
    pub target_agent_id: Option<&'a AgentId>,
    pub expire_hours: i64,
}

/// Inserts a system task unless one of the uniqueness rules of migration 0005
/// already holds one; returns whether it was inserted.
pub async fn insert_system_task(
    conn: &mut PgConnection,
    task: &NewSystemTask<'_>,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO tasks (id, poster_id, need, context, max_credits, escrowed, is_system,
                            system_task_type, parent_task_id, target_agent_id, expires_at)
         VALUES ($1, $2, $3, $4, $5, false, true, $6, $7, $8, now() + make_interval(hours => $9::int))
         ON CONFLICT DO NOTHING",
    )
    .bind(task.id)
    .bind(task.platform_id)
    .bind(task.need)
    .bind(task.context)
    .bind(task.credits)
    .bind(task.kind)
    .bind(task.parent_task_id)
    .bind(task.target_agent_id)
    .bind(task.expire_hours as i32)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// Routes a locked, pending task: `matched` (with a fresh match deadline, so
/// it falls back to broadcast if nobody matched picks it up) or `broadcast`.
/// Only applies while the task is still posted and pending.
pub async fn set_routed(
    conn: &mut PgConnection,
    task_id: &TaskId,
    matched: bool,
    extracted_tags: Option<&[String]>,
    match_timeout_seconds: i64,
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query(
        "UPDATE tasks SET
            match_status = CASE WHEN $2 THEN 'matched' ELSE 'broadcast' END,
            match_deadline = CASE WHEN $2 THEN now() + make_interval(secs => $4) END,
            extracted_tags = COALESCE($3, extracted_tags)
         WHERE id = $1 AND status = 'posted' AND match_status = 'pending'",
    )
    .bind(task_id)
    .bind(matched)
    .bind(extracted_tags)
    .bind(match_timeout_seconds as f64)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(updated == 1)
}

/// Ids among `ids` that name no agent (the platform agent counts as unknown).
pub async fn unknown_agents(
    db: impl PgExecutor<'_>,
    ids: &[AgentId],
    platform_id: &AgentId,
) -> Result<Vec<AgentId>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT x FROM unnest($1::text[]) WITH ORDINALITY AS u(x, n)
         WHERE x = $2 OR NOT EXISTS (SELECT 1 FROM agents a WHERE a.id = x)
         ORDER BY n",
    )
    .bind(ids)
    .bind(platform_id)
    .fetch_all(db)
    .await
}

/// Ids among `ids` of suspended agents (never matched).
pub async fn suspended_agents(
    db: impl PgExecutor<'_>,
    ids: &[AgentId],
) -> Result<Vec<AgentId>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM agents WHERE id = ANY($1) AND suspended")
        .bind(ids)
        .fetch_all(db)
        .await
}

/// Tasks still waiting for a routing decision with no match_agents task
/// (e.g. created while NATS was unreachable), oldest first.
pub async fn unrouted_tasks(
    db: impl PgExecutor<'_>,
    limit: i64,
) -> Result<Vec<TaskId>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT t.id FROM tasks t
         WHERE t.status = 'posted' AND t.match_status = 'pending' AND NOT t.is_system
           AND NOT EXISTS (SELECT 1 FROM tasks s
                           WHERE s.parent_task_id = t.id AND s.system_task_type = 'match_agents')
         ORDER BY t.created_at
         LIMIT $1",
    )
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Cancels the open verification tasks of a task (a new delivery makes them stale).
pub async fn cancel_open_verifications(
    conn: &mut PgConnection,
    parent_id: &TaskId,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE tasks SET status = 'cancelled'
         WHERE parent_task_id = $1 AND system_task_type = 'verify_completion'
           AND status IN ('posted', 'claimed')",
    )
    .bind(parent_id)
    .execute(conn)
    .await?
    .rows_affected())
}

/// Marks a delivered task's verification as pending until the deadline.
pub async fn set_verification_pending(
    conn: &mut PgConnection,
    task_id: &TaskId,
    timeout_seconds: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE tasks SET verification_status = 'pending', verification_result = NULL,
                verification_deadline = now() + make_interval(secs => $2)
         WHERE id = $1",
    )
    .bind(task_id)
    .bind(timeout_seconds as f64)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records a verification verdict while the task is delivered and its
/// verification still pending; returns whether it applied.
pub async fn record_verification(
    conn: &mut PgConnection,
    task_id: &TaskId,
    passed: bool,
    result: &str,
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query(
        "UPDATE tasks SET verification_status = CASE WHEN $2 THEN 'passed' ELSE 'failed' END,
                verification_result = $3, verification_deadline = NULL
         WHERE id = $1 AND status = 'delivered' AND verification_status = 'pending'",
    )
    .bind(task_id)
    .bind(passed)
    .bind(result)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(updated == 1)
}

/// Cancels an agent's unclaimed capability extractions whose prompt is not
/// `current_need` (its good_at changed since they were spawned).
pub async fn cancel_stale_extractions(
    conn: &mut PgConnection,
    agent_id: &AgentId,
    current_need: &str,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE tasks SET status = 'cancelled'
         WHERE target_agent_id = $1 AND system_task_type = 'extract_capabilities'
           AND status = 'posted' AND need <> $2",
    )
    .bind(agent_id)
    .bind(current_need)
    .execute(conn)
    .await?
    .rows_affected())
}

/// Replaces an agent's capability tags (`None` clears them) and their match
/// terms, keeping the good_at ones (terms not computed yet stay so).
pub async fn set_capability_tags(
    conn: &mut PgConnection,
    agent_id: &AgentId,
    tags: Option<&[String]>,
) -> Result<(), sqlx::Error> {
    let terms = crate::market::tag_terms(tags.unwrap_or_default());
    sqlx::query(
        "UPDATE agents SET capability_tags = $2,
            match_terms = CASE WHEN match_terms IS NULL THEN NULL
                               ELSE ARRAY(SELECT x FROM unnest(match_terms) x WHERE x NOT LIKE 't:%') || $3::text[]
                          END
         WHERE id = $1",
    )
    .bind(agent_id)
    .bind(tags)
    .bind(&terms)
    .execute(conn)
    .await?;
    Ok(())
}
