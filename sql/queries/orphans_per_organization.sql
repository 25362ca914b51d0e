-- Orphans per organization and reason: IT Glue records whose PSA or RMM source is gone (marts.orphans), counted
-- per IT Glue organization. Reasons: psa_orphaned (IT Glue itself marks it orphaned), psa_record_deleted (synced, but
-- its PSA record is gone: linked in an earlier run, missing now), rmm_device_deleted (its RMM device is gone: its id
-- is missing from the RMM or in its deleted devices), unlinked (no partner found, nothing shows it is gone: for review).
--   duckdb -readonly data/published.duckdb < sql/queries/orphans_per_organization.sql
WITH orphan AS (
    SELECT o.entity_type, o.source, o.source_id, o.reason,
           CASE o.entity_type WHEN 'organization' THEN o.source_id
                              WHEN 'configuration' THEN c.organization_source_id
                              ELSE p.organization_source_id END AS organization_source_id
    FROM marts.orphans o
    LEFT JOIN staging.configurations c
           ON o.entity_type = 'configuration' AND c.source = o.source AND c.source_id = o.source_id
    LEFT JOIN staging.contacts p
           ON o.entity_type = 'contact' AND p.source = o.source AND p.source_id = o.source_id
)
SELECT coalesce(g.name, '(unknown organization)') AS organization,
       o.organization_source_id,
       o.reason,
       count(*) FILTER (WHERE o.entity_type = 'organization') AS organizations,
       count(*) FILTER (WHERE o.entity_type = 'configuration') AS configurations,
       count(*) FILTER (WHERE o.entity_type = 'contact') AS contacts,
       count(*) AS orphans
FROM orphan o
LEFT JOIN staging.organizations g ON g.source = o.source AND g.source_id = o.organization_source_id
GROUP BY ALL
ORDER BY organization, o.reason;
