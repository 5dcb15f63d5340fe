//! The `tasks` table: inserts, the claim statement and every guarded transition.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor, PgPool};

use crate::{
    domain::{Credits, MatchStatus, SystemTaskType, TaskStatus},
    ids::{AgentId, TaskId},
};

/// A task as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Task {
    pub id: TaskId,
    pub poster_id: AgentId,
    pub worker_id: Option<AgentId>,
    pub need: String,
    pub context: Option<String>,
    pub result: Option<String>,
    pub status: TaskStatus,
    pub max_credits: Credits,
    pub credits_charged: Option<Credits>,
    pub tags: Vec<String>,
    pub extracted_tags: Vec<String>,
    pub escrowed: bool,
    pub is_system: bool,
    /// Never shown to infra agents (no match or verification system tasks).
    pub private: bool,
    pub system_task_type: Option<SystemTaskType>,
    pub parent_task_id: Option<TaskId>,
    pub target_agent_id: Option<AgentId>,
    pub match_status: Option<MatchStatus>,
    pub match_deadline: Option<DateTime<Utc>>,
    pub verification_status: Option<String>,
    pub rejection_reason: Option<String>,
    pub rejection_count: i32,
    pub rejection_grace_deadline: Option<DateTime<Utc>>,
    pub review_timeout_minutes: Option<i32>,
    pub claim_timeout_minutes: Option<i32>,
    pub claim_deadline: Option<DateTime<Utc>>,
    pub review_deadline: Option<DateTime<Utc>>,
    pub deadline: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub claimed_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub approved_at: Option<DateTime<Utc>>,
}

impl Task {
    /// The worker of a task in a state that has one (claimed, delivered,
    /// approved). A task without one there breaks an invariant the guarded
    /// transitions keep: an internal error, never an empty id.
    pub fn worker(&self) -> crate::Result<&AgentId> {
        self.worker_id.as_ref().ok_or_else(|| {
            crate::Error::Internal(anyhow::anyhow!(
                "task {} ({}) has no worker",
                self.id,
                self.status
            ))
        })
    }
}

/// A task with its poster's reputation, as returned by pickup and browse.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ListedTask {
    #[sqlx(flatten)]
    pub task: Task,
    pub poster_reputation: f64,
    pub match_rank: Option<i32>,
    pub is_matched: bool,
}

/// Fields of a new task.
#[derive(Debug)]
pub struct NewTask<'a> {
    pub id: &'a TaskId,
    pub poster_id: &'a AgentId,
    pub need: &'a str,
    pub context: Option<&'a str>,
    pub max_credits: Credits,
    pub tags: &'a [String],
    pub escrowed: bool,
    pub private: bool,
    pub system_task_type: Option<SystemTaskType>,
    pub parent_task_id: Option<&'a TaskId>,
    pub target_agent_id: Option<&'a AgentId>,
    pub match_status: Option<MatchStatus>,
    pub match_timeout_seconds: i64,
    pub deadline_minutes: Option<i64>,
    pub review_timeout_minutes: Option<i64>,
    pub claim_timeout_minutes: Option<i64>,
    pub expire_hours: i64,
}

/// Match rows `agents[i]` at rank `first_rank + i` with ids `ids[i]`
/// (idempotent), selected from the given source (`task.id` from a CTE
/// named `task`; `$n` with no source). Each argument is a SQL expression.
macro_rules! insert_matches_sql {
    (ids: $ids:literal, task: $task:literal, agents: $agents:literal, first_rank: $first:literal,
     from: $from:literal) => {
        concat!(
            "INSERT INTO task_matches (id, task_id, agent_id, rank)
             SELECT m.id, ",
            $task,
            ", m.agent_id, ",
            $first,
            " + (m.n - 1)::int
             FROM ",
            $from,
            " unnest(",
            $ids,
            "::text[], ",
            $agents,
            "::text[])
                  WITH ORDINALITY AS m(id, agent_id, n)
             ON CONFLICT (task_id, agent_id) DO NOTHING"
        )
    };
}

/// The task insert's columns and values (parameters `$1`–`$17`, bound by
/// [`bind_new_task`]), selected `FROM` the given source: `""` inserts
/// one row, a CTE's name inserts one per row of it (none when it is empty).
macro_rules! insert_task_sql {
    ($from:literal) => {
        concat!(
            "INSERT INTO tasks (id, poster_id, need, context, max_credits, tags, escrowed, is_system,
                                system_task_type, parent_task_id, target_agent_id, match_status,
                                match_deadline, deadline, review_timeout_minutes, claim_timeout_minutes,
                                expires_at, private)
             SELECT $1, $2, $3, $4, $5, $6, $7, $8 IS NOT NULL, $8, $9, $10, $11,
                    CASE WHEN $11 IN ('pending', 'matched') THEN now() + make_interval(secs => $12) END,
                    now() + make_interval(mins => $13::int),
                    $14, $15,
                    now() + make_interval(hours => $16::int), $17 ",
            $from,
            " RETURNING *"
        )
    };
}

