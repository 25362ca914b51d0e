-- Duplicates per organization: how many duplicate organizations, configurations and contacts each organization
-- holds, in each system, and their causes. A "duplicate" is a record that the cleanup would remove in favour of the
-- copy marked `keep` in its cluster (marts.duplicates, role = 'duplicate').
--   duckdb -readonly data/published.duckdb < sql/queries/duplicates_per_organization.sql
WITH duplicate AS (
    SELECT d.entity_type, d.source, d.source_id, d.cause,
           CASE d.entity_type WHEN 'organization' THEN d.source_id
                              WHEN 'configuration' THEN c.organization_source_id
                              ELSE p.organization_source_id END AS organization_source_id
    FROM marts.duplicates d
    LEFT JOIN staging.configurations c
           ON d.entity_type = 'configuration' AND c.source = d.source AND c.source_id = d.source_id
    LEFT JOIN staging.contacts p
           ON d.entity_type = 'contact' AND p.source = d.source AND p.source_id = d.source_id
    WHERE d.role = 'duplicate'
)
SELECT d.source,
       coalesce(o.name, '(unknown organization)') AS organization,
       d.organization_source_id,
       count(*) FILTER (WHERE d.entity_type = 'organization') AS duplicate_organizations,
       count(*) FILTER (WHERE d.entity_type = 'configuration') AS duplicate_configurations,
       count(*) FILTER (WHERE d.entity_type = 'contact') AS duplicate_contacts,
       count(*) AS duplicates,
       list(DISTINCT d.cause ORDER BY d.cause) AS causes
FROM duplicate d
LEFT JOIN staging.organizations o ON o.source = d.source AND o.source_id = d.organization_source_id
GROUP BY ALL
ORDER BY duplicates DESC, organization, d.source;
