-- linkage.record_history and linkage.link_history: first and last time each source record, and each link between
-- an IT Glue record and a PSA/RMM record, was seen. "Deleted since last week" is a partner whose last_seen is an
-- earlier run; "never synced" is an orphan with no partner in history. Reads prev_record_history,
-- prev_link_history, linkage_records, entity_clusters, run_meta (run_at).

CREATE OR REPLACE TEMP TABLE record_history AS
SELECT coalesce(p.entity_type, r.entity_type) AS entity_type, coalesce(p.source, r.source) AS source,
       coalesce(p.source_id, r.source_id) AS source_id,
       coalesce(p.first_seen, (SELECT run_at FROM run_meta)) AS first_seen,
       CASE WHEN r.unique_id IS NOT NULL THEN (SELECT run_at FROM run_meta) ELSE p.last_seen END AS last_seen
FROM prev_record_history p
FULL OUTER JOIN linkage_records r
    ON p.entity_type = r.entity_type AND p.source = r.source AND p.source_id = r.source_id;

CREATE OR REPLACE TEMP TABLE link_history AS
WITH current_links AS (
    SELECT d.entity_type, d.source, d.source_id, o.source AS partner_source, o.source_id AS partner_source_id
    FROM entity_clusters d
    JOIN linkage_records dr ON dr.entity_type = d.entity_type AND dr.unique_id = d.unique_id AND dr.role = 'documentation'
    JOIN entity_clusters o ON o.entity_type = d.entity_type AND o.cluster_id = d.cluster_id
    JOIN linkage_records orr ON orr.entity_type = o.entity_type AND orr.unique_id = o.unique_id
                              AND orr.role IN ('psa', 'rmm')
    WHERE d.cluster_size > 1
)
SELECT coalesce(p.entity_type, c.entity_type) AS entity_type, coalesce(p.source, c.source) AS source,
       coalesce(p.source_id, c.source_id) AS source_id,
       coalesce(p.partner_source, c.partner_source) AS partner_source,
       coalesce(p.partner_source_id, c.partner_source_id) AS partner_source_id,
       coalesce(p.first_seen, (SELECT run_at FROM run_meta)) AS first_seen,
       CASE WHEN c.source_id IS NOT NULL THEN (SELECT run_at FROM run_meta) ELSE p.last_seen END AS last_seen
FROM prev_link_history p
FULL OUTER JOIN current_links c
    ON p.entity_type = c.entity_type AND p.source = c.source AND p.source_id = c.source_id
   AND p.partner_source = c.partner_source AND p.partner_source_id = c.partner_source_id;
