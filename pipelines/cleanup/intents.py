"""Approving as a named approver, and choosing to apply: two steps a person takes.

`approve_as` checks the approver's role (roles.py), records the approval (approval.py) and what it was made for in
cleanup.approval_intents: with `apply=True` (approve --apply, the page's "approve and apply") the approval sensor
launches apply_cleanup for it; without, it waits for `msp-recon apply` (after a dry run) or `request_apply`.

The intent row is signed like the approval (keys.sign, the approval key): what it says (approver, role, apply or not)
and the approval's own signature. An intent inserted or edited by SQL does not verify, and the sensor ignores it: an
approval meant to wait for a person's `msp-recon apply` cannot be made to apply itself from the warehouse.
"""

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pipelines.cleanup import CleanupError, approval, keys, roles, store

COLUMNS = ("approval_id", "batch_id", "approved_by", "role", "approvers_file", "apply_requested",
           "apply_requested_at")


def payload(row: Mapping, approval_signature: str | None) -> dict:
    """What an intent's signature covers: its row (times in UTC, to the microsecond) and the approval's signature."""
    at = row["apply_requested_at"]
    if isinstance(at, datetime):
        at = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC).isoformat(timespec="microseconds")
    return {**{c: row[c] for c in COLUMNS}, "apply_requested": bool(row["apply_requested"]),
            "apply_requested_at": at, "approval_signature": approval_signature}


def _write(con: duckdb.DuckDBPyConnection, row: dict, found: approval.Approval) -> None:
    signature = keys.sign_with_approval_key(con, payload(row, found.signature))
    con.execute("INSERT OR REPLACE INTO cleanup.approval_intents (approval_id, batch_id, approved_by, role, "
                "approvers_file, apply_requested, apply_requested_at, signature) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [*(row[c] for c in COLUMNS), signature])


def approve_as(con: duckdb.DuckDBPyConnection, batch_id: str, by: str, exclude: Iterable[str] = (), *,
               approvers: roles.Approvers, apply: bool = False,
               accept_large_batch: bool = False) -> tuple[approval.Approval, str]:
    """Approve the batch less `exclude` as `by`, if its role allows every approved action; (approval, role)."""
    store.ensure_schema(con)
    store.batch(con, batch_id)
    exclude = list(dict.fromkeys(exclude))
    chosen = approval.approved_actions(store.actions(con, batch_id), exclude)
    role = roles.check(approvers, by, chosen)
    found = approval.approve(con, batch_id, by, exclude, accept_large_batch)
    _write(con, dict(zip(COLUMNS, [found.approval_id, batch_id, found.approved_by, role, str(approvers.path), apply,
                                   store.now() if apply else None], strict=True)), found)
    return found, role


def request_apply(con: duckdb.DuckDBPyConnection, batch_id: str) -> approval.Approval:
    """Mark the batch's standing approval to be applied by the sensor (the page's "apply" on an approved batch)."""
    store.ensure_schema(con)
    found = approval.valid_approval(con, batch_id)
    if found is None:
        raise CleanupError(f"batch {batch_id} has no approval that matches it; approve it first")
    intent = _signed_intent(con, found)
    if intent is None:
        raise CleanupError(f"approval {found.approval_id} has no signed record of its approver's role (none, or one "
                           f"inserted or edited outside msp-recon); apply it with `msp-recon apply {batch_id}`")
    _write(con, {**intent, "apply_requested": True, "apply_requested_at": store.now()}, found)
    return found


def _signed_intent(con: duckdb.DuckDBPyConnection, a: approval.Approval) -> dict | None:
    """The approval's intent row if its signature verifies, else None."""
    if not store.has_table(con, "cleanup.approval_intents"):
        return None
    rows = store.rows(con, "SELECT * FROM cleanup.approval_intents WHERE approval_id = ?", [a.approval_id])
    if rows and keys.verifies(con, payload(rows[0], a.signature), rows[0].get("signature")):
        return rows[0]
    return None


def apply_intents(con: duckdb.DuckDBPyConnection, approvals: Iterable[approval.Approval]
                  ) -> tuple[list[approval.Approval], list[str]]:
    """(those of `approvals` made to be applied, by a signed intent; one line per intent to apply that does not
    verify, and is ignored)."""
    approvals = list(approvals)
    if not approvals or not store.has_table(con, "cleanup.approval_intents"):
        return [], []
    asked = {r[0] for r in con.execute(
        "SELECT approval_id FROM cleanup.approval_intents WHERE apply_requested AND list_contains(?, approval_id)",
        [[a.approval_id for a in approvals]]).fetchall()}
    wanted, ignored = [], []
    for a in approvals:
        if a.approval_id not in asked:
            continue
        intent = _signed_intent(con, a)
        if intent is not None and intent["apply_requested"]:
            wanted.append(a)
        else:
            ignored.append(a.approval_id)
    notes = [f"ignored the request to apply {', '.join(ignored)}: not signed by `msp-recon approve --apply` with the "
             f"approval key {keys.key_dir_of(con) / keys.APPROVAL_KEY} (inserted or edited outside it); "
             "apply it with `msp-recon apply`"] if ignored else []
    return wanted, notes


def to_apply(con: duckdb.DuckDBPyConnection, approvals: Iterable[approval.Approval]) -> list[approval.Approval]:
    """Those of `approvals` made to be applied (signed intents only)."""
    return apply_intents(con, approvals)[0]


def role_of(con: duckdb.DuckDBPyConnection, approval_id: str) -> str | None:
    found = con.execute("SELECT role FROM cleanup.approval_intents WHERE approval_id = ?", [approval_id]).fetchall()
    return found[0][0] if found else None


def load_approvers(env: Mapping[str, str], warehouse: Path) -> roles.Approvers:
    return roles.load(roles.approvers_path(env, warehouse))
