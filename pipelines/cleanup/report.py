"""What `msp-recon batches` and `msp-recon show` print: plain text a reviewer reads before approving."""

import duckdb

from pipelines.cleanup import approval, store
from pipelines.review.summary import Filters, summary_lines


def batch_lines(con: duckdb.DuckDBPyConnection) -> list[str]:
    store.ensure_schema(con)
    if not store.has_table(con, "cleanup.batches"):
        return ["No cleanup batches yet: the weekly job proposes one (msp-recon run)."]
    batches = store.rows(con, "SELECT * FROM cleanup.batches ORDER BY created_at DESC, batch_id DESC")
    if not batches:
        return ["No cleanup batches yet: the weekly job proposes one (msp-recon run)."]
    lines = [f"{'batch':<8} {'created (UTC)':<17} {'status':<11} {'actions':>7}  approval / notes"]
    for b in batches:
        found = approval.valid_approval(con, b["batch_id"])
        notes = [f"approved by {found.approved_by} ({found.approval_id})"] if found else []
        if not found and approval.approvals(con, b["batch_id"]):
            notes.append("approval no longer matches the batch")
        if b["needs_second_look"]:
            notes.append("needs a second look")
        outcomes = store.final_outcomes(con, b["batch_id"])
        if outcomes:
            counts: dict[str, int] = {}
            for o in outcomes.values():
                counts[o] = counts.get(o, 0) + 1
            notes.append(", ".join(f"{n} {o}" for o, n in sorted(counts.items())))
        lines.append(f"{b['batch_id']:<8} {b['created_at']:%Y-%m-%d %H:%M} {b['status']:<11} {b['action_count']:>7}  "
                     + "; ".join(notes))
    return lines


def show_lines(con: duckdb.DuckDBPyConnection, batch_id: str, filters: Filters | None = None) -> list[str]:
    """A summary of the batch (counts per action, cause, entity type and client), then each action the filters keep,
    with what it is about, why, its evidence and its link."""
    store.ensure_schema(con)
    filters = filters or Filters()
    b = store.batch(con, batch_id)
    found = approval.valid_approval(con, batch_id)
    excluded = set(found.excluded_action_ids) if found else set()
    outcomes = store.final_outcomes(con, batch_id)
    actions = store.actions(con, batch_id)
    lines = [f"Batch {batch_id}: {b['status']}, {len(actions)} actions, proposed {b['created_at']:%Y-%m-%d %H:%M} UTC"]
    lines += summary_lines(actions)
    if b["needs_second_look"]:
        lines.append("  NEEDS A SECOND LOOK: " + "; ".join(b["guard_reasons"] or []))
        lines.append("  (approve only with --accept-large-batch)")
    if found:
        lines.append(f"  approved by {found.approved_by} at {found.approved_at:%Y-%m-%d %H:%M} UTC ({found.approval_id})"
                     + (f", excluding {', '.join(sorted(excluded))}" if excluded else ""))
    elif approval.approvals(con, batch_id):
        lines.append("  an approval exists but no longer matches the batch: apply will refuse it")
    chosen = filters.apply(actions)
    if filters.active():
        lines.append(f"  showing {len(chosen)} of {len(actions)} actions ("
                     + ", ".join(f"{k} {v}" for k, v in filters.active().items()) + ")")
    for a in chosen:
        lines += action_lines(a, "excluded" if a["action_id"] in excluded else outcomes.get(a["action_id"], ""))
    return lines


def action_lines(a: dict, status: str = "") -> list[str]:
    """One action as `show` prints it."""
    lines = ["", f"{a['action_id']}  {a['action'].upper()}  {a.get('subject') or a['name'] or a['source_id']}"
                 f"  ({a['entity_type']} {a['source']}:{a['source_id']})" + (f"   [{status}]" if status else "")]
    lines.append(f"    why:       {a['reason']}")
    evidence = [f"cause {a['cause']}" if a["cause"] else None,
                f"match probability {a['match_probability']:.3f}" if a["match_probability"] is not None else None,
                f"sync {a['psa_integration']}" if a["psa_integration"] else "not synced"]
    lines.append(f"    evidence:  {', '.join(e for e in evidence if e)}")
    if a["fields_agreed"] or a["fields_disagreed"]:
        lines.append(f"    fields:    agree {', '.join(a['fields_agreed']) or '-'}; "
                     f"differ {', '.join(a['fields_disagreed']) or '-'}")
    if a["survivor_source_id"]:
        lines.append(f"    keeps:     {a['survivor_source_id']}  {a['survivor_resource_url'] or ''}".rstrip())
    if a["carries"]:
        lines.append(f"    carries:   {', '.join(a['carries'])}")
    if a["resource_url"]:
        lines.append(f"    link:      {a['resource_url']}")
    if a["instructions"]:
        lines.append(f"    by hand:   {a['instructions']}")
    return lines
