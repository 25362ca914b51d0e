-- What the last apply changed: every action of the most recent apply run (audit.action_log), with its outcome (done,
-- already_gone, skipped_changed, rejected, manual_step), the API call made and whether a snapshot exists to undo it
-- (msp-recon restore ACTION_ID).
--   duckdb -readonly data/published.duckdb < sql/queries/last_apply_changes.sql
WITH last_run AS (
    SELECT run_id, batch_id FROM audit.action_log WHERE step = 'outcome' ORDER BY logged_at DESC LIMIT 1
), outcome AS (
    SELECT l.* FROM audit.action_log l JOIN last_run USING (run_id, batch_id)
    WHERE l.step = 'outcome'
    QUALIFY row_number() OVER (PARTITION BY l.action_id ORDER BY l.logged_at DESC) = 1
)
SELECT o.batch_id, o.action_id, a.action, a.entity_type, a.source_id, a.name, o.outcome,
       o.http_method, o.http_path, o.http_status, o.message, o.logged_at, o.approval_id, o.run_id,
       EXISTS (SELECT 1 FROM audit.snapshots s WHERE s.action_id = o.action_id) AS can_restore
FROM outcome o
JOIN cleanup.actions a USING (action_id)
ORDER BY o.outcome, a.entity_type, o.action_id;
