-- Model input for contacts: names, email and phone plus the owner's linked organization cluster, so that two people
-- of one name at two clients stay two people. Reads stg_contacts and org_clusters (unique_id, cluster_id).
CREATE OR REPLACE TEMP TABLE contact_input AS
SELECT c.source || ':' || c.source_id AS unique_id,
       c.source, c.source_id,
       oc.cluster_id AS org_cluster,
       c.first_name_norm,
       c.last_name_norm,
       c.email_norm,
       c.phone_digits,
       -- one address with one first and last name: one person, whichever client each copy was filed under
       CASE WHEN c.email_norm IS NOT NULL AND c.first_name_norm IS NOT NULL AND c.last_name_norm IS NOT NULL
            THEN c.email_norm || '|' || c.first_name_norm || '|' || c.last_name_norm END AS person_key
FROM stg_contacts c
LEFT JOIN org_clusters oc ON oc.unique_id = c.source || ':' || c.organization_source_id;
