-- Every staged record in one shape for the marts: its role (documentation, psa, rmm) and the fields the cause
-- signatures and the keep rule read (organization_uid: the owning organization of a configuration or contact).
-- Reads stg_* and source_roles.
CREATE OR REPLACE TEMP TABLE linkage_records AS
SELECT 'organization' AS entity_type, o.source || ':' || o.source_id AS unique_id, o.source, o.source_id,
       coalesce(r.role, 'other') AS role, o.psa_integration, FALSE AS has_rmm_record, NULL::VARCHAR AS rmm_device_id,
       FALSE AS is_deleted, coalesce(o.is_active, TRUE) AS is_active, o.created_at, o.resource_url,
       NULL::VARCHAR AS organization_uid, NULL::VARCHAR AS rmm_source, o.extracted_at
FROM stg_organizations o LEFT JOIN source_roles r USING (source)
UNION ALL
SELECT 'configuration', c.source || ':' || c.source_id, c.source, c.source_id, coalesce(r.role, 'other'),
       c.psa_integration, coalesce(c.has_rmm_record, FALSE), c.rmm_device_id, coalesce(c.is_deleted, FALSE),
       coalesce(c.is_active, TRUE), c.created_at, c.resource_url, c.source || ':' || c.organization_source_id,
       c.rmm_source, c.extracted_at
FROM stg_configurations c LEFT JOIN source_roles r USING (source)
UNION ALL
SELECT 'contact', c.source || ':' || c.source_id, c.source, c.source_id, coalesce(r.role, 'other'),
       c.psa_integration, FALSE, NULL, FALSE, TRUE, c.created_at, c.resource_url,
       c.source || ':' || c.organization_source_id, NULL, c.extracted_at
FROM stg_contacts c LEFT JOIN source_roles r USING (source);

CREATE OR REPLACE TEMP TABLE entity_clusters AS
SELECT r.entity_type, k.cluster_id, r.source, r.source_id, r.unique_id,
       count(*) OVER (PARTITION BY r.entity_type, k.cluster_id) AS cluster_size
FROM linkage_records r
JOIN (SELECT 'organization' AS entity_type, unique_id, cluster_id FROM clusters_organization
      UNION ALL SELECT 'configuration', unique_id, cluster_id FROM clusters_configuration
      UNION ALL SELECT 'contact', unique_id, cluster_id FROM clusters_contact) k USING (entity_type, unique_id);