/// Binds a new task's fields as `$1`–`$17` of [`insert_task_sql`].
fn bind_new_task<'q, O>(
    query: sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments>,
    task: &NewTask<'q>,
) -> sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments> {
    query
        .bind(task.id)
        .bind(task.poster_id)
        .bind(task.need)
        .bind(task.context)
        .bind(task.max_credits)
        .bind(task.tags)
        .bind(task.escrowed)
        .bind(task.system_task_type)
        .bind(task.parent_task_id)
        .bind(task.target_agent_id)
        .bind(task.match_status)
        .bind(task.match_timeout_seconds as f64)
        .bind(task.deadline_minutes.map(|m| m as i32))
        .bind(task.review_timeout_minutes.map(|m| m as i32))
        .bind(task.claim_timeout_minutes.map(|m| m as i32))
        .bind(task.expire_hours as i32)
        .bind(task.private)
}

/// Inserts a posted task.
pub async fn insert(conn: &mut PgConnection, task: &NewTask<'_>) -> Result<Task, sqlx::Error> {
    bind_new_task(sqlx::query_as::<_, Task>(insert_task_sql!("")), task)
        .fetch_one(conn)
        .await
}

/// Posts a task in one statement (no transaction needed around it): its
/// budget (`max_credits`) taken from its poster into escrow with the ledger
/// row, one more posted task on the poster's record, the task, and its
/// match rows (`matches[i]` at rank `i`). `None`, with nothing written, when
/// the poster's balance does not cover the budget.
pub async fn insert_escrowed(
    conn: &mut PgConnection,
    task: &NewTask<'_>,
    matches: &[AgentId],
) -> Result<Option<Task>, sqlx::Error> {
    let match_ids: Vec<String> = matches.iter().map(|_| crate::ids::new_id("mt")).collect();
    let query = sqlx::query_as::<_, Task>(concat!(
        "WITH ",
        crate::db::ledger::take_ctes_sql!(
            ledger_id: "$18", agent: "$2", amount: "$5", reason: "'escrow'", task: "$1",
            posted: "true",
        ),
        ", task AS (",
        insert_task_sql!("FROM balance"),
        "), matched AS (",
        insert_matches_sql!(ids: "$19", task: "task.id", agents: "$20", first_rank: "0", from: "task,"),
        ") SELECT * FROM task"
    ));
    bind_new_task(query, task)
        .bind(crate::ids::new_id("le"))
        .bind(&match_ids)
        .bind(matches)
        .fetch_optional(conn)
        .await
}

