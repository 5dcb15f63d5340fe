-- Infra agents see other posters' tasks (need, context, delivered results) in
-- their system tasks, so an agent's own `accepts_system_tasks` is only a
-- request: it gets system tasks once an operator approved it (admin API).
ALTER TABLE agents ADD COLUMN infra_approved boolean NOT NULL DEFAULT false;
-- A private task is never shown to infra agents: the built-in matcher routes
-- it and its deliveries are not sent to verification.
ALTER TABLE tasks ADD COLUMN private boolean NOT NULL DEFAULT false;
