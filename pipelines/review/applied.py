"""What an apply did, in totals: outcomes counted, what it skipped and why, the steps left for a person, and what
can still be restored (`msp-recon restore`)."""

from collections import Counter
from typing import Any

import duckdb

from pipelines.cleanup import approval, store

SKIPPED = ("skipped_changed", "skipped_not_empty", "rejected", "already_gone")


def applied_rows(con: duckdb.DuckDBPyConnection, batch_id: str) -> list[dict[str, Any]]:
    """Each finished action of the batch with its outcome, message, and whether it can be restored now."""
    rows = store.rows(con, """
        SELECT s.action_id, s.action, s.entity_type, s.source_id, s.subject, s.organization_name, s.resource_url,
               s.last_outcome AS outcome, s.last_message AS message,
               EXISTS (SELECT 1 FROM audit.snapshots n WHERE n.action_id = s.action_id) AS has_snapshot,
               EXISTS (SELECT 1 FROM audit.action_log l WHERE l.action_id = s.action_id AND l.step = 'restore'
                       AND l.outcome = 'restored') AS restored
        FROM cleanup.action_status s WHERE s.batch_id = ? AND s.last_outcome IS NOT NULL ORDER BY s.action_id""",
                      [batch_id])
    for r in rows:
        r["restorable"] = (r["outcome"] == "done" and not r["restored"] and (
            r["action"] == "archive" or (r["action"] == "delete" and r["entity_type"] != "organization"
                                         and r["has_snapshot"])))
    return rows


def totals_lines(con: duckdb.DuckDBPyConnection, batch_id: str) -> list[str]:
    """What `msp-recon apply` prints after a run: totals, what was skipped and why, never the whole batch again."""
    store.ensure_schema(con)
    rows = applied_rows(con, batch_id)
    found = approval.valid_approval(con, batch_id)
    excluded = len(found.excluded_action_ids) if found else 0
    counts = Counter(r["outcome"] for r in rows)
    lines = ["  " + ", ".join(f"{n} {o}" for o, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
             + (f"; {excluded} excluded by the approval" if excluded else "")]
    skipped = [r for r in rows if r["outcome"] in SKIPPED]
    if skipped:
        lines.append(f"  skipped {len(skipped)}:")
        lines += [f"    {r['action_id']}  {r['subject'] or r['source_id']}: {r['outcome']} ({r['message'] or ''})"
                  for r in skipped]
    manual = counts.get("manual_step", 0)
    if manual:
        lines.append(f"  {manual} steps for a person, with instructions: msp-recon show {batch_id} --action "
                     "disable_sync_then_delete (also fix_in_psa, merge_organizations)")
    restorable = sum(r["restorable"] for r in rows)
    if restorable:
        lines.append(f"  {restorable} can be restored: msp-recon restore ACTION_ID")
    return lines
