-- marts.duplicates: records in a cluster that holds two or more records of one source, with the cluster's cause (the
-- article's four signatures, domain.md, read from what the records are: synced or not, RMM data or not, which copy
-- is older, whether manual copies came in import bursts; never from exact times; `unknown` when none fits) and the
-- record to keep (the article's rule: the copy that syncs with the
-- PSA wins). Reads linkage_records, entity_clusters, linkage_edges (entity_type, unique_id_l, unique_id_r,
-- match_probability: the edges the clusters were built from), linkage_pairs (every scored pair), {burst_min_records} and {burst_seconds} (integers).

-- In two statements, through a table of the members, narrow until they are known: the records in clusters holding two
-- or more of one source are found from the cluster table alone (a few columns), and only they are joined to their
-- fields. One statement over every record's fields ran out of memory at 10M configurations with an 8 GB limit.
CREATE OR REPLACE TEMP TABLE duplicate_members AS
WITH manual AS (
    -- made by hand or by an import: IT Glue records with neither a PSA sync nor RMM data
    SELECT entity_type, unique_id, created_at FROM linkage_records
    WHERE role = 'documentation' AND psa_integration IS NULL AND NOT has_rmm_record AND created_at IS NOT NULL
), sessions AS (
    -- manual records made within {burst_seconds} s of the previous one belong to one session (an import writes a
    -- sheet of devices and people in seconds; documenting by hand does not go that fast)
    SELECT *, sum(CASE WHEN gap IS NULL OR gap > {burst_seconds} THEN 1 ELSE 0 END)
                  OVER (ORDER BY created_at, unique_id ROWS UNBOUNDED PRECEDING) AS session_id
    FROM (SELECT *, epoch(created_at) - epoch(lag(created_at) OVER (ORDER BY created_at, unique_id)) AS gap
          FROM manual)
), dense AS (
    SELECT entity_type, unique_id, session_id,
           count(*) OVER (PARTITION BY session_id) >= {burst_min_records} AS in_burst
    FROM sessions
), rmm_made_orgs AS (
    -- an organization the RMM's direct sync created holds devices that carry RMM data and never synced from the
    -- PSA: most of its configurations are such copies (a PSA-synced organization's are PSA-synced)
    SELECT organization_uid AS unique_id
    FROM linkage_records
    WHERE entity_type = 'configuration' AND role = 'documentation' AND organization_uid IS NOT NULL
    GROUP BY 1
    HAVING count(*) FILTER (WHERE has_rmm_record AND psa_integration IS NULL) * 2 > count(*)
), in_clusters AS (
    SELECT entity_type, unique_id, cluster_id,
           count(*) OVER (PARTITION BY entity_type, cluster_id, source) AS n_in_source
    FROM entity_clusters
    QUALIFY n_in_source >= 2
)
SELECT r.* REPLACE (CASE WHEN r.entity_type = 'organization' THEN k.unique_id IS NOT NULL
                         ELSE r.has_rmm_record END AS has_rmm_record),
       c.cluster_id, coalesce(m.in_burst, FALSE) AS in_burst, m.session_id, c.n_in_source
FROM in_clusters c
JOIN linkage_records r USING (entity_type, unique_id)
LEFT JOIN dense m USING (entity_type, unique_id)
LEFT JOIN rmm_made_orgs k ON r.entity_type = 'organization' AND k.unique_id = r.unique_id;

CREATE OR REPLACE TEMP TABLE duplicates AS
WITH members AS (
    SELECT * FROM duplicate_members
), copy_pairs AS (
    -- two manual copies of one thing and the two sessions that made them
    SELECT a.entity_type, a.cluster_id, a.source, a.session_id AS session_first, b.session_id AS session_second
    FROM members a
    JOIN members b ON a.entity_type = b.entity_type AND a.cluster_id = b.cluster_id AND a.source = b.source
                  AND (a.created_at, a.unique_id) < (b.created_at, b.unique_id)
    WHERE a.session_id IS NOT NULL AND b.session_id IS NOT NULL
), repeated_sessions AS (
    -- the same two sessions made copies of other things too: one sheet imported twice. A copy made by hand at
    -- some moment has no such twin.
    -- (counted with GROUP BY, which DuckDB spills to disk, not with count(DISTINCT) over a window: a busy
    -- afternoon is one long session, and at 10M configurations that window ran out of memory at an 8 GB limit)
    SELECT session_first, session_second
    FROM (SELECT DISTINCT session_first, session_second, entity_type, cluster_id FROM copy_pairs)
    GROUP BY ALL HAVING count(*) >= 2
), repeated_imports AS (
    SELECT DISTINCT entity_type, cluster_id, source
    FROM copy_pairs SEMI JOIN repeated_sessions USING (session_first, session_second)
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
        -- manual copies made by one import repeated, or each inside an import burst
        WHEN n_manual >= 2 AND (repeated OR n_manual_in_burst >= 2) THEN 'csv_double_import'
        -- documented by hand before the first sync, which did not match it exactly: the manual copy must be
        -- known to be the older one (a copy made by hand after the synced one, or without a creation time, fits
        -- no signature of the article)
        WHEN n_manual >= 1 AND n_synced >= 1 AND first_manual < first_synced THEN 'pre_sync_existing'
        -- anything else (manual copies with no import burst and no synced copy, RMM data on both, ...): say so
        -- rather than guess
        ELSE 'unknown' END AS cause
    FROM (SELECT g.*, r.cluster_id IS NOT NULL AS repeated
          FROM grouped g LEFT JOIN repeated_imports r USING (entity_type, cluster_id, source))
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
), ranked AS (
    SELECT m.*, row_number() OVER (
                PARTITION BY m.entity_type, m.cluster_id, m.source
                ORDER BY m.psa_integration = 'enabled' DESC NULLS LAST, m.has_rmm_record DESC,
                         m.rmm_device_id IS NOT NULL DESC, m.is_active DESC, m.is_deleted ASC,
                         m.created_at ASC NULLS LAST, m.source_id) AS rank_in_source
    FROM members m
), copy_survivor AS (
    SELECT r.entity_type, r.unique_id, k.unique_id AS survivor_id
    FROM ranked r
    JOIN ranked k ON k.entity_type = r.entity_type AND k.cluster_id = r.cluster_id AND k.source = r.source
                 AND k.rank_in_source = 1 AND r.rank_in_source > 1
), keep_pair AS (
    -- the probability Splink gave this copy paired with its survivor directly: a copy that is in the cluster only
    -- through other records (A-B and B-C sure, A-C never scored or weak) has no proof of being the survivor's
    -- twin, and cleanup does not delete it on membership alone
    -- (a pair is stored in one orientation: each is looked up by equality, since an OR of the two would join every
    -- copy with every pair of its entity type)
    SELECT entity_type, unique_id, max(match_probability) AS keep_pair_probability FROM (
        SELECT c.entity_type, c.unique_id, p.match_probability
        FROM copy_survivor c
        JOIN linkage_pairs p ON p.entity_type = c.entity_type AND p.unique_id_l = c.unique_id
                            AND p.unique_id_r = c.survivor_id
        UNION ALL
        SELECT c.entity_type, c.unique_id, p.match_probability
        FROM copy_survivor c
        JOIN linkage_pairs p ON p.entity_type = c.entity_type AND p.unique_id_r = c.unique_id
                            AND p.unique_id_l = c.survivor_id)
    GROUP BY ALL
)
SELECT m.entity_type, m.cluster_id, m.source, m.source_id,
       CASE WHEN m.rank_in_source = 1 THEN 'keep' ELSE 'duplicate' END AS role,
       c.cause,
       coalesce(d.p_same_source, d.p_any) AS match_probability,
       CASE WHEN m.rank_in_source = 1 THEN 1.0 ELSE kp.keep_pair_probability END AS keep_pair_probability,
       m.n_in_source AS copies_in_source,
       m.psa_integration, m.has_rmm_record, m.created_at, m.resource_url
FROM ranked m
JOIN caused c USING (entity_type, cluster_id, source)
LEFT JOIN direct d USING (entity_type, unique_id)
LEFT JOIN keep_pair kp USING (entity_type, unique_id);

DROP TABLE duplicate_members;
