"""Decisions that last (audit.decisions): a person's "not a duplicate / keep it", and the records an undo brought back.

- `dismiss` takes an action out of its unapproved batch (an approval made afterwards covers only what remains) and
  keeps the record, or the pair, from being proposed again for the same action until one of its records changes
  (IT Glue's `updated-at` later than the dismissal). The pair is kept apart in clustering (audit.kept_apart).
- `record_restored`: a record `msp-recon restore` brought back (under its new id when it was re-created) is never
  proposed again for the action that was undone.
- `undo` withdraws a decision: the next run may propose the record again.
Planning calls `drop_decided` on its proposals before it writes the batch.

Only a named approver (editor or above, roles.py) may dismiss, and every decision is signed with the approval key
(keys.sign): a decision inserted or edited by SQL does not verify, and planning ignores it, saying so in the batch's
notes, so nobody who can only write the warehouse can hide a record from cleanup.
"""

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb

from pipelines.cleanup import CleanupError, approval, keys, roles, store
from pipelines.cleanup.itglue_api import Fetched


@dataclass
class Decision:
    decision_id: str
    kind: str
    action_id: str
    batch_id: str
    entity_type: str
    source: str
    source_id: str
    action: str
    partner_source_id: str | None
    subject: str | None
    organization_name: str | None
    decided_by: str
    reason: str
    decided_at: datetime
    undone_by: str | None = None
    undone_at: datetime | None = None
    signature: str | None = None  # HMAC-SHA256 of `payload` under the approval key, hex

    def payload(self) -> dict[str, Any]:
        """What the signature covers: the decision as made (an undo is not signed: it only lets a record be
        proposed again, for a person to approve)."""
        at = self.decided_at if self.decided_at.tzinfo else self.decided_at.replace(tzinfo=UTC)
        return {"decision_id": self.decision_id, "kind": self.kind, "action_id": self.action_id,
                "batch_id": self.batch_id, "entity_type": self.entity_type, "source": self.source,
                "source_id": self.source_id, "action": self.action, "partner_source_id": self.partner_source_id,
                "decided_by": self.decided_by, "reason": self.reason,
                "decided_at": at.astimezone(UTC).isoformat(timespec="microseconds")}

    def is_signed(self, con: duckdb.DuckDBPyConnection) -> bool:
        return keys.verifies(con, self.payload(), self.signature)


def _next_id(con: duckdb.DuckDBPyConnection) -> str:
    n = con.execute("SELECT count(*) FROM audit.decisions").fetchall()[0][0] + 1
    while con.execute("SELECT count(*) FROM audit.decisions WHERE decision_id = ?", [f"D{n:04d}"]).fetchall()[0][0]:
        n += 1
    return f"D{n:04d}"


def _insert(con: duckdb.DuckDBPyConnection, d: Decision) -> None:
    d.signature = keys.sign_with_approval_key(con, d.payload())
    con.execute("INSERT INTO audit.decisions (decision_id, kind, action_id, batch_id, entity_type, source, source_id, "
                "action, partner_source_id, subject, organization_name, decided_by, reason, decided_at, undone_by, "
                "undone_at, signature) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [d.decision_id, d.kind, d.action_id, d.batch_id, d.entity_type, d.source, d.source_id, d.action,
                 d.partner_source_id, d.subject, d.organization_name, d.decided_by, d.reason, d.decided_at,
                 d.undone_by, d.undone_at, d.signature])


