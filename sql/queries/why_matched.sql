-- Why two records were matched: for every scored pair inside a duplicate cluster (a duplicate and its kept copy, or
-- either copy and the PSA/RMM record that links them: copies are often linked only through it), Splink's match
-- weight for each comparison (positive: the field agreed and pushed towards a match; negative: it pushed away) and
-- the agreement level (gamma: -1 no value, 0 different, higher is closer). `tf_adj_*` rows are term-frequency
-- adjustments: a common value (a "DC01" hostname) weighs less than a rare one.
-- One record only:  SET VARIABLE record = 'itglue:12345';   (source:source_id) before running this file.
--   duckdb -readonly data/published.duckdb < sql/queries/why_matched.sql
WITH pairs AS (
    SELECT * FROM marts.match_pairs_organizations
    UNION ALL BY NAME SELECT * FROM marts.match_pairs_configurations
    UNION ALL BY NAME SELECT * FROM marts.match_pairs_contacts
), clustered AS (
    SELECT c.entity_type, c.source || ':' || c.source_id AS unique_id, c.cluster_id,
           coalesce(d.role, 'linked ' || c.source) AS role, d.cause
    FROM marts.entity_clusters c
    LEFT JOIN marts.duplicates d USING (entity_type, cluster_id, source, source_id)
    WHERE (c.entity_type, c.cluster_id) IN (SELECT (entity_type, cluster_id) FROM marts.duplicates)
), duplicate_pairs AS (
    -- pairs inside one duplicate cluster, at least one side a copy; with `record` set, only the pairs naming it
    SELECT p.*, l.cluster_id, coalesce(l.cause, r.cause) AS cause, l.role AS role_l, r.role AS role_r
    FROM pairs p
    JOIN clustered l ON l.entity_type = p.entity_type AND l.unique_id = p.unique_id_l
    JOIN clustered r ON r.entity_type = p.entity_type AND r.unique_id = p.unique_id_r AND r.cluster_id = l.cluster_id
    WHERE (l.cause IS NOT NULL OR r.cause IS NOT NULL)
      AND (getvariable('record') IS NULL OR getvariable('record') IN (p.unique_id_l, p.unique_id_r))
), weights AS (
    UNPIVOT (SELECT entity_type, unique_id_l, unique_id_r, COLUMNS('^mw_') FROM duplicate_pairs)
    ON COLUMNS('^mw_') INTO NAME comparison VALUE comparison_weight
), levels AS (
    UNPIVOT (SELECT entity_type, unique_id_l, unique_id_r, COLUMNS('^gamma_') FROM duplicate_pairs)
    ON COLUMNS('^gamma_') INTO NAME comparison VALUE agreement_level
)
SELECT p.entity_type, p.cluster_id, p.cause,
       p.unique_id_l AS record_l, p.role_l, p.unique_id_r AS record_r, p.role_r,
       round(p.match_probability, 4) AS match_probability, round(p.match_weight, 2) AS total_match_weight,
       p.is_certain AS certain_link, p.match_key AS found_by_blocking_rule,
       w.comparison[4:] AS comparison, l.agreement_level, round(w.comparison_weight, 2) AS match_weight
FROM duplicate_pairs p
JOIN weights w USING (entity_type, unique_id_l, unique_id_r)
LEFT JOIN levels l ON l.entity_type = p.entity_type AND l.unique_id_l = p.unique_id_l
                  AND l.unique_id_r = p.unique_id_r AND l.comparison[7:] = w.comparison[4:]
ORDER BY p.entity_type, p.cluster_id, p.unique_id_l, p.unique_id_r, abs(w.comparison_weight) DESC;
