"""Decisions that last: a dismissed action leaves its batch and is not proposed again until its record changes; a
restored record is never proposed again for the undone action; decisions are listed and undoable."""

import asyncio
from datetime import datetime
from pathlib import Path

import pytest
from cleanup_world import action_ids, instance, launch_apply, plan_batch, store, tenant  # noqa: F401

from pipelines.cleanup import CleanupError, approval, keys
from pipelines.cleanup import store as cleanup_store
from pipelines.cleanup.decisions import decision_lines, decisions, dismiss, record_restored, undo
from pipelines.cleanup.itglue_api import client_from
from pipelines.cleanup.restore import restore_action
from pipelines.cleanup.roles import Approvers

APPROVERS = Approvers(Path("approvers.toml"), {"ana": "manager", "bo": "editor"})
LONG_AGO = datetime.fromisoformat("2025-12-01T00:00:00+00:00")


def backdate(con, kind: str) -> None:
    """As if the decisions of `kind` were made before IT Glue's records last changed (re-signed as msp-recon would
    have signed them then: an edit by SQL alone voids a decision)."""
    for d in decisions(con):
        if d.kind == kind:
            d.decided_at = LONG_AGO
            con.execute("UPDATE audit.decisions SET decided_at = ?, signature = ? WHERE decision_id = ?",
                        [LONG_AGO, keys.sign_with_approval_key(con, d.payload()), d.decision_id])


def test_a_dismissed_action_leaves_its_batch_and_stays_out_until_its_record_changes(store, tenant):
    batch_id = plan_batch(store, tenant)
    ids = action_ids(store, batch_id)
    dismissed = ids[("configuration", "102")]
    with store.connect() as con:
        before = len(cleanup_store.actions(con, batch_id))
        d = dismiss(con, dismissed, "ana", "not a duplicate: two domain controllers", approvers=APPROVERS)
        assert (d.kind, d.source_id, d.partner_source_id, d.action) == ("dismissed", "102", "101", "delete")
        remaining = cleanup_store.actions(con, batch_id)
        assert len(remaining) == before - 1 and dismissed not in {a["action_id"] for a in remaining}
        assert cleanup_store.batch(con, batch_id)["action_count"] == before - 1
        # an approval made now seals exactly what remains
        sealed = approval.approve(con, batch_id, "ana")
        assert sealed.fingerprint == approval.fingerprint(remaining) and approval.matches(con, sealed)
        assert [(r[0], r[1], r[2]) for r in con.execute("FROM audit.kept_apart").fetchall()] == [
            ("configuration", "itglue:102", "itglue:101")]
        with pytest.raises(CleanupError, match=f"{dismissed} was already dismissed \\(D0001\\)"):
            dismiss(con, dismissed, "ana", "again", approvers=APPROVERS)
        assert "D0001" in "\n".join(decision_lines(con)) and "kept apart from 101" in "\n".join(decision_lines(con))

    next_week = plan_batch(store, tenant)
    assert ("configuration", "102") not in action_ids(store, next_week)
    assert ("configuration", "104") in action_ids(store, next_week)  # the others are proposed as before

    with store.connect() as con:  # the record changed after the dismissal (IT Glue stamps 2026-01-05)
        backdate(con, "dismissed")
    changed = plan_batch(store, tenant)
    assert ("configuration", "102") in action_ids(store, changed)


def test_a_decision_can_be_undone_and_an_approved_batch_refuses_dismissals(store, tenant):
    batch_id = plan_batch(store, tenant)
    ids = action_ids(store, batch_id)
    with store.connect() as con:
        d = dismiss(con, ids[("contact", "202")], "ana", "keep this one", approvers=APPROVERS)
        with pytest.raises(CleanupError, match="say who dismisses and why"):
            dismiss(con, ids[("contact", "203")], "ana", " ", approvers=APPROVERS)
        undone = undo(con, d.decision_id, "bo")
        assert undone.undone_by == "bo"
        with pytest.raises(CleanupError, match="already undone by bo"):
            undo(con, d.decision_id, "bo")
        assert con.execute("FROM audit.kept_apart").fetchall() == []
    again = plan_batch(store, tenant)
    assert ("contact", "202") in action_ids(store, again)
    with store.connect() as con:
        approval.approve(con, again, "ana")
        with pytest.raises(CleanupError, match=r"is approved .* dismissing it would void that approval"):
            dismiss(con, action_ids(store, again)[("contact", "203")], "ana", "keep",
                    approvers=APPROVERS)


def test_a_restored_record_is_never_proposed_again_for_the_undone_action(store, tenant, instance):
    batch_id = plan_batch(store, tenant)
    ids = action_ids(store, batch_id)
    archived = ids[("configuration", "104")]
    with store.connect() as con:
        approval.approve(con, batch_id, "ana")
    assert launch_apply(store, tenant, instance, batch_id).success

    async def restore(con):
        async with client_from(tenant.env(("itglue",))) as api:
            return await restore_action(con, api, archived)

    with store.connect() as con:
        restored = asyncio.run(restore(con))
        record_restored(con, archived, restored.new_id)
    for _ in range(2):  # this week, and even after the record changes
        following = plan_batch(store, tenant)
        assert ("configuration", "104") not in action_ids(store, following)
        with store.connect() as con:
            backdate(con, "restored")
