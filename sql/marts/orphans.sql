-- marts.orphans: IT Glue records whose PSA or RMM source is gone, each with the proof, and the records nothing was
-- found for (`unlinked`), listed for a person without any claim that their partner is gone. The absence of a link is
-- not evidence that a thing is gone: a missed link (an RMM site named unlike its client, a typo) looks exactly like
-- a deletion. So a reason other than `unlinked` is given only on positive evidence:
--   psa_orphaned        IT Glue itself marks the record orphaned;
--   psa_record_deleted  it syncs, and a PSA record it was linked to in an earlier run is missing from this run's
--                       complete extraction of that PSA;
--   rmm_device_deleted  it carries RMM data naming its device (the rmm-records `device-id`) and that RMM's complete
--                       extraction this run lacks the device or lists it among its deleted devices, or an RMM device it
--                       was linked to in an earlier run is missing from this run's complete extraction;
--   unlinked            it syncs (or carries RMM data) and no live partner was found, without such proof.
-- "Complete": raw tables are replaced only after a whole extraction succeeded, so a staged source is a complete one;
-- it is this run's when it was extracted at most {fresh_hours} h before IT Glue (a source that failed this week
-- keeps last week's tables, and a device missing from last week's list proves nothing). Records without an
-- extraction time (hand-built frames) count as this run's.
-- Reads linkage_records, entity_clusters, prev_link_history; {fresh_hours} is an integer.

