-- marts.orphans: IT Glue records whose PSA or RMM source is gone. One reason per record, the surest first:
-- IT Glue's own `orphaned` flag; synced but no PSA record in its cluster (found before IT Glue's next sync);
-- carries RMM data but its device is gone from every RMM that is on, or sits in the RMM's deleted devices.
-- A reason is only given when the source that would hold the partner is on (present in staging).
-- Reads linkage_records, entity_clusters, prev_link_history.

CREATE OR REPLACE TEMP TABLE orphans AS
WITH present AS (
    SELECT DISTINCT entity_type, role FROM linkage_records
), docs AS (
    SELECT r.*, c.cluster_id FROM linkage_records r JOIN entity_clusters c USING (entity_type, unique_id)
    WHERE r.role = 'documentation'
), cluster_roles AS (
    SELECT c.entity_type, c.cluster_id,
           bool_or(r.role = 'psa') AS has_psa,
           bool_or(r.role = 'rmm' AND NOT r.is_deleted) AS has_live_rmm
    FROM entity_clusters c JOIN linkage_records r USING (entity_type, unique_id)
    GROUP BY ALL
), live_rmm_ids AS (
    SELECT DISTINCT source_id FROM linkage_records WHERE entity_type = 'configuration' AND role = 'rmm' AND NOT is_deleted
), reasoned AS (
    SELECT d.*, CASE
        WHEN d.psa_integration = 'orphaned' THEN 'psa_orphaned'
        WHEN d.psa_integration = 'enabled' AND NOT cr.has_psa
             AND EXISTS (SELECT 1 FROM present p WHERE p.entity_type = d.entity_type AND p.role = 'psa')
            THEN 'psa_record_deleted'
        WHEN d.entity_type = 'configuration' AND d.has_rmm_record
             AND EXISTS (SELECT 1 FROM present p WHERE p.entity_type = 'configuration' AND p.role = 'rmm')
             AND (CASE WHEN d.rmm_device_id IS NOT NULL THEN d.rmm_device_id NOT IN (SELECT source_id FROM live_rmm_ids)
                       ELSE NOT cr.has_live_rmm END)
            THEN 'rmm_device_deleted'
        END AS reason
    FROM docs d JOIN cluster_roles cr USING (entity_type, cluster_id)
), gone_partner AS (
    -- the PSA/RMM record this IT Glue item was linked to in an earlier run and is missing now: "deleted since"
    SELECT h.entity_type, h.source, h.source_id,
           arg_max(h.partner_source || ':' || h.partner_source_id, h.last_seen) AS gone_partner,
           max(h.last_seen) AS gone_partner_last_seen
    FROM prev_link_history h
    WHERE h.partner_source || ':' || h.partner_source_id NOT IN (SELECT unique_id FROM linkage_records)
    GROUP BY ALL
)
SELECT r.entity_type, r.source, r.source_id, r.reason, r.cluster_id, r.psa_integration, r.has_rmm_record,
       r.rmm_device_id, g.gone_partner, g.gone_partner_last_seen,
       CASE WHEN g.gone_partner IS NOT NULL THEN 'partner seen until ' || strftime(g.gone_partner_last_seen, '%Y-%m-%d')
            ELSE 'no partner seen by earlier runs' END AS history,
       r.resource_url
FROM reasoned r
LEFT JOIN gone_partner g USING (entity_type, source, source_id)
WHERE r.reason IS NOT NULL;