/// A task by id.
pub async fn get(db: impl PgExecutor<'_>, id: &TaskId) -> Result<Option<Task>, sqlx::Error> {
    sqlx::query_as::<_, Task>("SELECT * FROM tasks WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await
}

/// Adds a match row (idempotent).
pub async fn insert_match(
    conn: &mut PgConnection,
    task_id: &TaskId,
    agent_id: &AgentId,
    rank: i32,
) -> Result<(), sqlx::Error> {
    insert_matches(conn, task_id, std::slice::from_ref(agent_id), rank).await
}

/// Adds match rows in one statement (idempotent): `agents[i]` at rank
/// `first_rank + i`.
pub async fn insert_matches(
    conn: &mut PgConnection,
    task_id: &TaskId,
    agents: &[AgentId],
    first_rank: i32,
) -> Result<(), sqlx::Error> {
    if agents.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = agents.iter().map(|_| crate::ids::new_id("mt")).collect();
    sqlx::query(
        insert_matches_sql!(ids: "$1", task: "$2", agents: "$3", first_rank: "$4", from: ""),
    )
    .bind(&ids)
    .bind(task_id)
    .bind(agents)
    .bind(first_rank)
    .execute(conn)
    .await?;
    Ok(())
}

/// Agents holding a match row for a task.
pub async fn matched_agents(
    db: impl PgExecutor<'_>,
    task_id: &TaskId,
) -> Result<Vec<AgentId>, sqlx::Error> {
    sqlx::query_scalar("SELECT agent_id FROM task_matches WHERE task_id = $1 ORDER BY rank")
        .bind(task_id)
        .fetch_all(db)
        .await
}

/// What a worker asks of the pool.
#[derive(Debug, Clone, Default)]
pub struct PoolFilter {
    /// Every tag must be among the task's own tags (lower-cased, case-insensitive).
    pub tags: Vec<String>,
    /// Case-insensitive substring of need or context.
    pub search: Option<String>,
}

impl PoolFilter {
    fn search_pattern(&self) -> Option<String> {
        self.search.as_deref().map(|s| {
            let escaped = s
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            format!("%{escaped}%")
        })
    }

    fn tags_lower(&self) -> Vec<String> {
        self.tags.iter().map(|t| t.to_lowercase()).collect()
    }
}

/// The tasks the worker asked for and may take: tag filter $3, search pattern
/// $4, and not a task they did system work on (the conflict rule).
const POOL_FILTERS: &str = "
    (cardinality($3::text[]) = 0 OR ARRAY(SELECT lower(x) FROM unnest(c.tags) x) @> $3::text[])
    AND ($4::text IS NULL OR c.need ILIKE $4 OR c.context ILIKE $4)
    AND NOT EXISTS (SELECT 1 FROM tasks s WHERE s.parent_task_id = c.id AND s.worker_id = $1)";

/// A regular task open to worker $1 (broadcast or pending, or matched to
/// them: `m` is their match row), not their own, passing [`POOL_FILTERS`].
fn regular_eligible() -> String {
    format!(
        "NOT c.is_system
         AND (c.match_status IN ('broadcast', 'pending') OR (c.match_status = 'matched' AND m.agent_id IS NOT NULL))
         AND {POOL_FILTERS}"
    )
}

/// Eligibility of a system task for infra agent $1: never work about the
/// agent itself — matching or verifying a task it posted, verifying its own
/// delivery, or extracting its own capabilities (conflict rule, closing the
/// original's gaps at claim time so such tasks simply go to another agent).
const SYSTEM_ELIGIBLE: &str = "
    c.target_agent_id IS DISTINCT FROM $1
    AND NOT EXISTS (SELECT 1 FROM tasks par WHERE par.id = c.parent_task_id
                    AND (par.poster_id = $1 OR par.worker_id = $1))";

/// Lower-cased tags and extracted tags of task `c` (the expression of
/// `tasks_open_pool_tags_idx`).
const TASK_TERMS: &str = "task_terms_lower(c.tags || c.extracted_tags)";

/// Task `c` has tags, which puts it in `tasks_open_pool_tags_idx` while it is
/// open (a query says so for the planner to use that index).
const HAS_TERMS: &str = "(c.tags <> '{}' OR c.extracted_tags <> '{}')";

/// Task `c` shares a capability tag with the caller ($2), in a form the
/// planner answers from `tasks_open_pool_tags_idx`.
fn shares_a_tag() -> String {
    format!("{HAS_TERMS} AND {TASK_TERMS} && $2::text[]")
}

/// Overlap between task `c`'s tags and the caller's `tags` capability tags
/// ($2, lower-cased and distinct): one containment test per capability tag,
/// no subquery per task, so ranking many tasks stays cheap.
fn tag_overlap(tags: usize) -> String {
    if tags == 0 {
        return "0".into();
    }
    let tests: Vec<String> = (1..=tags)
        .map(|i| format!("({TASK_TERMS} @> ARRAY[($2::text[])[{i}]])::int"))
        .collect();
    format!("({})", tests.join(" + "))
}

/// The full claim order: system tasks for infra agents ($5), then tasks
/// matched to the worker by rank, then the open pool by tag overlap, poster
/// reputation, the poster's trust in the worker and age. It ranks every
/// eligible posted task `among` allows (a condition on `c`, or "true"), so
/// without a bound its cost grows with the pool.
fn pick_full(tags: usize, among: &str) -> String {
    // Without capability tags every overlap is 0: leaving it out changes no order.
    let overlap = if tags > 0 {
        format!("{} DESC,", tag_overlap(tags))
    } else {
        String::new()
    };
    let regular = regular_eligible();
    format!(
        "pick AS (
            SELECT c.id, m.rank
            FROM tasks c
            JOIN agents p ON p.id = c.poster_id
            LEFT JOIN task_matches m ON m.task_id = c.id AND m.agent_id = $1
            LEFT JOIN agent_trust tr ON tr.truster_id = c.poster_id AND tr.trusted_id = $1
            WHERE c.status = 'posted' AND c.poster_id <> $1 AND NOT p.suspended AND {among}
              AND ((c.is_system AND $5 AND {SYSTEM_ELIGIBLE}) OR ({regular}))
            ORDER BY c.is_system DESC,
                     (c.match_status = 'matched' AND m.agent_id IS NOT NULL) DESC,
                     m.rank ASC NULLS LAST,
                     {overlap}
                     p.reputation DESC,
                     COALESCE(tr.score, 0.5) DESC,
                     c.created_at ASC
            LIMIT 1
            FOR UPDATE OF c SKIP LOCKED
         )"
    )
}

