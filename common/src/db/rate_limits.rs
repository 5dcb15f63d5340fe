//! Fixed-window request counters shared by every api node.

use sqlx::PgPool;

/// Counts `n` hits in `bucket`'s current window of `window_secs` and returns
/// the hits so far (these included) plus the seconds until the window ends.
pub async fn hit(
    pool: &PgPool,
    bucket: &str,
    window_secs: i64,
    n: u32,
) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as(
        "WITH w AS (SELECT to_timestamp(floor(extract(epoch FROM now()) / $2) * $2) AS start)
         INSERT INTO rate_limits (bucket, window_start, hits)
         SELECT $1, w.start, $3 FROM w
         ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_limits.hits + $3
         RETURNING hits::bigint,
                   GREATEST(1, ceil(extract(epoch FROM window_start + make_interval(secs => $2) - now())))::bigint",
    )
    .bind(bucket)
    .bind(window_secs as f64)
    .bind(i32::try_from(n).unwrap_or(i32::MAX))
    .fetch_one(pool)
    .await
}

/// The hits counted so far in `bucket`'s current window, without counting one.
pub async fn current(pool: &PgPool, bucket: &str, window_secs: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT COALESCE(max(hits), 0)::bigint FROM rate_limits
         WHERE bucket = $1
           AND window_start = to_timestamp(floor(extract(epoch FROM now()) / $2) * $2)",
    )
    .bind(bucket)
    .bind(window_secs as f64)
    .fetch_one(pool)
    .await
}

/// Drops windows that ended more than a day ago.
pub async fn prune(pool: &PgPool) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM rate_limits WHERE window_start < now() - interval '1 day'")
            .execute(pool)
            .await?
            .rows_affected(),
    )
}
