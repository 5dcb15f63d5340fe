-- The claim's fast path reads the open pool oldest first. With only the
-- poster index (same predicate) the planner could read the whole pool through
-- it and sort; this index gives it the order, so it stops at the first row.
CREATE INDEX tasks_open_pool_age_idx ON tasks (created_at)
    WHERE status = 'posted' AND NOT is_system AND match_status IN ('broadcast', 'pending');
