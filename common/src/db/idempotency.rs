//! Stored answers of requests sent with an `Idempotency-Key`, shared by every
//! api node. A row is found by a digest of the caller's scope and key; its
//! answer is stored encrypted by the api node (this module only moves bytes).
//! [`prune`] is the deadlines service's rule `idempotency_expiry`.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

/// A key's row as a retry finds it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Stored {
    /// Digest of the first request sent with the key.
    pub fingerprint: Vec<u8>,
    /// The answer's status; `None` while the first request is in flight.
    pub status: Option<i16>,
    /// The encrypted answer: headers and body.
    pub body: Option<Vec<u8>>,
}

/// Claims `key` for a request with `fingerprint`: a new key, one whose row is
/// older than `window_secs` (not pruned yet), or one whose first request with
/// the same fingerprint is still marked in flight after `lease_secs` (its node
/// died or gave up) is taken, and the lease token (`locked_at`) returned.
/// `None`: the key is held by a finished or running request — see [`find`].
pub async fn claim(
    pool: &PgPool,
    key: &[u8],
    fingerprint: &[u8],
    window_secs: i64,
    lease_secs: i64,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO idempotency_keys AS k (key_digest, fingerprint) VALUES ($1, $2)
         ON CONFLICT (key_digest) DO UPDATE
            SET fingerprint = EXCLUDED.fingerprint, status = NULL, body = NULL, created_at = now(), locked_at = now()
          WHERE k.created_at < now() - make_interval(secs => $3)
             OR (k.status IS NULL AND k.fingerprint = EXCLUDED.fingerprint
                 AND k.locked_at < now() - make_interval(secs => $4))
         RETURNING k.locked_at",
    )
    .bind(key)
    .bind(fingerprint)
    .bind(window_secs as f64)
    .bind(lease_secs as f64)
    .fetch_optional(pool)
    .await
}

/// The row of `key`, if any.
pub async fn find(pool: &PgPool, key: &[u8]) -> Result<Option<Stored>, sqlx::Error> {
    sqlx::query_as("SELECT fingerprint, status, body FROM idempotency_keys WHERE key_digest = $1")
        .bind(key)
        .fetch_optional(pool)
        .await
}

/// Stores the answer of the request holding `key` under lease `token`; false
/// when the lease was lost (another request took the key over).
pub async fn finish(
    pool: &PgPool,
    key: &[u8],
    token: DateTime<Utc>,
    status: i16,
    body: &[u8],
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE idempotency_keys SET status = $3, body = $4
         WHERE key_digest = $1 AND locked_at = $2 AND status IS NULL",
    )
    .bind(key)
    .bind(token)
    .bind(status)
    .bind(body)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Frees `key` held under lease `token` without an answer (the request
/// failed on the server's side), so a retry runs it again.
pub async fn release(pool: &PgPool, key: &[u8], token: DateTime<Utc>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "DELETE FROM idempotency_keys WHERE key_digest = $1 AND locked_at = $2 AND status IS NULL",
    )
    .bind(key)
    .bind(token)
    .execute(pool)
    .await?;
    Ok(())
}

/// Deletes a batch of rows older than `window_secs`, oldest first: the key
/// is free again and its stored answer gone.
pub async fn prune(
    conn: &mut PgConnection,
    window_secs: i64,
    limit: i64,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "DELETE FROM idempotency_keys WHERE key_digest IN (
             SELECT key_digest FROM idempotency_keys
             WHERE created_at < now() - make_interval(secs => $1)
             ORDER BY created_at LIMIT $2
             FOR UPDATE SKIP LOCKED)",
    )
    .bind(window_secs as f64)
    .bind(limit)
    .execute(conn)
    .await?
    .rows_affected())
}