/// The same choice, bounded by indexes, for the common worker: not infra, no
/// capability tags (every overlap 0) and no posted task matched to them, so
/// the order reduces to (poster reputation, trust) then age. Those depend on
/// the poster only: a loose scan of `tasks_open_pool_poster_idx` lists the
/// posters with open tasks, the best (reputation, trust) class is taken, and
/// its oldest task is read in `tasks_open_pool_age_idx` order. Finds nothing when that
/// class has no task this worker may take right now; the full order decides then.
fn pick_fast() -> String {
    format!(
        "RECURSIVE posters(id) AS (
            SELECT min(poster_id) FROM tasks
            WHERE status = 'posted' AND NOT is_system AND match_status IN ('broadcast', 'pending')
          UNION ALL
            SELECT (SELECT min(poster_id) FROM tasks
                    WHERE status = 'posted' AND NOT is_system AND match_status IN ('broadcast', 'pending')
                      AND poster_id > posters.id)
            FROM posters WHERE posters.id IS NOT NULL
         ), best AS (
            -- Subqueries, not joins: one index probe per poster, never a scan of all agents.
            SELECT (SELECT a.reputation FROM agents a WHERE a.id = posters.id) AS reputation,
                   COALESCE((SELECT tr.score FROM agent_trust tr
                             WHERE tr.truster_id = posters.id AND tr.trusted_id = $1), 0.5) AS trust
            FROM posters
            WHERE posters.id IS NOT NULL AND posters.id <> $1
            ORDER BY 1 DESC, 2 DESC
            LIMIT 1
         ), pick AS (
            SELECT c.id, NULL::int AS rank
            FROM tasks c
            JOIN agents p ON p.id = c.poster_id
            LEFT JOIN agent_trust tr ON tr.truster_id = c.poster_id AND tr.trusted_id = $1
            CROSS JOIN best
            WHERE c.status = 'posted' AND NOT c.is_system
              AND c.match_status IN ('broadcast', 'pending') AND c.poster_id <> $1
              AND NOT p.suspended
              AND p.reputation = best.reputation AND COALESCE(tr.score, 0.5) = best.trust
              AND {POOL_FILTERS}
              AND NOT EXISTS (SELECT 1 FROM task_matches mm JOIN tasks mt ON mt.id = mm.task_id
                              WHERE mm.agent_id = $1 AND mt.status = 'posted')
            ORDER BY c.created_at ASC
            LIMIT 1
            FOR UPDATE OF c SKIP LOCKED
         )"
    )
}

/// The parameters of the claim statements: worker $1, capability tags $2,
/// filter tags $3, search pattern $4, infra $5, default claim timeout $6.
struct Claimant<'a> {
    worker_id: &'a AgentId,
    capability_tags: &'a [String],
    filter: &'a PoolFilter,
    infra: bool,
    default_claim_timeout_minutes: i64,
}

/// Runs one claim statement: the `pick` CTE (and its helpers) chooses, the
/// update claims it unless someone else changed it in between.
async fn claim_picked(
    conn: &mut PgConnection,
    pick: &str,
    who: &Claimant<'_>,
) -> Result<Option<ListedTask>, sqlx::Error> {
    let sql = format!(
        "WITH {pick}, claimed AS (
            UPDATE tasks t SET status = 'claimed', worker_id = $1, claimed_at = now(),
                   claim_deadline = now() + make_interval(mins => COALESCE(t.claim_timeout_minutes, $6::int))
            FROM pick WHERE t.id = pick.id AND t.status = 'posted'
            RETURNING t.*, pick.rank AS match_rank
         )
         SELECT claimed.*, p.reputation AS poster_reputation,
                (claimed.match_status = 'matched' AND claimed.match_rank IS NOT NULL) AS is_matched
         FROM claimed JOIN agents p ON p.id = claimed.poster_id"
    );
    sqlx::query_as::<_, ListedTask>(sqlx::AssertSqlSafe(sql))
        .bind(who.worker_id)
        .bind(who.capability_tags)
        .bind(who.filter.tags_lower())
        .bind(who.filter.search_pattern())
        .bind(who.infra)
        .bind(who.default_claim_timeout_minutes as i32)
        .fetch_optional(conn)
        .await
}

/// Claims the best task for a worker: phase 0 system tasks for infra agents,
/// then tasks matched to the worker by rank, then the open pool by tag
/// overlap, poster reputation, the poster's trust in the worker and age.
/// Rows other transactions hold are skipped, never waited for. Workers who are
/// not infra agents try bounded statements first, each the same choice over
/// the part of the pool that comes first for them: their matched and
/// tag-sharing tasks (with capability tags), then the index-bounded order of
/// the rest ([`pick_fast`]); the full order decides when both find nothing.
pub async fn claim_next(
    conn: &mut PgConnection,
    worker_id: &AgentId,
    capability_tags: &[String],
    filter: &PoolFilter,
    infra: bool,
    default_claim_timeout_minutes: i64,
) -> Result<Option<ListedTask>, sqlx::Error> {
    let who = Claimant {
        worker_id,
        capability_tags,
        filter,
        infra,
        default_claim_timeout_minutes,
    };
    let tags = capability_tags.len();
    if !infra {
        // A worker with capability tags takes the tasks matched to them or
        // sharing a tag first, whatever else is open: rank only those.
        if tags > 0 {
            let claimed = claim_picked(conn, &pick_full(tags, &matched_or_sharing()), &who).await?;
            if claimed.is_some() {
                return Ok(claimed);
            }
        }
        // Every task left to them overlaps in nothing: the index-bounded order.
        let claimed = claim_picked(conn, &pick_fast(), &who).await?;
        if claimed.is_some() {
            return Ok(claimed);
        }
    }
    claim_picked(conn, &pick_full(tags, "true"), &who).await
}

