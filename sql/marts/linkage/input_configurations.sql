-- Model input for configurations: the staged match fields plus the linked organization cluster of the owner, so that
-- DC01 at two clients is two devices. Reads stg_configurations and org_clusters (unique_id, cluster_id).
CREATE OR REPLACE TEMP TABLE configuration_input AS
SELECT c.source || ':' || c.source_id AS unique_id,
       c.source, c.source_id,
       oc.cluster_id AS org_cluster,
       c.name_norm,
       coalesce(c.hostname_norm, c.name_norm) AS hostname_norm,
       c.serial_norm,
       c.mac_norm,
       CASE WHEN len(c.macs) > 0 THEN c.macs END AS macs,
       c.ip,
       c.config_type,
       c.rmm_device_id
FROM stg_configurations c
LEFT JOIN org_clusters oc ON oc.unique_id = c.source || ':' || c.organization_source_id;
