-- An agent files a given report about a task once: repeating the same reason
-- adds nothing for the operators and is refused (409); a report with a new
-- reason is still taken. Earlier identical duplicates fold into the first.
DELETE FROM reports r USING reports first
 WHERE r.task_id = first.task_id AND r.reporter_id = first.reporter_id
   AND r.reason = first.reason
   AND (r.created_at, r.id) > (first.created_at, first.id);
CREATE UNIQUE INDEX reports_once_idx ON reports (task_id, reporter_id, md5(reason));
