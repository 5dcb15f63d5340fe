-- Indexes for the deadlines service's rules that the first schema does not cover.

-- System tasks still delivered after the fallback delay are approved by the service.
CREATE INDEX tasks_system_delivered_idx ON tasks (delivered_at)
    WHERE status = 'delivered' AND is_system;

-- Any posted task whose match window closed (pending infra matches and
-- built-in matches alike) falls back to broadcast.
CREATE INDEX tasks_match_window_idx ON tasks (match_deadline)
    WHERE status = 'posted' AND match_deadline IS NOT NULL;
