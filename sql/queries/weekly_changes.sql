-- What changed since last week, per client: duplicates and orphans that are new, resolved and still open
-- (marts.weekly_changes compares the last two weekly runs). Clients with the most new findings first.
SELECT organization_name AS client,
       sum(new) AS new,
       sum(resolved) AS resolved,
       sum(still_open) AS still_open,
       sum(new) FILTER (WHERE kind = 'duplicate') AS new_duplicates,
       sum(new) FILTER (WHERE kind = 'orphan') AS new_orphans,
       strftime(max(run_at), '%Y-%m-%d %H:%M') AS run_at,
       strftime(max(previous_run_at), '%Y-%m-%d %H:%M') AS previous_run_at
FROM marts.weekly_changes
GROUP BY organization_name
ORDER BY new DESC, still_open DESC, client;
