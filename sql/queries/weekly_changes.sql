-- What changed since last week, per client: duplicates and orphans that are new, resolved and still open
-- (marts.weekly_changes compares the last two weekly runs). Clients with the most new findings first.
SELECT organization_name AS client,
       sum(new)::BIGINT AS new,
       sum(resolved)::BIGINT AS resolved,
       sum(still_open)::BIGINT AS still_open,
       coalesce(sum(new) FILTER (WHERE kind = 'duplicate'), 0)::BIGINT AS new_duplicates,
       coalesce(sum(new) FILTER (WHERE kind = 'orphan'), 0)::BIGINT AS new_orphans,
       strftime(max(run_at), '%Y-%m-%d %H:%M') AS run_at,
       strftime(max(previous_run_at), '%Y-%m-%d %H:%M') AS previous_run_at
FROM marts.weekly_changes
GROUP BY organization_name
ORDER BY new DESC, still_open DESC, client;
