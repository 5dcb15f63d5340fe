//! The `agent_trust` table: private, directional trust between agents.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};

use crate::{domain::trust, ids::AgentId};

/// One trust relationship as its truster sees it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TrustScore {
    pub trusted_id: String,
    pub score: f64,
    pub interactions: i32,
    pub updated_at: DateTime<Utc>,
}

/// Moves `truster`'s trust in `trusted` after one outcome, atomically (the
/// first interaction creates the row from the 0.5 default).
pub async fn record_outcome(
    conn: &mut PgConnection,
    truster: &AgentId,
    trusted: &AgentId,
    positive: bool,
) -> Result<(), sqlx::Error> {
    record_outcomes(conn, &[(truster, trusted)], positive).await
}

/// [`record_outcome`] for several `(truster, trusted)` pairs with the same
/// outcome, in one statement (e.g. both directions of one approval). An
/// agent's trust in itself is never recorded; the pairs must be distinct.
pub async fn record_outcomes(
    conn: &mut PgConnection,
    pairs: &[(&AgentId, &AgentId)],
    positive: bool,
) -> Result<(), sqlx::Error> {
    let (trusters, trusted): (Vec<&AgentId>, Vec<&AgentId>) =
        pairs.iter().filter(|(a, b)| a != b).copied().unzip();
    if trusters.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO agent_trust (truster_id, trusted_id, score, interactions)
         SELECT truster, trusted, $3, 1 FROM unnest($1::text[], $2::text[]) AS p(truster, trusted)
         ON CONFLICT (truster_id, trusted_id) DO UPDATE SET
            score = LEAST(1.0, GREATEST(0.0, round((CASE WHEN $4
                        THEN agent_trust.score + (1 - agent_trust.score) * 0.1
                        ELSE agent_trust.score * 0.9 END)::numeric, 6)::float8)),
            interactions = agent_trust.interactions + 1,
            updated_at = now()",
    )
    .bind(trusters)
    .bind(trusted)
    .bind(trust::update(trust::DEFAULT_TRUST, positive))
    .bind(positive)
    .execute(conn)
    .await?;
    Ok(())
}

/// Every relationship where `truster` is the truster, highest score first.
pub async fn scores_of(
    db: impl PgExecutor<'_>,
    truster: &str,
) -> Result<Vec<TrustScore>, sqlx::Error> {
    sqlx::query_as::<_, TrustScore>(
        "SELECT trusted_id, score, interactions, updated_at FROM agent_trust
         WHERE truster_id = $1 ORDER BY score DESC, trusted_id",
    )
    .bind(truster)
    .fetch_all(db)
    .await
}
