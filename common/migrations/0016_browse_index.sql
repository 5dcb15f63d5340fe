-- Browsing (GET /v1/tasks/available) orders the open pool by how many of the
-- caller's capability tags a task shares, then by age. The tasks sharing at
-- least one come from this index, so a page reads those tasks and the oldest
-- of the rest instead of ranking every open task. The function is the
-- lower-cased, de-duplicated set of a task's tags and extracted tags.
CREATE FUNCTION task_terms_lower(text[]) RETURNS text[]
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT COALESCE(array_agg(DISTINCT lower(x)), '{}') FROM unnest($1) x $$;
CREATE INDEX tasks_open_pool_tags_idx ON tasks USING gin (task_terms_lower(tags || extracted_tags))
    WHERE status = 'posted' AND NOT is_system AND match_status IN ('broadcast', 'pending');
