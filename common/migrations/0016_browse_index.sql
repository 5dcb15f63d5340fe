-- Browsing (GET /v1/tasks/available) orders the open pool by how many of the
-- caller's capability tags a task shares, then by age. The tasks sharing at
-- least one come from this index, so a page reads those tasks and the oldest
-- of the rest instead of ranking every open task.
--
-- task_terms_lower is a task's tags and extracted tags, lower-cased: the
-- array's text form lower-cased and read back (one cheap call per row, where
-- lower() over unnest() costs several times more). Declared IMMUTABLE,
-- which holds for text elements: their text form does not depend on any
-- setting (array_out is only STABLE because of other element types).
CREATE FUNCTION task_terms_lower(text[]) RETURNS text[]
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT lower($1::text)::text[] $$;
-- Tasks without tags cannot share one and stay out of the index, so posting
-- them costs no index insertion.
CREATE INDEX tasks_open_pool_tags_idx ON tasks USING gin (task_terms_lower(tags || extracted_tags))
    WHERE status = 'posted' AND NOT is_system AND match_status IN ('broadcast', 'pending')
      AND (tags <> '{}' OR extracted_tags <> '{}');
