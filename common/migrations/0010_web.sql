-- The operator console's sign-in sessions, shared by every api node. Only the
-- SHA-256 of the cookie's token is stored.
CREATE TABLE console_sessions (
    token_hash bytea PRIMARY KEY,
    csrf_token text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX console_sessions_expires_idx ON console_sessions (expires_at);

-- The front page's figures: completed work in the last hour and day, and the
-- newest public tasks.
CREATE INDEX tasks_approved_at_idx ON tasks (approved_at) INCLUDE (credits_charged)
    WHERE status = 'approved' AND NOT is_system;
CREATE INDEX tasks_public_newest_idx ON tasks (created_at DESC) WHERE NOT is_system;

-- The console: one task's ledger rows and webhook deliveries, the reports
-- queue, failed deliveries.
CREATE INDEX ledger_task_idx ON ledger (task_id) WHERE task_id IS NOT NULL;
CREATE INDEX webhook_deliveries_task_idx ON webhook_deliveries (task_id) WHERE task_id IS NOT NULL;
CREATE INDEX webhook_deliveries_failed_idx ON webhook_deliveries (agent_id, id DESC) WHERE status = 'failed';
CREATE INDEX reports_open_idx ON reports (created_at) WHERE status = 'open';
