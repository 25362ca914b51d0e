"""Everything the review page and the static report show of one batch, read in one short connection."""

from typing import Any

import duckdb

from pipelines.cleanup import approval, store
from pipelines.review import applied, evidence
from pipelines.review.summary import FACETS, Filters, summarise


def latest_batch(con: duckdb.DuckDBPyConnection) -> str | None:
    if not store.has_table(con, "cleanup.batches"):
        return None
    found = con.execute("SELECT batch_id FROM cleanup.batches ORDER BY created_at DESC, batch_id DESC LIMIT 1"
                        ).fetchall()
    return found[0][0] if found else None


PAGE_SIZE = 200  # actions per page: a first batch of 8,600 is read a client or a cause at a time


def batch_view(con: duckdb.DuckDBPyConnection, batch_id: str, filters: Filters | None = None, page: int = 1,
               page_size: int | None = PAGE_SIZE) -> dict[str, Any]:
    """The batch, its summary and facet values, the actions the filters keep (one page of them) with their evidence,
    the approval, what was applied and can be restored, and the actions dismissed from it. `page_size=None`: all."""
    filters = filters or Filters()
    b = store.batch(con, batch_id)
    actions = store.actions(con, batch_id)
    found = approval.valid_approval(con, batch_id)
    excluded = set(found.excluded_action_ids) if found else set()
    outcomes = store.final_outcomes(con, batch_id) if store.has_table(con, "audit.action_log") else {}
    matching = filters.apply(actions)
    pages = max(1, -(-len(matching) // page_size)) if page_size else 1
    page = min(max(1, page), pages)
    shown = matching[(page - 1) * page_size:page * page_size] if page_size else matching
    found_evidence = evidence.for_actions(con, shown)
    for a in shown:
        a["evidence"] = found_evidence[a["action_id"]]
        a["status"] = "excluded" if a["action_id"] in excluded else outcomes.get(a["action_id"], "")
    role = None
    if found is not None and store.has_table(con, "cleanup.approval_intents"):
        rows = con.execute("SELECT role, apply_requested FROM cleanup.approval_intents WHERE approval_id = ?",
                           [found.approval_id]).fetchall()
        role = rows[0] if rows else None
    dismissed = store.rows(con, "SELECT * FROM audit.decisions WHERE batch_id = ? ORDER BY decided_at",
                           [batch_id]) if store.has_table(con, "audit.decisions") else []
    summary = summarise(actions)
    return {
        "batch": b, "actions": actions, "matching": matching, "shown": shown, "page": page, "pages": pages,
        "filters": filters, "summary": summary,
        "choices": {facet: [v for v, _ in summary[facet]] for facet in FACETS},
        "approval": found, "approval_role": role, "stale_approval": found is None and bool(
            approval.approvals(con, batch_id)),
        "applied": applied.applied_rows(con, batch_id) if store.has_table(con, "audit.action_log") else [],
        "dismissed": dismissed,
    }