CREATE OR REPLACE TEMP TABLE orphans AS
WITH present AS (
    SELECT DISTINCT entity_type, role FROM linkage_records
), glue_extracted AS (
    SELECT min(extracted_at) AS t FROM linkage_records WHERE role = 'documentation'
), complete_sources AS (
    SELECT r.entity_type, r.source, any_value(r.role) AS role
    FROM linkage_records r, glue_extracted g
    GROUP BY r.entity_type, r.source, g.t
    HAVING max(r.extracted_at) IS NULL OR g.t IS NULL OR max(r.extracted_at) >= g.t - to_hours({fresh_hours})
), docs AS (
    SELECT r.*, c.cluster_id FROM linkage_records r JOIN entity_clusters c USING (entity_type, unique_id)
    WHERE r.role = 'documentation'
), cluster_roles AS (
    SELECT c.entity_type, c.cluster_id,
           bool_or(r.role = 'psa') AS has_psa,
           bool_or(r.role = 'rmm' AND NOT r.is_deleted) AS has_live_rmm
    FROM entity_clusters c JOIN linkage_records r USING (entity_type, unique_id)
    GROUP BY ALL
), rmm_ids AS (
    -- an RMM device is known by its own id; Autotask-style uids are carried beside it
    SELECT source, source_id AS device_id, is_deleted FROM linkage_records
    WHERE entity_type = 'configuration' AND role = 'rmm'
    UNION
    SELECT source, rmm_device_id, is_deleted FROM linkage_records
    WHERE entity_type = 'configuration' AND role = 'rmm' AND rmm_device_id IS NOT NULL
), named_device AS (
    -- what the RMM says about the device an IT Glue copy names
    SELECT d.entity_type, d.unique_id,
           bool_or(i.device_id IS NOT NULL AND i.is_deleted) AS in_deleted_list,
           bool_or(i.device_id IS NOT NULL AND NOT i.is_deleted) AS alive,
           bool_or(s.source IS NOT NULL) AS rmm_complete
    FROM docs d
    LEFT JOIN rmm_ids i ON i.device_id = d.rmm_device_id AND (d.rmm_source IS NULL OR i.source = d.rmm_source)
    LEFT JOIN complete_sources s ON s.entity_type = 'configuration' AND s.source = d.rmm_source
    WHERE d.entity_type = 'configuration' AND d.has_rmm_record AND d.rmm_device_id IS NOT NULL
    GROUP BY ALL
), gone_partner AS (
    -- the PSA/RMM record this IT Glue item was linked to in an earlier run and is missing now from a complete
    -- extraction of its system: "deleted since"
    SELECT h.entity_type, h.source, h.source_id, s.role AS gone_role,
           arg_max(h.partner_source || ':' || h.partner_source_id, h.last_seen) AS gone_partner,
           max(h.last_seen) AS gone_partner_last_seen
    FROM prev_link_history h
    JOIN complete_sources s ON s.entity_type = h.entity_type AND s.source = h.partner_source
    WHERE h.partner_source || ':' || h.partner_source_id NOT IN (SELECT unique_id FROM linkage_records)
    GROUP BY ALL
), judged AS (
    SELECT d.*, cr.has_psa, cr.has_live_rmm, gp.gone_partner AS gone_psa, gp.gone_partner_last_seen AS gone_psa_seen,
           gr.gone_partner AS gone_rmm, gr.gone_partner_last_seen AS gone_rmm_seen,
           coalesce(nd.in_deleted_list, FALSE) AS in_deleted_list, coalesce(nd.alive, FALSE) AS device_alive,
           coalesce(nd.rmm_complete, FALSE) AS rmm_complete,
           EXISTS (SELECT 1 FROM present p WHERE p.entity_type = d.entity_type AND p.role = 'psa') AS psa_on,
           EXISTS (SELECT 1 FROM present p WHERE p.entity_type = 'configuration' AND p.role = 'rmm') AS rmm_on
    FROM docs d
    JOIN cluster_roles cr USING (entity_type, cluster_id)
    LEFT JOIN gone_partner gp ON gp.entity_type = d.entity_type AND gp.source = d.source
                             AND gp.source_id = d.source_id AND gp.gone_role = 'psa'
    LEFT JOIN gone_partner gr ON gr.entity_type = d.entity_type AND gr.source = d.source
                             AND gr.source_id = d.source_id AND gr.gone_role = 'rmm'
    LEFT JOIN named_device nd USING (entity_type, unique_id)
), reasoned AS (
    SELECT *, CASE
        WHEN psa_integration = 'orphaned' THEN 'psa_orphaned'
        WHEN psa_integration = 'enabled' AND NOT has_psa AND gone_psa IS NOT NULL THEN 'psa_record_deleted'
        -- a copy whose PSA record is alive and syncing is documentation of a live thing, whatever the RMM says
        WHEN entity_type = 'configuration' AND has_rmm_record AND NOT has_live_rmm
             AND NOT (psa_integration = 'enabled' AND has_psa)
             AND (in_deleted_list OR (rmm_device_id IS NOT NULL AND rmm_complete AND NOT device_alive)
                  OR (gone_rmm IS NOT NULL AND NOT device_alive))
            THEN 'rmm_device_deleted'
        WHEN psa_integration = 'enabled' AND NOT has_psa AND psa_on THEN 'unlinked'
        WHEN entity_type = 'configuration' AND has_rmm_record AND NOT has_live_rmm AND rmm_on
             AND NOT (psa_integration = 'enabled' AND has_psa) THEN 'unlinked'
        END AS reason
    FROM judged
)
SELECT entity_type, source, source_id, reason, cluster_id, psa_integration, has_rmm_record, rmm_device_id, rmm_source,
       coalesce(gone_psa, gone_rmm) AS gone_partner, coalesce(gone_psa_seen, gone_rmm_seen) AS gone_partner_last_seen,
       CASE WHEN coalesce(gone_psa, gone_rmm) IS NOT NULL
                THEN 'partner seen until ' || strftime(coalesce(gone_psa_seen, gone_rmm_seen), '%Y-%m-%d')
            ELSE 'no partner seen by earlier runs' END AS history,
       -- what the reason rests on, in words a reviewer checks
       CASE reason
           WHEN 'psa_orphaned' THEN 'IT Glue marks it orphaned'
           WHEN 'psa_record_deleted' THEN 'linked to ' || gone_psa || ' until '
                || strftime(gone_psa_seen, '%Y-%m-%d') || '; absent from this run''s complete extraction'
           WHEN 'rmm_device_deleted' THEN CASE
               WHEN in_deleted_list THEN 'its RMM device ' || rmm_device_id || ' is in the RMM''s deleted devices'
               WHEN rmm_complete AND NOT device_alive THEN 'its RMM device ' || rmm_device_id
                    || ' is absent from this run''s complete ' || rmm_source || ' extraction'
               ELSE 'linked to ' || gone_rmm || ' until ' || strftime(gone_rmm_seen, '%Y-%m-%d')
                    || '; absent from this run''s complete extraction' END
           ELSE 'no partner found; nothing shows it is gone ('
                || CASE WHEN psa_integration = 'enabled' AND NOT has_psa THEN 'no PSA record linked'
                        ELSE 'no live RMM device linked' END
                || CASE WHEN has_rmm_record AND rmm_device_id IS NULL THEN ', its RMM device id is unknown'
                        WHEN has_rmm_record AND device_alive THEN ', its RMM device ' || rmm_device_id || ' is live'
                        WHEN has_rmm_record AND NOT rmm_complete
                            THEN ', no complete extraction of its RMM this run'
                        ELSE '' END || ')' END AS proof,
       resource_url
FROM reasoned
WHERE reason IS NOT NULL;
