-- The ceiling of one lifecycle: the statements the api nodes run for
-- create → pickup → deliver → approve (each request's key lookup included),
-- sent by pgbench straight to PostgreSQL with nothing in between. One run of
-- this script is one lifecycle, so pgbench's "tps" is lifecycles per second.
-- What the cluster does besides (outbox publishing, the deadlines service's
-- polls, HTTP, NATS) is what the ratio ours / ceiling
-- measures. Client N is poster bp-N and worker bw-N (seeded by pinchwork-bench).
\set r random(1, 1000000000000)

-- POST /v1/tasks
SELECT * FROM agents WHERE key_hash = sha256(('bench-key-bp-' || :client_id::text)::bytea);
-- No infra agent: create routes the task itself before inserting it, reading
-- outside any transaction (the built-in matcher's candidates by the task's
-- match terms, `bench` and `task`; the bench agents have no good_at, so it
-- is broadcast).
SELECT EXISTS (SELECT 1 FROM agents
               WHERE accepts_system_tasks AND infra_approved AND NOT suspended AND id <> 'ag-platform');
-- (the terms 'w:bench' and 'w:task', written with E'\x3a' for the colon, which
-- pgbench would read as a variable)
WITH terms AS (SELECT DISTINCT unnest(ARRAY[E'w\x3abench', E'w\x3atask']) AS term),
hits AS (
   SELECT h.agent_id, h.reputation, h.created_at, terms.term
   FROM terms CROSS JOIN LATERAL (
       SELECT m.agent_id, m.reputation, m.created_at FROM agent_match_terms m
       WHERE m.term = terms.term AND m.agent_id <> 'ag-platform'
         AND m.agent_id <> 'bp-' || :client_id::text
       ORDER BY m.reputation DESC, m.created_at, m.agent_id
       LIMIT 200) h
), indexed AS (
   SELECT agent_id AS id, reputation, created_at, array_agg(term) AS shared_terms
   FROM hits
   GROUP BY agent_id, reputation, created_at
   ORDER BY reputation DESC, created_at, agent_id
   LIMIT 200
)
SELECT id, reputation, created_at, shared_terms,
       NULL::text AS good_at, NULL::text[] AS capability_tags
FROM indexed
UNION ALL
(SELECT a.id, a.reputation, a.created_at, NULL, a.good_at, COALESCE(a.capability_tags, '{}')
 FROM agents a
 WHERE a.match_terms IS NULL AND a.id <> 'ag-platform' AND a.id <> 'bp-' || :client_id::text
   AND NOT a.suspended AND a.good_at IS NOT NULL AND btrim(a.good_at) <> ''
 ORDER BY a.reputation DESC, a.created_at, a.id
 LIMIT 200)
ORDER BY reputation DESC, created_at, id
LIMIT 200;
-- The budget into escrow, its ledger row, the posted count, the task and its
-- match rows (none here): one statement, no transaction around it.
WITH balance AS (UPDATE agents SET credits = credits - 1,
                        tasks_posted = tasks_posted + CASE WHEN true THEN 1 ELSE 0 END
                 WHERE id = 'bp-' || :client_id::text AND credits >= 1 RETURNING id),
taken AS (INSERT INTO ledger (id, agent_id, amount, reason, kind, task_id)
          SELECT 'le-e' || :client_id::text || '-' || :r::text, id, -1, 'escrow', 'transfer',
                 'tk-' || :client_id::text || '-' || :r::text
          FROM balance),
task AS (INSERT INTO tasks (id, poster_id, need, max_credits, tags, escrowed, is_system, match_status,
                            match_deadline, expires_at, private)
         SELECT 'tk-' || :client_id::text || '-' || :r::text, 'bp-' || :client_id::text, 'bench task', 1,
                '{}', true, false, 'broadcast', NULL, now() + interval '72 hours', false
         FROM balance
         RETURNING *),
matched AS (INSERT INTO task_matches (id, task_id, agent_id, rank)
            SELECT m.id, task.id, m.agent_id, 0 + (m.n - 1)::int
            FROM task, unnest('{}'::text[], '{}'::text[]) WITH ORDINALITY AS m(id, agent_id, n)
            ON CONFLICT (task_id, agent_id) DO NOTHING)
SELECT * FROM task;

-- POST /v1/tasks/{id}/pickup
SELECT * FROM agents WHERE key_hash = sha256(('bench-key-bw-' || :client_id::text)::bytea);
WITH claimed AS (
    UPDATE tasks t SET status = 'claimed', worker_id = 'bw-' || :client_id::text,
           claimed_at = now(),
           claim_deadline = now() + make_interval(mins => COALESCE(t.claim_timeout_minutes, 10))
    WHERE t.id = 'tk-' || :client_id::text || '-' || :r::text AND t.status = 'posted'
      AND t.poster_id <> 'bw-' || :client_id::text AND NOT t.is_system
      AND NOT EXISTS (SELECT 1 FROM agents s WHERE s.id = t.poster_id AND s.suspended)
      AND NOT EXISTS (SELECT 1 FROM tasks c WHERE c.parent_task_id = t.id
                                            AND c.worker_id = 'bw-' || :client_id::text)
    RETURNING t.*
)
SELECT claimed.*, p.reputation AS poster_reputation, m.rank AS match_rank
FROM claimed JOIN agents p ON p.id = claimed.poster_id
LEFT JOIN task_matches m ON m.task_id = claimed.id AND m.agent_id = 'bw-' || :client_id::text;

-- POST /v1/tasks/{id}/deliver (a regular task and no infra agent: the update
-- and the poster's event in one statement, no transaction around it)
SELECT * FROM agents WHERE key_hash = sha256(('bench-key-bw-' || :client_id::text)::bytea);
WITH delivered AS (
    UPDATE tasks SET status = 'delivered', result = 'done',
           credits_charged = LEAST(COALESCE(NULL, max_credits), max_credits),
           delivered_at = now(), claim_deadline = NULL, rejection_grace_deadline = NULL,
           review_deadline = now() + make_interval(mins => COALESCE(review_timeout_minutes, 30))
    WHERE id = 'tk-' || :client_id::text || '-' || :r::text AND worker_id = 'bw-' || :client_id::text
      AND status = 'claimed' AND NOT is_system
      AND (private OR NOT EXISTS (SELECT 1 FROM agents
                                  WHERE accepts_system_tasks AND infra_approved AND NOT suspended
                                    AND id <> 'ag-platform'))
    RETURNING *),
event AS (
    INSERT INTO outbox (subject, payload, traceparent)
    SELECT 'events.' || delivered.poster_id || '.' || 'task_delivered',
           jsonb_build_object('event', 'task_delivered', 'recipient', delivered.poster_id,
                              'task_id', delivered.id, 'data', '{}'::jsonb,
                              'timestamp', to_char(clock_timestamp() AT TIME ZONE 'UTC',
                                                   E'YYYY-MM-DD"T"HH24\x3aMI\x3aSS.US"+00\x3a00"')),
           NULL
    FROM delivered)
SELECT * FROM delivered;

-- POST /v1/tasks/{id}/approve
SELECT * FROM agents WHERE key_hash = sha256(('bench-key-bp-' || :client_id::text)::bytea);
BEGIN;
UPDATE tasks SET status = 'approved', approved_at = now(), review_deadline = NULL
WHERE id = 'tk-' || :client_id::text || '-' || :r::text AND poster_id = 'bp-' || :client_id::text
  AND status = 'delivered'
RETURNING *;
WITH balance AS (UPDATE agents SET credits = credits + 1,
                        tasks_completed = tasks_completed + CASE WHEN true THEN 1 ELSE 0 END
                 WHERE id = 'bw-' || :client_id::text RETURNING id)
INSERT INTO ledger (id, agent_id, amount, reason, kind, task_id)
SELECT 'le-p' || :client_id::text || '-' || :r::text, id, 1, 'payment', 'transfer',
       'tk-' || :client_id::text || '-' || :r::text
FROM balance;
INSERT INTO outbox (subject, payload, traceparent)
SELECT 'events.' || ('bw-' || :client_id::text) || '.' || 'task_approved',
       jsonb_build_object('event', 'task_approved', 'recipient', 'bw-' || :client_id::text,
                          'task_id', 'tk-' || :client_id::text || '-' || :r::text, 'data', '{}'::jsonb,
                          'timestamp', to_char(clock_timestamp() AT TIME ZONE 'UTC',
                                               E'YYYY-MM-DD"T"HH24\x3aMI\x3aSS.US"+00\x3a00"')),
       NULL
RETURNING id;
INSERT INTO agent_trust (truster_id, trusted_id, score, interactions)
SELECT truster, trusted, 0.55, 1
FROM unnest(ARRAY['bp-' || :client_id::text, 'bw-' || :client_id::text],
            ARRAY['bw-' || :client_id::text, 'bp-' || :client_id::text]) AS p(truster, trusted)
ON CONFLICT (truster_id, trusted_id) DO UPDATE SET
    score = LEAST(1.0, GREATEST(0.0, round((agent_trust.score + (1 - agent_trust.score) * 0.1)::numeric, 6)::float8)),
    interactions = agent_trust.interactions + 1, updated_at = now();
COMMIT;
