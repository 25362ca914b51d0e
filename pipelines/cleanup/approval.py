"""Approval: who approved exactly which actions, sealed twice.

- The fingerprint (sha256 over the approved actions) ties the approval to the batch as it stands: editing, adding or
  removing an action afterwards changes it, and the approval no longer counts.
- The signature (HMAC-SHA256 under the approval key, kept outside the warehouse: pipelines/cleanup/keys.py) ties the
  fingerprint to the approver, the approval id, the batch and the time. Anyone who can write the warehouse can compute
  a sha256 in SQL, but not the HMAC: an approval row inserted or edited by SQL does not verify, and counts for nothing.
"""

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb

from pipelines.cleanup import CleanupError, keys, store

# What an approval is of: the record, what is done to it, the state it was seen in, and what it is kept for.
FINGERPRINT_FIELDS = ("action_id", "batch_id", "entity_type", "source", "source_id", "action",
                      "survivor_source_id", "planned_updated_at", "carries")


@dataclass
class Approval:
    approval_id: str
    batch_id: str
    approved_by: str
    approved_at: datetime
    excluded_action_ids: list[str]
    fingerprint: str
    second_look_accepted: bool
    signature: str | None = None  # HMAC-SHA256 of the fields above (`signed`), hex


def fingerprint(actions: Iterable[dict[str, Any]]) -> str:
    """sha256 over the approved actions' identifying fields, in action_id order."""
    canonical = sorted(([a[f] if not isinstance(a[f], list) else sorted(a[f]) for f in FINGERPRINT_FIELDS]
                        for a in actions), key=lambda values: values[0])
    return hashlib.sha256(json.dumps(canonical, default=str, separators=(",", ":")).encode()).hexdigest()


def payload(a: Approval) -> dict[str, Any]:
    """What an approval's signature covers: approval id, batch, approver, time (UTC, to the microsecond), the
    exclusions, the fingerprint of the approved actions and whether a second look was accepted."""
    at = a.approved_at if a.approved_at.tzinfo else a.approved_at.replace(tzinfo=UTC)
    return {"approval_id": a.approval_id, "batch_id": a.batch_id, "approved_by": a.approved_by,
            "approved_at": at.astimezone(UTC).isoformat(timespec="microseconds"),
            "excluded_action_ids": sorted(a.excluded_action_ids), "fingerprint": a.fingerprint,
            "second_look_accepted": bool(a.second_look_accepted)}


def signed(key: bytes, a: Approval) -> str:
    """HMAC-SHA256 of the approval's payload under the approval key."""
    return keys.sign(key, payload(a))


def is_signed(con: duckdb.DuckDBPyConnection, a: Approval) -> bool:
    """Was this approval made by `approve` with this installation's key, and not edited since?"""
    return keys.verifies(con, payload(a), a.signature)


def why_not_valid(con: duckdb.DuckDBPyConnection, a: Approval) -> str | None:
    """Why an approval does not count (one clause), or None when it does."""
    if not is_signed(con, a):
        where = keys.key_dir_of(con) / keys.APPROVAL_KEY
        return (f"approval {a.approval_id} is not signed by `msp-recon approve` with the approval key {where} "
                "(inserted or edited outside it)")
    if not matches(con, a):
        return "the batch changed after it was approved (its actions no longer match the approval's fingerprint)"
    return None


def approved_actions(actions: list[dict[str, Any]], excluded: Iterable[str]) -> list[dict[str, Any]]:
    excluded = set(excluded)
    return [a for a in actions if a["action_id"] not in excluded]


def approvals(con: duckdb.DuckDBPyConnection, batch_id: str) -> list[Approval]:
    return [Approval(**r) for r in store.rows(
        con, "SELECT * FROM cleanup.approvals WHERE batch_id = ? ORDER BY approved_at", [batch_id])]


