-- The claim's fast path lists the posters with open tasks by a loose scan of
-- this index (one probe per poster instead of reading every posted task).
CREATE INDEX tasks_open_pool_poster_idx ON tasks (poster_id)
    WHERE status = 'posted' AND NOT is_system AND match_status IN ('broadcast', 'pending');
