-- marts.duplicates: records in a cluster that holds two or more records of one source, with the cluster's cause (the
-- article's four signatures, domain.md) and the record to keep (the article's rule: the copy that syncs with the
-- PSA wins). Reads linkage_records, entity_clusters, linkage_edges (entity_type, unique_id_l, unique_id_r,
-- match_probability: the edges the clusters were built from) and {burst_min_records} (an integer).

CREATE OR REPLACE TEMP TABLE duplicates AS
WITH manual AS (
    -- A CSV import creates many manual records within a minute or two; hand-documenting does not.
    SELECT entity_type, unique_id,
           count(*) OVER (PARTITION BY entity_type ORDER BY created_at
                          RANGE BETWEEN INTERVAL 90 SECOND PRECEDING AND INTERVAL 90 SECOND FOLLOWING)
               >= {burst_min_records} AS in_burst
    FROM linkage_records
    WHERE role = 'documentation' AND psa_integration IS NULL AND NOT has_rmm_record AND created_at IS NOT NULL
), members AS (
    SELECT r.*, c.cluster_id, coalesce(m.in_burst, FALSE) AS in_burst,
           count(*) OVER (PARTITION BY r.entity_type, c.cluster_id, r.source) AS n_in_source
    FROM linkage_records r
    JOIN entity_clusters c USING (entity_type, unique_id)
    LEFT JOIN manual m USING (entity_type, unique_id)
    QUALIFY n_in_source >= 2
), grouped AS (
    SELECT entity_type, cluster_id, source, any_value(role) AS role,
           count(*) FILTER (WHERE psa_integration IS NOT NULL) AS n_synced,
           count(*) FILTER (WHERE psa_integration IS NULL AND has_rmm_record) AS n_rmm_direct,
           count(*) FILTER (WHERE psa_integration IS NULL AND NOT has_rmm_record) AS n_manual,
           count(*) FILTER (WHERE psa_integration IS NULL AND NOT has_rmm_record AND in_burst) AS n_manual_in_burst,
           min(created_at) FILTER (WHERE psa_integration IS NULL AND NOT has_rmm_record) AS first_manual,
           min(created_at) FILTER (WHERE psa_integration IS NOT NULL) AS first_synced
    FROM members GROUP BY ALL
), caused AS (
    SELECT *, CASE
        -- the PSA (or an RMM) itself holds the thing twice
        WHEN role <> 'documentation' THEN 'source_duplicate'
        -- two IT Glue copies each synced from its own PSA record
        WHEN n_synced >= 2 THEN 'source_duplicate'
        -- one copy came straight from the RMM, the other through the PSA
        WHEN n_rmm_direct >= 1 AND n_synced >= 1 THEN 'sync_method_change'
        -- manual copies created in import bursts
        WHEN n_manual_in_burst >= 2 THEN 'csv_double_import'
        -- documented by hand before the first sync, which did not match it exactly
        WHEN n_manual >= 1 AND n_synced >= 1 AND (first_manual <= first_synced OR first_synced IS NULL
                                                   OR first_manual IS NULL) THEN 'pre_sync_existing'
        ELSE 'unknown' END AS cause
    FROM grouped
), edge AS (
    SELECT entity_type, unique_id_l AS u, unique_id_r AS v, match_probability FROM linkage_edges
    UNION ALL SELECT entity_type, unique_id_r, unique_id_l, match_probability FROM linkage_edges
), direct AS (
    -- how sure the link between this record and another copy of the same source is; copies linked only through a
    -- third record (both to one PSA item) take their best link in the cluster
    SELECT m.entity_type, m.unique_id,
           max(e.match_probability) FILTER (WHERE o.source = m.source) AS p_same_source,
           max(e.match_probability) AS p_any
    FROM members m
    JOIN edge e ON e.entity_type = m.entity_type AND e.u = m.unique_id
    JOIN entity_clusters o ON o.entity_type = e.entity_type AND o.unique_id = e.v AND o.cluster_id = m.cluster_id
    GROUP BY ALL
)
SELECT m.entity_type, m.cluster_id, m.source, m.source_id,
       CASE WHEN row_number() OVER (
                PARTITION BY m.entity_type, m.cluster_id, m.source
                ORDER BY m.psa_integration = 'enabled' DESC NULLS LAST, m.has_rmm_record DESC,
                         m.rmm_device_id IS NOT NULL DESC, m.is_active DESC, m.is_deleted ASC,
                         m.created_at ASC NULLS LAST, m.source_id) = 1
            THEN 'keep' ELSE 'duplicate' END AS role,
       c.cause,
       coalesce(d.p_same_source, d.p_any) AS match_probability,
       m.n_in_source AS copies_in_source,
       m.psa_integration, m.has_rmm_record, m.created_at, m.resource_url
FROM members m
JOIN caused c USING (entity_type, cluster_id, source)
LEFT JOIN direct d USING (entity_type, unique_id);
