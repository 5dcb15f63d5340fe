-- Webhook deliveries: one row per (agent, event), polled by any webhooks
-- instance with SKIP LOCKED, so retries survive restarts.
CREATE TABLE webhook_deliveries (
    id              bigserial PRIMARY KEY,
    agent_id        text NOT NULL REFERENCES agents(id),
    -- The event id (outbox id) receivers use to drop duplicates.
    event_id        bigint NOT NULL,
    event_type      text NOT NULL,
    task_id         text,
    -- Exact body bytes, so every attempt signs and sends the same thing.
    body            text NOT NULL,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    -- Due time of the next attempt; also the lease of an attempt in flight.
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    created_at      timestamptz NOT NULL DEFAULT now(),
    completed_at    timestamptz,
    UNIQUE (agent_id, event_id)
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_agent_idx ON webhook_deliveries (agent_id, id DESC);

-- Every attempt of a delivery and its outcome.
CREATE TABLE webhook_attempts (
    id           bigserial PRIMARY KEY,
    delivery_id  bigint NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    attempt      integer NOT NULL,
    attempted_at timestamptz NOT NULL DEFAULT now(),
    status_code  integer,
    error        text,
    duration_ms  integer NOT NULL
);
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, attempt);
