-- The client each duplicate and orphan belongs to, in words: organization_name and the IT Glue organization's id
-- (organization_itglue_id) on the duplicates and orphans temp tables, so a reviewer reads "DC01 at Contoso", not an
-- id. A record's organization is itself (organizations) or the one that owns it (organization_uid); for a PSA or RMM
-- record, the IT Glue organization in its organization's cluster names it, else its own system's name.
-- Reads linkage_records, entity_clusters, stg_organizations, duplicates, orphans.

CREATE OR REPLACE TEMP TABLE record_organizations AS
WITH owner AS (
    -- the records named: duplicates and orphans, not the whole tenant
    SELECT entity_type, source, source_id,
           CASE WHEN entity_type = 'organization' THEN unique_id ELSE organization_uid END AS org_uid
    FROM linkage_records
    SEMI JOIN (SELECT entity_type, source, source_id FROM duplicates
               UNION SELECT entity_type, source, source_id FROM orphans) USING (entity_type, source, source_id)
), org_names AS (
    SELECT source || ':' || source_id AS org_uid, source, source_id, name FROM stg_organizations
), itglue_org AS (
    -- the IT Glue organization clustered with each organization record (the kept one first: the lowest id)
    SELECT o.unique_id AS org_uid, min(i.source_id) AS itglue_id
    FROM entity_clusters o
    JOIN entity_clusters i ON i.entity_type = 'organization' AND i.cluster_id = o.cluster_id AND i.source = 'itglue'
    WHERE o.entity_type = 'organization'
    GROUP BY 1
)
SELECT w.entity_type, w.source, w.source_id,
       coalesce(CASE WHEN own.source = 'itglue' THEN own.name END, ig.name, own.name) AS organization_name,
       CASE WHEN own.source = 'itglue' THEN own.source_id ELSE g.itglue_id END AS organization_itglue_id
FROM owner w
LEFT JOIN org_names own ON own.org_uid = w.org_uid
LEFT JOIN itglue_org g ON g.org_uid = w.org_uid
LEFT JOIN org_names ig ON ig.source = 'itglue' AND ig.source_id = g.itglue_id;

ALTER TABLE duplicates ADD COLUMN organization_name VARCHAR;
ALTER TABLE duplicates ADD COLUMN organization_itglue_id VARCHAR;
UPDATE duplicates d SET organization_name = n.organization_name, organization_itglue_id = n.organization_itglue_id
FROM record_organizations n
WHERE n.entity_type = d.entity_type AND n.source = d.source AND n.source_id = d.source_id;

ALTER TABLE orphans ADD COLUMN organization_name VARCHAR;
ALTER TABLE orphans ADD COLUMN organization_itglue_id VARCHAR;
UPDATE orphans o SET organization_name = n.organization_name, organization_itglue_id = n.organization_itglue_id
FROM record_organizations n
WHERE n.entity_type = o.entity_type AND n.source = o.source AND n.source_id = o.source_id;
