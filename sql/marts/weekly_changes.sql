-- marts.weekly_changes: per client, entity type and kind (duplicate to remove, orphan), the findings that are new,
-- resolved (gone since the previous run) and still open, comparing the last two planning runs in audit.findings.
-- On the first run everything is new. Reads audit.findings (pipelines/review/weekly.py records it).

CREATE OR REPLACE TABLE marts.weekly_changes AS
WITH runs AS (
    SELECT recorded_at, row_number() OVER (ORDER BY recorded_at DESC) AS n
    FROM (SELECT DISTINCT recorded_at FROM audit.findings)
    QUALIFY n <= 2
), cur AS (
    SELECT * FROM audit.findings WHERE recorded_at = (SELECT recorded_at FROM runs WHERE n = 1)
), prev AS (
    SELECT * FROM audit.findings WHERE recorded_at = (SELECT recorded_at FROM runs WHERE n = 2)
), joined AS (
    SELECT coalesce(c.organization_name, p.organization_name, '(no client)') AS organization_name,
           coalesce(c.entity_type, p.entity_type) AS entity_type, coalesce(c.kind, p.kind) AS kind,
           CASE WHEN p.source_id IS NULL THEN 'new' WHEN c.source_id IS NULL THEN 'resolved' ELSE 'still_open' END
               AS change
    FROM cur c FULL OUTER JOIN prev p
        ON c.entity_type = p.entity_type AND c.source = p.source AND c.source_id = p.source_id AND c.kind = p.kind
)
SELECT organization_name, entity_type, kind,
       count(*) FILTER (WHERE change = 'new') AS new,
       count(*) FILTER (WHERE change = 'resolved') AS resolved,
       count(*) FILTER (WHERE change = 'still_open') AS still_open,
       (SELECT recorded_at FROM runs WHERE n = 1) AS run_at,
       (SELECT recorded_at FROM runs WHERE n = 2) AS previous_run_at
FROM joined
GROUP BY ALL
ORDER BY organization_name, entity_type, kind;