/// Task `c` is matched to worker $1, or an open pool task sharing one of
/// their capability tags $2 (found in `tasks_open_pool_tags_idx`).
fn matched_or_sharing() -> String {
    format!(
        "c.id IN (SELECT m.task_id FROM task_matches m WHERE m.agent_id = $1
                  UNION ALL
                  SELECT c.id FROM tasks c WHERE {OPEN_POOL} AND {})",
        shares_a_tag()
    )
}

/// Claims one specific posted, regular task for a worker who did no system
/// work on it, of a poster not suspended; `None` when it is not claimable by
/// this worker (the caller reads why) or someone else won the race.
pub async fn claim_specific(
    conn: &mut PgConnection,
    task_id: &TaskId,
    worker_id: &AgentId,
    default_claim_timeout_minutes: i64,
) -> Result<Option<ListedTask>, sqlx::Error> {
    sqlx::query_as::<_, ListedTask>(
        "WITH claimed AS (
            UPDATE tasks t SET status = 'claimed', worker_id = $2, claimed_at = now(),
                   claim_deadline = now() + make_interval(mins => COALESCE(t.claim_timeout_minutes, $3::int))
            WHERE t.id = $1 AND t.status = 'posted' AND t.poster_id <> $2 AND NOT t.is_system
              AND NOT EXISTS (SELECT 1 FROM agents s WHERE s.id = t.poster_id AND s.suspended)
              AND NOT EXISTS (SELECT 1 FROM tasks c WHERE c.parent_task_id = t.id AND c.worker_id = $2)
            RETURNING t.*
         )
         SELECT claimed.*, p.reputation AS poster_reputation, m.rank AS match_rank,
                (claimed.match_status = 'matched' AND m.rank IS NOT NULL) AS is_matched
         FROM claimed JOIN agents p ON p.id = claimed.poster_id
         LEFT JOIN task_matches m ON m.task_id = claimed.id AND m.agent_id = $2",
    )
    .bind(task_id)
    .bind(worker_id)
    .bind(default_claim_timeout_minutes as i32)
    .fetch_optional(conn)
    .await
}

/// Whether the agent worked a system task whose parent is this task.
pub async fn did_system_work_on(
    db: impl PgExecutor<'_>,
    task_id: &TaskId,
    agent_id: &AgentId,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM tasks WHERE parent_task_id = $1 AND worker_id = $2)",
    )
    .bind(task_id)
    .bind(agent_id)
    .fetch_one(db)
    .await
}

/// How far past the requested page `GET /v1/tasks/available` counts: its
/// `total` is exact below offset + limit + this, and that sum above it, so
/// a page costs the same in a market of a thousand open tasks or a million.
pub const BROWSE_COUNT_AHEAD: i64 = 1_000;

/// The tasks of the browse listing that are matched to worker $1 (they hold
/// a match row): first in the listing, in match-rank order. Bounded by the
/// worker's match rows, whatever the size of the pool.
fn browse_matched(overlap: &str) -> String {
    format!(
        "SELECT c.id, 0 AS part, c.match_status = 'matched' AS is_matched, m.rank AS match_rank,
                {overlap} AS overlap, c.created_at
         FROM task_matches m JOIN tasks c ON c.id = m.task_id
         WHERE m.agent_id = $1 AND c.status = 'posted' AND NOT c.is_system
           AND c.match_status IN ('broadcast', 'pending', 'matched')
           AND c.poster_id <> $1 AND {POSTER_ACTIVE} AND {POOL_FILTERS}"
    )
}

/// The open pool: the predicate of the `tasks_open_pool_*` indexes.
const OPEN_POOL: &str =
    "c.status = 'posted' AND NOT c.is_system AND c.match_status IN ('broadcast', 'pending')";

/// What a pool task `c` must also pass to be listed for worker $1 (the
/// matched part lists the tasks with a match row for them).
fn browse_pool_filters() -> String {
    format!(
        "c.poster_id <> $1 AND {POSTER_ACTIVE} AND {POOL_FILTERS}
         AND NOT EXISTS (SELECT 1 FROM task_matches m WHERE m.task_id = c.id AND m.agent_id = $1)"
    )
}