def dismiss(con: duckdb.DuckDBPyConnection, action_id: str, by: str, reason: str, *,
            approvers: roles.Approvers) -> Decision:
    """Dismiss one proposed action as `by` (editor or above in `approvers`); CleanupError (nothing changed) when its
    batch is approved, applied or being applied, when who or why is missing, or `by` may not dismiss."""
    store.ensure_schema(con)
    if not by.strip() or not reason.strip():
        raise CleanupError("say who dismisses and why: --by NAME --reason TEXT (e.g. \"not a duplicate\")")
    roles.check_dismisser(approvers, by)
    earlier = con.execute("SELECT decision_id FROM audit.dismissed_actions WHERE action_id = ?", [action_id]).fetchall()
    if earlier:
        raise CleanupError(f"{action_id} was already dismissed ({earlier[0][0]}); `msp-recon decisions` lists it")
    act = store.action(con, action_id)
    b = store.batch(con, act["batch_id"])
    if b["status"] in ("applied", "applying"):
        raise CleanupError(f"batch {b['batch_id']} {'was' if b['status'] == 'applied' else 'is being'} applied; "
                           f"{action_id} can no longer be dismissed (msp-recon restore undoes an applied action)")
    found = approval.valid_approval(con, b["batch_id"])
    if found is not None and action_id not in found.excluded_action_ids:
        raise CleanupError(f"batch {b['batch_id']} is approved ({found.approval_id}) with {action_id} in it; "
                           "dismissing it would void that approval: nothing changed")
    decision = Decision(_next_id(con), "dismissed", action_id, act["batch_id"], act["entity_type"], act["source"],
                        act["source_id"], act["action"], act["survivor_source_id"], act.get("subject"),
                        act.get("organization_name"), by.strip(), reason.strip(), store.now())
    con.execute("BEGIN TRANSACTION")
    try:
        _insert(con, decision)
        con.execute("INSERT INTO audit.dismissed_actions VALUES (?, ?, ?)",
                    [decision.decision_id, action_id, json.dumps(act, default=str)])
        con.execute("DELETE FROM cleanup.actions WHERE action_id = ?", [action_id])
        con.execute("UPDATE cleanup.batches SET action_count = (SELECT count(*) FROM cleanup.actions a "
                    "WHERE a.batch_id = ?) WHERE batch_id = ?", [act["batch_id"], act["batch_id"]])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return decision


def record_restored(con: duckdb.DuckDBPyConnection, action_id: str, restored_id: str | None, by: str = "restore"
                    ) -> Decision:
    """After `msp-recon restore`: never propose the restored record (its id now) for the undone action again."""
    store.ensure_schema(con)
    act = store.action(con, action_id)
    decision = Decision(_next_id(con), "restored", action_id, act["batch_id"], act["entity_type"], act["source"],
                        restored_id or act["source_id"], act["action"], None, act.get("subject"),
                        act.get("organization_name"), by, f"restored (was {act['source']}:{act['source_id']})",
                        store.now())
    _insert(con, decision)
    return decision


def decisions(con: duckdb.DuckDBPyConnection, include_undone: bool = True) -> list[Decision]:
    store.ensure_schema(con)
    where = "" if include_undone else " WHERE undone_at IS NULL"
    return [Decision(**r) for r in store.rows(con, f"SELECT * FROM audit.decisions{where} ORDER BY decided_at")]


def undo(con: duckdb.DuckDBPyConnection, decision_id: str, by: str) -> Decision:
    """Withdraw a decision; the next run may propose its record again. The action does not return to its batch."""
    store.ensure_schema(con)
    found = [d for d in decisions(con) if d.decision_id == decision_id]
    if not found:
        raise CleanupError(f"there is no decision {decision_id}; `msp-recon decisions` lists them")
    d = found[0]
    if d.undone_at is not None:
        raise CleanupError(f"decision {decision_id} was already undone by {d.undone_by} at "
                           f"{d.undone_at:%Y-%m-%d %H:%M} UTC; nothing changed")
    if not by.strip():
        raise CleanupError("say who undoes it: --by NAME")
    d.undone_by, d.undone_at = by.strip(), store.now()
    con.execute("UPDATE audit.decisions SET undone_by = ?, undone_at = ? WHERE decision_id = ?",
                [d.undone_by, d.undone_at, decision_id])
    return d


