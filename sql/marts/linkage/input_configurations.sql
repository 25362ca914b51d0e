-- Model input for configurations: the staged match fields plus the linked organization cluster of the owner, so that
-- DC01 at two clients is two devices. Reads stg_configurations and org_clusters (unique_id, cluster_id).
CREATE OR REPLACE TEMP TABLE configuration_input AS
SELECT c.source || ':' || c.source_id AS unique_id,
       c.source, c.source_id,
       oc.cluster_id AS org_cluster,
       c.name_norm,
       coalesce(c.hostname_norm, c.name_norm) AS hostname_norm,
       -- the hostname inside its organization: WS-001 at forty clients is common, WS-001 twice at one client is not,
       -- so agreement here weighs far more than agreement on the bare hostname
       oc.cluster_id || '|' || coalesce(c.hostname_norm, c.name_norm) AS org_hostname,
       c.serial_norm,
       -- how many records of one system carry this serial: above 2 it is a clone's or a template's, not a device's
       coalesce(sc.serial_copies, 0) AS serial_copies,
       c.mac_norm,
       CASE WHEN len(c.macs) > 0 THEN c.macs END AS macs,
       c.ip,
       c.config_type,
       c.rmm_device_id
FROM stg_configurations c
LEFT JOIN (SELECT serial_norm, max(n) AS serial_copies FROM (
               SELECT serial_norm, source, count(*) AS n FROM stg_configurations
               WHERE serial_norm IS NOT NULL GROUP BY ALL) GROUP BY 1) sc USING (serial_norm)
LEFT JOIN org_clusters oc ON oc.unique_id = c.source || ':' || c.organization_source_id;