/// The poster of task `c` is not suspended (an anti-join, which leaves a scan
/// of the whole pool free to run in parallel).
const POSTER_ACTIVE: &str =
    "NOT EXISTS (SELECT 1 FROM agents a WHERE a.id = c.poster_id AND a.suspended)";

/// One page of the tasks a worker may pick up, in browse order (matched by
/// rank, then tag overlap, then age), with their number counted up to
/// [`BROWSE_COUNT_AHEAD`] past the page. Three parts, each cut to the page's
/// end before they are merged: the worker's matched tasks; the pool tasks
/// sharing a capability tag, read from the tag index and ranked by overlap
/// before the per-task filters run on the best of them; and the rest of the
/// pool oldest first, read from the age index until the page is full.
pub async fn browse(
    db: &PgPool,
    worker_id: &AgentId,
    capability_tags: &[String],
    filter: &PoolFilter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<ListedTask>, i64), sqlx::Error> {
    let overlap = tag_overlap(capability_tags.len());
    let (matched, filters) = (browse_matched(&overlap), browse_pool_filters());
    let shares = shares_a_tag();
    // A search may match almost nothing: walking the age index for a page of
    // matches could then visit every open task at random. "OFFSET 0" keeps
    // the planner from pulling the scan into the ordered query, so it reads
    // the pool in one sequential pass and sorts what matched.
    let scan_all = if filter.search.is_some() {
        " OFFSET 0"
    } else {
        ""
    };
    // A tag filter narrows the pool through the tag index too (a task's own
    // tags are among its terms; POOL_FILTERS then checks the own tags).
    let pool = if filter.tags.is_empty() {
        OPEN_POOL.to_string()
    } else {
        format!("{OPEN_POOL} AND {HAS_TERMS} AND {TASK_TERMS} @> $3::text[]")
    };
    let page = format!(
        "SELECT c.*, p.reputation AS poster_reputation, o.match_rank, o.is_matched
         FROM (
            ({matched} ORDER BY 3 DESC, 4 ASC NULLS LAST, 5 DESC, 6, 1 LIMIT $7)
            UNION ALL
            (SELECT s.id, 1, false, NULL::int, s.overlap, s.created_at
             FROM (SELECT c.id, {overlap} AS overlap, c.created_at FROM tasks c
                   WHERE {pool} AND {shares} ORDER BY 2 DESC, 3, 1) s
             JOIN tasks c ON c.id = s.id
             WHERE {filters}
             ORDER BY s.overlap DESC, s.created_at, s.id LIMIT $7)
            UNION ALL
            (SELECT r.id, 2, false, NULL::int, 0, r.created_at
             FROM (SELECT c.id, c.created_at FROM tasks c
                   WHERE {pool} AND NOT ({shares}) AND {filters}{scan_all}) r
             ORDER BY r.created_at, r.id LIMIT $7)
         ) o
         JOIN tasks c ON c.id = o.id
         JOIN agents p ON p.id = c.poster_id
         ORDER BY o.part, o.is_matched DESC, o.match_rank ASC NULLS LAST, o.overlap DESC,
                  o.created_at, o.id
         LIMIT $5 OFFSET $6"
    );
    let end = offset.saturating_add(limit);
    let tasks = sqlx::query_as::<_, ListedTask>(sqlx::AssertSqlSafe(page))
        .bind(worker_id)
        .bind(capability_tags)
        .bind(filter.tags_lower())
        .bind(filter.search_pattern())
        .bind(limit)
        .bind(offset)
        .bind(end)
        .fetch_all(db)
        .await?;
    let count = format!(
        "SELECT count(*) FROM (
            (SELECT 1 FROM ({}) a LIMIT $5)
            UNION ALL
            (SELECT 1 FROM (SELECT 1 FROM tasks c WHERE {pool} AND {filters}{scan_all}) r LIMIT $5)
            LIMIT $5
         ) n",
        browse_matched("0")
    );
    let total = sqlx::query_scalar(sqlx::AssertSqlSafe(count))
        .bind(worker_id)
        .bind(capability_tags)
        .bind(filter.tags_lower())
        .bind(filter.search_pattern())
        .bind(end.saturating_add(BROWSE_COUNT_AHEAD))
        .fetch_one(db)
        .await?;
    Ok((tasks, total))
}

/// Which side of a task the caller is on, for `GET /v1/tasks/mine`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Poster,
    Worker,
    Either,
}

