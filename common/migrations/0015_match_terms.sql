-- The built-in matcher's candidates come from an index instead of a scan of
-- every agent. `match_terms` holds what a task can overlap with: 'w:' and each
-- keyword of good_at, 't:' and each lower-cased capability tag. The terms are
-- computed by the application (the same keyword rule the ranking uses), never
-- here; NULL means "not computed yet": the best-rated such agents are
-- candidates whatever their words, until the matcher's sweep computes the
-- NULL ones (all agents after this migration) in batches.
ALTER TABLE agents ADD COLUMN match_terms text[];
CREATE INDEX agents_match_terms_missing_idx ON agents (reputation DESC, created_at, id)
    WHERE match_terms IS NULL;

-- A write of good_at or capability_tags that leaves match_terms as it was
-- (e.g. by hand in psql) makes the terms stale: mark them missing instead.
CREATE FUNCTION agents_match_terms_stale() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.match_terms IS NOT DISTINCT FROM OLD.match_terms THEN
        NEW.match_terms := NULL;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER agents_match_terms_stale
    BEFORE UPDATE OF good_at, capability_tags ON agents
    FOR EACH ROW
    WHEN (OLD.good_at IS DISTINCT FROM NEW.good_at
          OR OLD.capability_tags IS DISTINCT FROM NEW.capability_tags)
    EXECUTE FUNCTION agents_match_terms_stale();

-- One row per (term, matchable agent) with the agent's reputation, so that
-- the best-rated agents sharing a term are the first entries of an index:
-- finding the candidates reads at most (terms of the task) × (candidates)
-- entries, whatever the number of agents. A copy of agents.match_terms kept
-- by a trigger (only agents that can be matched: not suspended, with a
-- good_at), never written by the application.
CREATE TABLE agent_match_terms (
    agent_id   text NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    term       text NOT NULL,
    reputation double precision NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (agent_id, term)
);
CREATE INDEX agent_match_terms_best_idx
    ON agent_match_terms (term, reputation DESC, created_at, agent_id);

CREATE FUNCTION agent_match_terms_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM agent_match_terms WHERE agent_id = OLD.id;
    END IF;
    IF NEW.match_terms IS NOT NULL AND NOT NEW.suspended AND btrim(COALESCE(NEW.good_at, '')) <> '' THEN
        INSERT INTO agent_match_terms (agent_id, term, reputation, created_at)
        SELECT DISTINCT NEW.id, t, NEW.reputation, NEW.created_at FROM unnest(NEW.match_terms) t;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER agent_match_terms_insert
    AFTER INSERT ON agents
    FOR EACH ROW
    WHEN (NEW.match_terms IS NOT NULL)
    EXECUTE FUNCTION agent_match_terms_sync();
CREATE TRIGGER agent_match_terms_update
    AFTER UPDATE OF match_terms, reputation, suspended, good_at ON agents
    FOR EACH ROW
    WHEN (OLD.match_terms IS DISTINCT FROM NEW.match_terms
          OR OLD.reputation IS DISTINCT FROM NEW.reputation
          OR OLD.suspended IS DISTINCT FROM NEW.suspended
          OR OLD.good_at IS DISTINCT FROM NEW.good_at)
    EXECUTE FUNCTION agent_match_terms_sync();
