"""Approving as a named approver, and choosing to apply: two steps a person takes.

`approve_as` checks the approver's role (roles.py), records the approval (approval.py) and what it was made for in
cleanup.approval_intents: with `apply=True` (approve --apply, the page's "approve and apply") the approval sensor
launches apply_cleanup for it; without, it waits for `msp-recon apply` (after a dry run) or `request_apply`.
"""

from collections.abc import Iterable, Mapping
from pathlib import Path

import duckdb

from pipelines.cleanup import CleanupError, approval, roles, store


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
    con.execute("INSERT INTO cleanup.approval_intents VALUES (?, ?, ?, ?, ?, ?, ?)",
                [found.approval_id, batch_id, found.approved_by, role, str(approvers.path), apply,
                 store.now() if apply else None])
    return found, role


def request_apply(con: duckdb.DuckDBPyConnection, batch_id: str) -> approval.Approval:
    """Mark the batch's standing approval to be applied by the sensor (the page's "apply" on an approved batch)."""
    store.ensure_schema(con)
    found = approval.valid_approval(con, batch_id)
    if found is None:
        raise CleanupError(f"batch {batch_id} has no approval that matches it; approve it first")
    con.execute("UPDATE cleanup.approval_intents SET apply_requested = TRUE, apply_requested_at = ? "
                "WHERE approval_id = ?", [store.now(), found.approval_id])
    if not con.execute("SELECT count(*) FROM cleanup.approval_intents WHERE approval_id = ?",
                       [found.approval_id]).fetchall()[0][0]:
        raise CleanupError(f"approval {found.approval_id} was recorded without an approver's role; approve the batch "
                           "again with msp-recon approve")
    return found


def to_apply(con: duckdb.DuckDBPyConnection, approvals: Iterable[approval.Approval]) -> list[approval.Approval]:
    """Those of `approvals` made to be applied."""
    approvals = list(approvals)
    if not approvals or not store.has_table(con, "cleanup.approval_intents"):
        return []
    wanted = {r[0] for r in con.execute(
        "SELECT approval_id FROM cleanup.approval_intents WHERE apply_requested AND list_contains(?, approval_id)",
        [[a.approval_id for a in approvals]]).fetchall()}
    return [a for a in approvals if a.approval_id in wanted]


def role_of(con: duckdb.DuckDBPyConnection, approval_id: str) -> str | None:
    found = con.execute("SELECT role FROM cleanup.approval_intents WHERE approval_id = ?", [approval_id]).fetchall()
    return found[0][0] if found else None


def load_approvers(env: Mapping[str, str], warehouse: Path) -> roles.Approvers:
    return roles.load(roles.approvers_path(env, warehouse))