/// One page of an agent's regular tasks, newest first, with the total count.
pub async fn mine(
    db: impl PgExecutor<'_>,
    agent_id: &AgentId,
    role: Role,
    status: Option<TaskStatus>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Task>, i64), sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        task: Task,
        total: i64,
    }
    let rows = sqlx::query_as::<_, Row>(
        "SELECT t.*, count(*) OVER () AS total FROM tasks t
         WHERE NOT t.is_system
           AND (($2 <> 'worker' AND t.poster_id = $1) OR ($2 <> 'poster' AND t.worker_id = $1))
           AND ($3::text IS NULL OR t.status = $3)
         ORDER BY t.created_at DESC, t.id
         LIMIT $4 OFFSET $5",
    )
    .bind(agent_id)
    .bind(match role {
        Role::Poster => "poster",
        Role::Worker => "worker",
        Role::Either => "either",
    })
    .bind(status)
    .bind(limit)
    .bind(offset)
    .fetch_all(db)
    .await?;
    let total = rows.first().map_or(0, |r| r.total);
    Ok((rows.into_iter().map(|r| r.task).collect(), total))
}

/// A delivered task, with whether infra agents exist to verify it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Delivered {
    #[sqlx(flatten)]
    pub task: Task,
    pub infra_agents_exist: bool,
}

/// The delivery update (claimed → delivered by its worker, `$1` the task,
/// `$2` the worker, `$3` the result, `$4` the credits claimed, capped at
/// max_credits, `$5` the default review timeout) with an extra condition.
macro_rules! deliver_sql {
    ($($and:tt)*) => {
        concat!(
            "UPDATE tasks SET status = 'delivered', result = $3,
                    credits_charged = LEAST(COALESCE($4, max_credits), max_credits),
                    delivered_at = now(), claim_deadline = NULL, rejection_grace_deadline = NULL,
                    review_deadline = now() + make_interval(mins => COALESCE(review_timeout_minutes, $5::int))
             WHERE id = $1 AND worker_id = $2 AND status = 'claimed' ",
            $($and)*,
            " RETURNING *"
        )
    };
}

/// A worker's delivery: the parameters `$1`–`$6` of [`deliver`] and
/// [`deliver_plain`].
pub struct Delivery<'a> {
    pub task_id: &'a TaskId,
    pub worker_id: &'a AgentId,
    pub result: &'a str,
    /// Capped at max_credits.
    pub credits_claimed: Option<Credits>,
    pub default_review_timeout_minutes: i64,
    /// Infra agents other than the platform decide the verification.
    pub platform_id: &'a AgentId,
}

impl<'a> Delivery<'a> {
    fn bind<O>(
        &self,
        query: sqlx::query::QueryAs<'a, sqlx::Postgres, O, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::QueryAs<'a, sqlx::Postgres, O, sqlx::postgres::PgArguments> {
        query
            .bind(self.task_id)
            .bind(self.worker_id)
            .bind(self.result)
            .bind(self.credits_claimed)
            .bind(self.default_review_timeout_minutes as i32)
            .bind(self.platform_id)
    }
}

/// claimed → delivered by its worker. Also reads whether infra agents
/// exist, which decides the verification, in the same statement.
pub async fn deliver(
    conn: &mut PgConnection,
    delivery: &Delivery<'_>,
) -> Result<Option<Delivered>, sqlx::Error> {
    delivery
        .bind(sqlx::query_as::<_, Delivered>(concat!(
            deliver_sql!(""),
            ", ",
            crate::db::agents::infra_agents_exist_sql!(6),
            " AS infra_agents_exist"
        )))
        .fetch_optional(conn)
        .await
}

/// [`deliver`] of a task that needs nothing else: a regular task, private or
/// with no infra agent to verify it, delivered with its `task_delivered`
/// event to the poster in one statement (no transaction needed around it).
/// `None`, with nothing written, for every other case (a system task, one
/// to verify, a refusal): the caller then runs the full delivery.
pub async fn deliver_plain(
    conn: &mut PgConnection,
    delivery: &Delivery<'_>,
) -> Result<Option<Task>, sqlx::Error> {
    delivery
        .bind(sqlx::query_as::<_, Task>(concat!(
            "WITH delivered AS (",
            deliver_sql!(concat!(
                "AND NOT is_system AND (private OR NOT ",
                crate::db::agents::infra_agents_exist_sql!(6),
                ")"
            )),
            "), event AS (INSERT INTO outbox (subject, payload, traceparent) SELECT ",
            crate::db::outbox::event_row_sql!(
                recipient: "delivered.poster_id", event: "$7", task: "delivered.id",
                data: "'{}'::jsonb", traceparent: "$8"
            ),
            " FROM delivered) SELECT * FROM delivered"
        )))
        .bind(crate::domain::EventType::TaskDelivered.as_str())
        .bind(crate::telemetry::current_traceparent())
        .fetch_optional(conn)
        .await
}

/// delivered → approved. `poster_id` = `None` for approvals by the platform
/// (review timeout, system tasks).
pub async fn approve(
    conn: &mut PgConnection,
    task_id: &TaskId,
    poster_id: Option<&AgentId>,
) -> Result<Option<Task>, sqlx::Error> {
    sqlx::query_as::<_, Task>(
        "UPDATE tasks SET status = 'approved', approved_at = now(), review_deadline = NULL
         WHERE id = $1 AND ($2::text IS NULL OR poster_id = $2) AND status = 'delivered'
         RETURNING *",
    )
    .bind(task_id)
    .bind(poster_id)
    .fetch_optional(conn)
    .await
}

/// delivered → claimed (grace period for the same worker), or → posted when
/// this rejection reaches `max_rejections`. Returns the task and the worker
/// who delivered.
pub async fn reject(
    conn: &mut PgConnection,
    task_id: &TaskId,
    poster_id: &AgentId,
    reason: &str,
    max_rejections: i32,
    grace_minutes: i64,
    expire_hours: i64,
) -> Result<Option<(Task, AgentId)>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        task: Task,
        previous_worker: AgentId,
    }
    let row = sqlx::query_as::<_, Row>(
        "WITH prev AS (SELECT worker_id FROM tasks WHERE id = $1)
         UPDATE tasks t SET
            rejection_count = t.rejection_count + 1,
            rejection_reason = $3,
            result = NULL, credits_charged = NULL, delivered_at = NULL, review_deadline = NULL,
            status = CASE WHEN t.rejection_count + 1 >= $4 THEN 'posted' ELSE 'claimed' END,
            worker_id = CASE WHEN t.rejection_count + 1 >= $4 THEN NULL ELSE t.worker_id END,
            claimed_at = CASE WHEN t.rejection_count + 1 >= $4 THEN NULL ELSE t.claimed_at END,
            rejection_grace_deadline = CASE WHEN t.rejection_count + 1 >= $4 THEN NULL
                                            ELSE now() + make_interval(mins => $5::int) END,
            claim_deadline = CASE WHEN t.rejection_count + 1 >= $4 THEN NULL
                                  ELSE now() + make_interval(mins => $5::int) END,
            expires_at = CASE WHEN t.rejection_count + 1 >= $4
                              THEN now() + make_interval(hours => $6::int) ELSE t.expires_at END,
            match_status = CASE WHEN t.rejection_count + 1 >= $4 THEN 'broadcast' ELSE t.match_status END
         FROM prev
         WHERE t.id = $1 AND t.poster_id = $2 AND t.status = 'delivered'
         RETURNING t.*, prev.worker_id AS previous_worker",
    )
    .bind(task_id)
    .bind(poster_id)
    .bind(reason)
    .bind(max_rejections)
    .bind(grace_minutes as i32)
    .bind(expire_hours as i32)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| (r.task, r.previous_worker)))
}