def _changed_since(updated_at: str | None, decided_at: datetime) -> bool:
    if not updated_at:
        return False  # unknown: the decision holds
    try:
        return datetime.fromisoformat(updated_at) > decided_at
    except ValueError:
        return False


def holds(d: Decision, proposal: Any, fetched: Mapping[tuple[str, str], Fetched]) -> bool:
    """Does decision `d` keep `proposal` out of a new batch?"""
    if (d.entity_type, d.source, d.source_id, d.action) != (proposal.entity_type, proposal.source,
                                                           proposal.source_id, proposal.action):
        return False
    if d.kind == "restored":
        return True
    if d.partner_source_id and d.partner_source_id != proposal.survivor_source_id:
        return False  # a different pair: a new question for a person
    partner = fetched.get((d.entity_type, d.partner_source_id)) if d.partner_source_id else None
    return not (_changed_since(proposal.planned_updated_at, d.decided_at)
                or _changed_since(partner.updated_at if partner else None, d.decided_at))


def drop_decided(con: duckdb.DuckDBPyConnection, proposals: Iterable[Any],
                 fetched: Mapping[tuple[str, str], Fetched]) -> tuple[list[Any], list[str]]:
    """(proposals no standing decision keeps out, a note per one left out)."""
    proposals = list(proposals)
    standing, notes = [], []
    for d in decisions(con, include_undone=False):
        if d.is_signed(con):
            standing.append(d)
        else:
            notes.append(f"ignored decision {d.decision_id} ({d.kind} {d.source}:{d.source_id} by {d.decided_by}): not "
                         f"signed with the approval key {keys.key_dir_of(con) / keys.APPROVAL_KEY} (inserted or edited "
                         "outside msp-recon)")
    if not standing:
        return proposals, notes
    kept = []
    for p in proposals:
        d = next((d for d in standing if holds(d, p, fetched)), None)
        if d is None:
            kept.append(p)
        else:
            notes.append(f"{p.entity_type} {p.source}:{p.source_id} not proposed for {p.action}: {d.kind} by "
                         f"{d.decided_by} ({d.decision_id}: {d.reason})")
    return kept, notes


def kept_apart_pairs(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str]]:
    """(entity_type, unique_id_l, unique_id_r) of audit.kept_apart, less the dismissals that do not verify: a pair
    kept apart by SQL alone would hide a duplicate from cleanup."""
    if not store.has_table(con, "audit.decisions"):
        return []
    found = [Decision(**r) for r in store.rows(con, "SELECT * FROM audit.decisions WHERE kind = 'dismissed' AND "
                                                    "partner_source_id IS NOT NULL AND undone_at IS NULL")]
    return [(d.entity_type, f"{d.source}:{d.source_id}", f"{d.source}:{d.partner_source_id}")
            for d in found if d.is_signed(con)]


def decision_lines(con: duckdb.DuckDBPyConnection) -> list[str]:
    """What `msp-recon decisions` prints."""
    found = decisions(con)
    if not found:
        return ["No decisions yet: `msp-recon dismiss ACTION_ID --by NAME --reason TEXT` records one."]
    lines = [f"{'decision':<8} {'kind':<9} {'decided (UTC)':<16} {'by':<10} {'action':<24} what / why"]
    for d in found:
        state = f"  [undone by {d.undone_by} {d.undone_at:%Y-%m-%d %H:%M}]" if d.undone_at else ""
        state += "" if d.is_signed(con) else "  [not signed: ignored by planning]"
        pair = f" (kept apart from {d.partner_source_id})" if d.partner_source_id and d.kind == "dismissed" else ""
        lines.append(f"{d.decision_id:<8} {d.kind:<9} {d.decided_at:%Y-%m-%d %H:%M} {d.decided_by:<10} "
                     f"{d.action + ' ' + d.action_id:<24} {d.subject or d.source + ':' + d.source_id}{pair}: "
                     f"{d.reason}{state}")
    return lines