def matches(con: duckdb.DuckDBPyConnection, approval: Approval) -> bool:
    """Does the approval seal the batch as it stands now?"""
    current = approved_actions(store.actions(con, approval.batch_id), approval.excluded_action_ids)
    return fingerprint(current) == approval.fingerprint


def valid_approval(con: duckdb.DuckDBPyConnection, batch_id: str, approval_id: str | None = None) -> Approval | None:
    """The approval that counts: the given one if it is signed and matches the batch, else the latest that is; None
    otherwise."""
    candidates = approvals(con, batch_id)
    if approval_id:
        candidates = [a for a in candidates if a.approval_id == approval_id]
    for a in reversed(candidates):
        if why_not_valid(con, a) is None:
            return a
    return None


def approve(con: duckdb.DuckDBPyConnection, batch_id: str, by: str, exclude: Iterable[str] = (),
            accept_large_batch: bool = False) -> Approval:
    """Record an approval of the batch as it stands, less the excluded actions. Refuses, changing nothing: an unknown
    batch or action, a batch already approved, applied, being applied or superseded, a batch that needs a second look
    without `accept_large_batch`, and an approval of nothing."""
    store.ensure_schema(con)
    if not by.strip():
        raise CleanupError("say who approves: --by NAME")
    b = store.batch(con, batch_id)
    if b["status"] in ("applied", "applying"):
        state = "was already applied" if b["status"] == "applied" else "is being applied"
        raise CleanupError(f"batch {batch_id} {state}; nothing was approved")
    if b["status"] == "superseded":
        raise CleanupError(f"batch {batch_id} was superseded by a newer proposal; approve the latest batch "
                           "(`msp-recon batches`)")
    existing = valid_approval(con, batch_id)
    if existing is not None:
        raise CleanupError(f"batch {batch_id} is already approved by {existing.approved_by} at "
                           f"{existing.approved_at:%Y-%m-%d %H:%M} UTC ({existing.approval_id}); nothing changed")
    if b["needs_second_look"] and not accept_large_batch:
        raise CleanupError(f"batch {batch_id} needs a second look ({'; '.join(b['guard_reasons'] or [])}): review it "
                           "with `msp-recon show`, then approve with --accept-large-batch")
    actions = store.actions(con, batch_id)
    known = {a["action_id"] for a in actions}
    exclude = list(dict.fromkeys(exclude))
    unknown = [x for x in exclude if x not in known]
    if unknown:
        raise CleanupError(f"batch {batch_id} has no action {', '.join(unknown)}; nothing was approved")
    chosen = approved_actions(actions, exclude)
    if not chosen:
        raise CleanupError(f"every action of batch {batch_id} is excluded; nothing to approve")
    n = len(approvals(con, batch_id)) + 1
    approval = Approval(f"{batch_id}-approval-{n}", batch_id, by.strip(), store.now(), exclude, fingerprint(chosen),
                        bool(b["needs_second_look"] and accept_large_batch))
    approval.signature = signed(keys.approval_key(con, create=True), approval)
    con.execute("INSERT INTO cleanup.approvals (approval_id, batch_id, approved_by, approved_at, excluded_action_ids, "
                "fingerprint, second_look_accepted, signature) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [approval.approval_id, approval.batch_id, approval.approved_by, approval.approved_at,
                 approval.excluded_action_ids, approval.fingerprint, approval.second_look_accepted,
                 approval.signature])
    return approval


def pending(con: duckdb.DuckDBPyConnection) -> list[Approval]:
    """Signed approvals that still match their batch and whose batch is not applied: what the sensor launches runs
    for."""
    if not store.has_table(con, "cleanup.approvals"):
        return []
    found = []
    for row in store.rows(con, "SELECT a.* FROM cleanup.approvals a JOIN cleanup.batches b USING (batch_id) "
                               "WHERE b.status NOT IN ('applied', 'superseded') ORDER BY a.approved_at"):
        candidate = Approval(**row)
        if why_not_valid(con, candidate) is None:
            found.append(candidate)
    return found
