-- Model input for configurations: the staged match fields plus the linked organization cluster of the owner, so that
-- DC01 at two clients is two devices. Reads stg_configurations and org_clusters (unique_id, cluster_id);
-- {max_machines_per_block} is an integer.
CREATE OR REPLACE TEMP TABLE configuration_input AS
SELECT c.source || ':' || c.source_id AS unique_id,
       c.source, c.source_id,
       oc.cluster_id AS org_cluster,
       c.name_norm,
       coalesce(c.hostname_norm, c.name_norm) AS hostname_norm,
       -- the hostname inside its organization: WS-001 at forty clients is common, WS-001 twice at one client is not,
       -- so agreement here weighs far more than agreement on the bare hostname
       -- (a "hostname" with a space in it is a display name a PSA fell back to, "Front Desk Laptop", which two
       -- machines of one client may carry: the name levels judge those, with how often the name repeats)
       CASE WHEN NOT contains(coalesce(c.hostname_norm, c.name_norm), ' ')
            THEN oc.cluster_id || '|' || coalesce(c.hostname_norm, c.name_norm) END AS org_hostname,
       -- each word of the hostname that looks like one (letters and digits, 5+ characters, a digit among them),
       -- without separators, within the organization
       CASE WHEN oc.cluster_id IS NOT NULL THEN list_transform(list_filter(list_transform(
           string_split(coalesce(c.hostname_norm, c.name_norm, ''), ' '),
           lambda w: regexp_replace(w, '[^a-z0-9]', '', 'g')),
           lambda w: length(w) >= 5 AND regexp_matches(w, '[0-9]')), lambda w: oc.cluster_id || '|' || w)
       END AS org_host_words,
       -- records of its system with its name in its client: "Exam Room 2 PC" twice is a room's name, not a device's
       count(*) OVER (PARTITION BY c.source, oc.cluster_id, c.name_norm) AS org_name_copies,
       c.serial_norm,
       -- how many machines (hostnames) of one system carry this serial: above 1 it is a clone's or a template's
       coalesce(sc.serial_copies, 0) AS serial_copies,
       c.mac_norm,
       -- what predictions block on: the serial or MAC only while few machines carry it. A VPN adapter's MAC on
       -- thousands of laptops, or a template's serial on a clone fleet, identifies none, and its block grows with the
       -- square of the tenant (14 million pairs from three VPN MACs at 10,000 clients); copies of one machine are
       -- still compared inside their organization by hostname
       CASE WHEN coalesce(sc.serial_copies, 0) <= {max_machines_per_block} THEN c.serial_norm END AS serial_block,
       CASE WHEN coalesce(mc.mac_copies, 0) <= {max_machines_per_block} THEN c.mac_norm END AS mac_block,
       CASE WHEN len(c.macs) > 0 THEN c.macs END AS macs,
       c.ip,
       c.config_type,
       c.rmm_device_id,
       -- the RMM record itself: an RMM's own record, or the one an IT Glue copy's rmm-records name (NinjaOne's id
       -- there is the device's numeric id, not the uid other systems carry)
       CASE WHEN r.role = 'rmm' THEN c.source || ':' || c.source_id
            WHEN c.rmm_source IS NOT NULL AND c.rmm_device_id IS NOT NULL THEN c.rmm_source || ':' || c.rmm_device_id
       END AS rmm_record_key,
       -- one device for certain, across organization boundaries: the MAC or a serial that no clone fleet shares
       -- (at most two records of one system carry it), together with the hostname
       CASE WHEN coalesce(mc.mac_copies, 0) <= 2 AND c.mac_norm IS NOT NULL
                 AND coalesce(c.hostname_norm, c.name_norm) IS NOT NULL
            THEN c.mac_norm || '|' || coalesce(c.hostname_norm, c.name_norm) END AS mac_host_key,
       CASE WHEN coalesce(sc.serial_copies, 0) <= 1 AND c.serial_norm IS NOT NULL
                 AND coalesce(c.hostname_norm, c.name_norm) IS NOT NULL
            THEN c.serial_norm || '|' || coalesce(c.hostname_norm, c.name_norm) END AS serial_host_key
FROM stg_configurations c
LEFT JOIN source_roles r USING (source)
LEFT JOIN (SELECT serial_norm, max(n) AS serial_copies FROM (
               -- machines, not records: copies of one device (imported twice) carry its one hostname, however spelt
               SELECT serial_norm, source, count(DISTINCT regexp_replace(lower(coalesce(hostname_norm, name_norm, source_id)), '[^a-z0-9]', '', 'g')) AS n
               FROM stg_configurations
               WHERE serial_norm IS NOT NULL GROUP BY ALL) GROUP BY 1) sc USING (serial_norm)
LEFT JOIN (SELECT mac_norm, max(n) AS mac_copies FROM (
               SELECT mac_norm, source, count(DISTINCT regexp_replace(lower(coalesce(hostname_norm, name_norm, source_id)), '[^a-z0-9]', '', 'g')) AS n
               FROM stg_configurations
               WHERE mac_norm IS NOT NULL GROUP BY ALL) GROUP BY 1) mc USING (mac_norm)
LEFT JOIN org_clusters oc ON oc.unique_id = c.source || ':' || c.organization_source_id;
