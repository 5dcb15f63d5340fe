//! The ledger: every balance change is a row written with it.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};

use crate::{
    domain::Credits,
    ids::{self, AgentId, TaskId},
};

/// Whether a ledger row mints credits or moves them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// New credits: signup, admin grants, genesis. Never tied to a task.
    Grant,
    /// Credits moving between balances and escrow.
    Transfer,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Grant => "grant",
            Self::Transfer => "transfer",
        }
    }
}

/// One ledger row as shown to its agent.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Entry {
    pub id: String,
    pub amount: Credits,
    pub reason: String,
    pub task_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Changes a balance by `amount` and writes its ledger row, in the caller's transaction.
pub async fn record(
    conn: &mut PgConnection,
    agent_id: &AgentId,
    amount: Credits,
    reason: &str,
    kind: Kind,
    task_id: Option<&TaskId>,
) -> Result<(), sqlx::Error> {
    credit(conn, agent_id, amount, reason, kind, task_id, false).await
}

/// Pays a worker for a completed task: the balance change, its `payment`
/// ledger row and one more completed task on the worker's record, in one
/// statement of the caller's transaction.
pub async fn pay_worker(
    conn: &mut PgConnection,
    worker_id: &AgentId,
    amount: Credits,
    task_id: &TaskId,
) -> Result<(), sqlx::Error> {
    credit(
        conn,
        worker_id,
        amount,
        "payment",
        Kind::Transfer,
        Some(task_id),
        true,
    )
    .await
}

async fn credit(
    conn: &mut PgConnection,
    agent_id: &AgentId,
    amount: Credits,
    reason: &str,
    kind: Kind,
    task_id: Option<&TaskId>,
    completed: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "WITH balance AS (
             UPDATE agents SET credits = credits + $3,
                    tasks_completed = tasks_completed + CASE WHEN $7 THEN 1 ELSE 0 END
             WHERE id = $2 RETURNING id)
         INSERT INTO ledger (id, agent_id, amount, reason, kind, task_id)
         SELECT $1, id, $3, $4, $5, $6 FROM balance",
    )
    .bind(ids::new_id("le"))
    .bind(agent_id)
    .bind(amount)
    .bind(reason)
    .bind(kind.as_str())
    .bind(task_id)
    .bind(completed)
    .execute(conn)
    .await?;
    Ok(())
}

/// Takes `amount` from a balance that covers it, with its ledger row (a
/// transfer). Returns the balance seen when it does not (`Err(balance)`).
pub async fn debit(
    conn: &mut PgConnection,
    agent_id: &AgentId,
    amount: Credits,
    reason: &str,
    task_id: &TaskId,
) -> Result<Result<(), Credits>, sqlx::Error> {
    take(conn, agent_id, amount, reason, task_id, false).await
}

/// Takes `amount` into escrow if the balance covers it. Returns the balance
/// seen when it does not (`Err(balance)`).
pub async fn take_escrow(
    conn: &mut PgConnection,
    agent_id: &AgentId,
    amount: Credits,
    task_id: &TaskId,
) -> Result<Result<(), Credits>, sqlx::Error> {
    take(conn, agent_id, amount, "escrow", task_id, false).await
}

/// The balance change and its ledger row as two CTEs, for statements that
/// fold a take in: `balance` holds the agent's id when its balance covered
/// the amount (no row otherwise, and then nothing is written), `taken` writes
/// the ledger row. Each argument is a SQL expression (usually a parameter);
/// `posted` counts one more posted task on the agent's record.
macro_rules! take_ctes_sql {
    (
        ledger_id: $id:literal,
        agent: $agent:literal,
        amount: $amount:literal,
        reason: $reason:literal,
        task: $task:literal,
        posted: $posted:literal $(,)?
    ) => {
        concat!(
            "balance AS (
                 UPDATE agents SET credits = credits - ",
            $amount,
            ",
                        tasks_posted = tasks_posted + CASE WHEN ",
            $posted,
            " THEN 1 ELSE 0 END
                 WHERE id = ",
            $agent,
            " AND credits >= ",
            $amount,
            " RETURNING id),
             taken AS (
                 INSERT INTO ledger (id, agent_id, amount, reason, kind, task_id)
                 SELECT ",
            $id,
            ", id, -",
            $amount,
            ", ",
            $reason,
            ", 'transfer', ",
            $task,
            "
                 FROM balance)"
        )
    };
}
pub(crate) use take_ctes_sql;

/// The balance change and its ledger row in one statement (one more posted
/// task on the agent's record when `posted`); the balance is read only when
/// it does not cover `amount`.
async fn take(
    conn: &mut PgConnection,
    agent_id: &AgentId,
    amount: Credits,
    reason: &str,
    task_id: &TaskId,
    posted: bool,
) -> Result<Result<(), Credits>, sqlx::Error> {
    let taken: i64 = sqlx::query_scalar(concat!(
        "WITH ",
        take_ctes_sql!(ledger_id: "$1", agent: "$2", amount: "$3", reason: "$4", task: "$5", posted: "$6"),
        " SELECT count(*) FROM balance"
    ))
    .bind(ids::new_id("le"))
    .bind(agent_id)
    .bind(amount)
    .bind(reason)
    .bind(task_id)
    .bind(posted)
    .fetch_one(&mut *conn)
    .await?;
    if taken == 0 {
        return Ok(Err(balance(conn, agent_id).await?));
    }
    Ok(Ok(()))
}

/// An agent's balance.
pub async fn balance(db: impl PgExecutor<'_>, agent_id: &AgentId) -> Result<Credits, sqlx::Error> {
    sqlx::query_scalar("SELECT credits FROM agents WHERE id = $1")
        .bind(agent_id)
        .fetch_one(db)
        .await
}

/// A page of an agent's ledger, newest first, with the total row count.
pub async fn page(
    db: impl PgExecutor<'_>,
    agent_id: &AgentId,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Entry>, i64), sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        entry: Entry,
        total: i64,
    }
    let rows = sqlx::query_as::<_, Row>(
        "SELECT id, amount, reason, task_id, created_at, count(*) OVER () AS total
         FROM ledger WHERE agent_id = $1 ORDER BY seq DESC LIMIT $2 OFFSET $3",
    )
    .bind(agent_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(db)
    .await?;
    let total = rows.first().map(|r| r.total);
    let entries = rows.into_iter().map(|r| r.entry).collect();
    Ok((entries, total.unwrap_or(0)))
}

/// Total rows of an agent's ledger (for a page past the end).
pub async fn count(db: impl PgExecutor<'_>, agent_id: &AgentId) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM ledger WHERE agent_id = $1")
        .bind(agent_id)
        .fetch_one(db)
        .await
}

/// Credits an agent holds in escrow for its open tasks.
pub async fn escrowed_by(
    db: impl PgExecutor<'_>,
    agent_id: &AgentId,
) -> Result<Credits, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT COALESCE(sum(max_credits), 0)::bigint FROM tasks
         WHERE poster_id = $1 AND escrowed AND status IN ('posted', 'claimed', 'delivered')",
    )
    .bind(agent_id)
    .fetch_one(db)
    .await
}
