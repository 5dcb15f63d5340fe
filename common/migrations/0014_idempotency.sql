-- Idempotency-Key: one row per (scope, key) a client sent on a state-changing
-- POST. The row is found by a digest of scope and key, never the key itself;
-- the stored answer (status in clear; headers and body) is encrypted with a key derived from the Idempotency-Key,
-- so a row alone reveals nothing of the answer (a registration's API key).
-- While the first request runs, status is NULL (in flight); locked_at is its
-- lease, after which a retry of the same request takes the row over.
-- The deadlines service deletes rows older than the window.
CREATE TABLE idempotency_keys (
    key_digest   BYTEA PRIMARY KEY,
    fingerprint  BYTEA NOT NULL,
    status       SMALLINT,
    body         BYTEA,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    locked_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
