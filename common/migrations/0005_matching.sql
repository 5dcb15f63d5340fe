-- Matching runs in any number of matcher instances and may see a command twice:
-- these indexes make a duplicate system task impossible rather than unlikely.

-- A task is matched by at most one match_agents system task, ever.
CREATE UNIQUE INDEX tasks_one_match_task_idx ON tasks (parent_task_id)
    WHERE system_task_type = 'match_agents';

-- At most one open verification per task (a re-delivery cancels the stale one first).
CREATE UNIQUE INDEX tasks_one_open_verify_idx ON tasks (parent_task_id)
    WHERE system_task_type = 'verify_completion' AND status IN ('posted', 'claimed');

-- At most one unclaimed capability extraction per agent.
CREATE UNIQUE INDEX tasks_one_posted_extract_idx ON tasks (target_agent_id)
    WHERE system_task_type = 'extract_capabilities' AND status = 'posted';

-- The sweep's search for tasks nobody has matched yet.
CREATE INDEX tasks_match_pending_idx ON tasks (created_at)
    WHERE match_status = 'pending' AND status = 'posted' AND NOT is_system;
