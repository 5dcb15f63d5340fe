-- The built-in matcher's candidates come from an index instead of a scan of
-- every agent. `match_terms` holds what a task can overlap with: 'w:' and each
-- keyword of good_at, 't:' and each lower-cased capability tag. The terms are
-- computed by the application (the same keyword rule the ranking uses), never
-- here; NULL means "not computed yet", and such an agent is always a
-- candidate, so a missing value can widen the candidates but never hide an
-- agent. The matcher's sweep computes the NULL ones (all agents after this
-- migration) in batches.
ALTER TABLE agents ADD COLUMN match_terms text[];
CREATE INDEX agents_match_terms_idx ON agents USING gin (match_terms);
CREATE INDEX agents_match_terms_missing_idx ON agents (reputation DESC) WHERE match_terms IS NULL;

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