/// posted → cancelled by its poster.
pub async fn cancel(
    conn: &mut PgConnection,
    task_id: &TaskId,
    poster_id: &AgentId,
) -> Result<Option<Task>, sqlx::Error> {
    sqlx::query_as::<_, Task>(
        "UPDATE tasks SET status = 'cancelled', match_deadline = NULL
         WHERE id = $1 AND poster_id = $2 AND status = 'posted'
         RETURNING *",
    )
    .bind(task_id)
    .bind(poster_id)
    .fetch_optional(conn)
    .await
}

/// Credits paid for the match_agents work done on a task (0 without any).
pub async fn paid_matching(
    db: impl PgExecutor<'_>,
    task_id: &TaskId,
) -> Result<Credits, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT COALESCE(sum(credits_charged), 0)::bigint FROM tasks
         WHERE parent_task_id = $1 AND system_task_type = 'match_agents' AND status = 'approved'",
    )
    .bind(task_id)
    .fetch_one(db)
    .await
}

/// Cancels the still-open system tasks working on a task (nothing was escrowed).
pub async fn cancel_open_children(
    conn: &mut PgConnection,
    parent_id: &TaskId,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE tasks SET status = 'cancelled'
         WHERE parent_task_id = $1 AND is_system AND status IN ('posted', 'claimed')",
    )
    .bind(parent_id)
    .execute(conn)
    .await?
    .rows_affected())
}

/// claimed → posted by its worker; the task opens to everyone.
pub async fn abandon(
    conn: &mut PgConnection,
    task_id: &TaskId,
    worker_id: &AgentId,
    expire_hours: i64,
) -> Result<Option<Task>, sqlx::Error> {
    sqlx::query_as::<_, Task>(
        "UPDATE tasks SET status = 'posted', worker_id = NULL, claimed_at = NULL,
                claim_deadline = NULL, rejection_grace_deadline = NULL,
                expires_at = now() + make_interval(hours => $3::int),
                match_status = CASE WHEN is_system THEN NULL ELSE 'broadcast' END
         WHERE id = $1 AND worker_id = $2 AND status = 'claimed'
         RETURNING *",
    )
    .bind(task_id)
    .bind(worker_id)
    .bind(expire_hours as i32)
    .fetch_optional(conn)
    .await
}
