-- PSA records missing from IT Glue: companies, configuration items and contacts of the PSA whose cluster holds no
-- IT Glue record (marts.entity_clusters), i.e. nothing in IT Glue documents them. Usually a sync that was never
-- set up for that type or company, or an item created after the last sync. Inactive PSA items are listed last.
--   duckdb -readonly data/published.duckdb < sql/queries/psa_records_missing_from_itglue.sql
WITH psa AS (SELECT source FROM about.systems WHERE kind = 'psa'),  -- the registry's PSAs
documented AS (
    SELECT DISTINCT entity_type, cluster_id FROM marts.entity_clusters WHERE source = 'itglue'
), missing AS (
    SELECT c.entity_type, c.source, c.source_id
    FROM marts.entity_clusters c
    WHERE c.source IN (SELECT source FROM psa)
      AND NOT EXISTS (SELECT 1 FROM documented d WHERE d.entity_type = c.entity_type AND d.cluster_id = c.cluster_id)
), described AS (
    SELECT m.entity_type, m.source, m.source_id, o.name, o.source_id AS organization_source_id,
           o.is_active AS active
    FROM missing m JOIN staging.organizations o USING (source, source_id) WHERE m.entity_type = 'organization'
    UNION ALL
    SELECT m.entity_type, m.source, m.source_id, c.name, c.organization_source_id, c.is_active AND NOT c.is_deleted
    FROM missing m JOIN staging.configurations c USING (source, source_id) WHERE m.entity_type = 'configuration'
    UNION ALL
    SELECT m.entity_type, m.source, m.source_id, concat_ws(' ', p.first_name, p.last_name),
           p.organization_source_id, NULL
    FROM missing m JOIN staging.contacts p USING (source, source_id) WHERE m.entity_type = 'contact'
)
SELECT d.source, coalesce(g.name, '(unknown company)') AS company, d.entity_type, d.source_id, d.name,
       d.active,
       -- when the company itself is missing from IT Glue, its items cannot sync either: fix the company first
       d.entity_type <> 'organization' AND d.organization_source_id IN (
           SELECT source_id FROM missing WHERE entity_type = 'organization' AND source = d.source
       ) AS company_missing_too
FROM described d
LEFT JOIN staging.organizations g ON g.source = d.source AND g.source_id = d.organization_source_id
ORDER BY coalesce(d.active, TRUE) DESC, d.source, company, d.entity_type, d.name;
