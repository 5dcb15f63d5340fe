-- The whole marketplace schema. Time always comes from the database (now()).

CREATE TABLE agents (
    id                   text PRIMARY KEY,
    name                 text NOT NULL,
    -- SHA-256 of the API key; NULL for agents that cannot log in (the platform).
    key_hash             bytea UNIQUE,
    credits              bigint NOT NULL DEFAULT 0,
    reputation           double precision NOT NULL DEFAULT 0,
    rating_count         integer NOT NULL DEFAULT 0,
    tasks_posted         integer NOT NULL DEFAULT 0,
    tasks_completed      integer NOT NULL DEFAULT 0,
    accepts_system_tasks boolean NOT NULL DEFAULT false,
    good_at              text,
    capability_tags      text[],
    suspended            boolean NOT NULL DEFAULT false,
    suspend_reason       text,
    abandon_count        integer NOT NULL DEFAULT 0,
    last_abandon_at      timestamptz,
    webhook_url          text,
    webhook_secret       text,
    created_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agents_infra_idx ON agents (accepts_system_tasks) WHERE accepts_system_tasks;

CREATE TABLE tasks (
    id                       text PRIMARY KEY,
    poster_id                text NOT NULL REFERENCES agents (id),
    worker_id                text REFERENCES agents (id),
    need                     text NOT NULL,
    context                  text,
    result                   text,
    status                   text NOT NULL DEFAULT 'posted'
        CHECK (status IN ('posted', 'claimed', 'delivered', 'approved', 'expired', 'cancelled')),
    max_credits              bigint NOT NULL CHECK (max_credits >= 0),
    credits_charged          bigint CHECK (credits_charged >= 0),
    tags                     text[] NOT NULL DEFAULT '{}',
    extracted_tags           text[] NOT NULL DEFAULT '{}',
    -- Whether max_credits was taken from the poster at create (false for system tasks).
    escrowed                 boolean NOT NULL DEFAULT true,
    is_system                boolean NOT NULL DEFAULT false,
    system_task_type         text CHECK (system_task_type IN ('match_agents', 'verify_completion', 'extract_capabilities')),
    parent_task_id           text REFERENCES tasks (id),
    target_agent_id          text REFERENCES agents (id),
    match_status             text CHECK (match_status IN ('pending', 'matched', 'broadcast')),
    match_deadline           timestamptz,
    verification_status      text CHECK (verification_status IN ('pending', 'passed', 'failed')),
    verification_result      text,
    verification_deadline    timestamptz,
    rejection_reason         text,
    rejection_count          integer NOT NULL DEFAULT 0,
    rejection_grace_deadline timestamptz,
    review_timeout_minutes   integer,
    claim_timeout_minutes    integer,
    claim_deadline           timestamptz,
    review_deadline          timestamptz,
    deadline                 timestamptz,
    expires_at               timestamptz NOT NULL,
    created_at               timestamptz NOT NULL DEFAULT now(),
    claimed_at               timestamptz,
    delivered_at             timestamptz,
    approved_at              timestamptz
);
CREATE INDEX tasks_pool_idx ON tasks (created_at) WHERE status = 'posted';
CREATE INDEX tasks_poster_idx ON tasks (poster_id, created_at DESC);
CREATE INDEX tasks_worker_idx ON tasks (worker_id, created_at DESC) WHERE worker_id IS NOT NULL;
CREATE INDEX tasks_parent_idx ON tasks (parent_task_id) WHERE parent_task_id IS NOT NULL;
-- One index per timer, so the deadlines service finds due rows without scanning.
CREATE INDEX tasks_expires_idx ON tasks (expires_at) WHERE status = 'posted';
CREATE INDEX tasks_deadline_idx ON tasks (deadline) WHERE deadline IS NOT NULL AND status IN ('posted', 'claimed');
CREATE INDEX tasks_claim_deadline_idx ON tasks (claim_deadline) WHERE status = 'claimed';
CREATE INDEX tasks_grace_idx ON tasks (rejection_grace_deadline) WHERE status = 'claimed';
CREATE INDEX tasks_review_idx ON tasks (review_deadline) WHERE status = 'delivered';
CREATE INDEX tasks_match_deadline_idx ON tasks (match_deadline) WHERE match_status = 'pending';
CREATE INDEX tasks_verification_idx ON tasks (verification_deadline) WHERE verification_status = 'pending';

CREATE TABLE task_matches (
    id         text PRIMARY KEY,
    task_id    text NOT NULL REFERENCES tasks (id),
    agent_id   text NOT NULL REFERENCES agents (id),
    rank       integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (task_id, agent_id)
);
CREATE INDEX task_matches_agent_idx ON task_matches (agent_id);

-- Every change of a balance. kind = 'grant' mints credits, 'transfer' moves them.
CREATE TABLE ledger (
    id         text PRIMARY KEY,
    seq        bigserial UNIQUE,
    agent_id   text NOT NULL REFERENCES agents (id),
    amount     bigint NOT NULL,
    reason     text NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('grant', 'transfer')),
    task_id    text REFERENCES tasks (id),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ledger_agent_idx ON ledger (agent_id, seq DESC);

CREATE TABLE ratings (
    id         bigserial PRIMARY KEY,
    task_id    text NOT NULL REFERENCES tasks (id),
    rater_id   text NOT NULL REFERENCES agents (id),
    rated_id   text NOT NULL REFERENCES agents (id),
    score      integer NOT NULL CHECK (score BETWEEN 1 AND 5),
    feedback   text,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (task_id, rater_id)
);
CREATE INDEX ratings_rated_idx ON ratings (rated_id);

CREATE TABLE agent_trust (
    truster_id   text NOT NULL REFERENCES agents (id),
    trusted_id   text NOT NULL REFERENCES agents (id),
    score        double precision NOT NULL DEFAULT 0.5,
    interactions integer NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (truster_id, trusted_id)
);

CREATE TABLE reports (
    id          text PRIMARY KEY,
    task_id     text NOT NULL REFERENCES tasks (id),
    reporter_id text NOT NULL REFERENCES agents (id),
    reason      text NOT NULL,
    status      text NOT NULL DEFAULT 'open',
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE task_questions (
    id          text PRIMARY KEY,
    task_id     text NOT NULL REFERENCES tasks (id),
    asker_id    text NOT NULL REFERENCES agents (id),
    question    text NOT NULL,
    answer      text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    answered_at timestamptz
);
CREATE INDEX task_questions_task_idx ON task_questions (task_id, created_at);

CREATE TABLE task_messages (
    id         text PRIMARY KEY,
    task_id    text NOT NULL REFERENCES tasks (id),
    sender_id  text NOT NULL REFERENCES agents (id),
    message    text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX task_messages_task_idx ON task_messages (task_id, created_at);

-- Transactional outbox: rows written with the state change, published to NATS after commit.
CREATE TABLE outbox (
    id           bigserial PRIMARY KEY,
    -- Subject below the deployment prefix, e.g. 'events.ag-x.task_delivered'.
    subject      text NOT NULL,
    payload      jsonb NOT NULL,
    -- W3C trace context of the transaction that wrote the row.
    traceparent  text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_unpublished_idx ON outbox (id) WHERE published_at IS NULL;

-- Fixed-window request counters shared by every api node.
CREATE UNLOGGED TABLE rate_limits (
    bucket       text NOT NULL,
    window_start timestamptz NOT NULL,
    hits         integer NOT NULL,
    PRIMARY KEY (bucket, window_start)
);
