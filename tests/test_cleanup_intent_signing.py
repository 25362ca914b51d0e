"""What a person chose cannot be forged from the warehouse: an apply intent written or edited by SQL does not make the
sensor apply an approval meant to wait for `msp-recon apply`; only a named editor (or above) may dismiss, and a
dismissal inserted by SQL does not keep a record out of the next batch."""

import asyncio
import json
from pathlib import Path

import dagster as dg
import pytest
from cleanup_world import LOOSE, action_ids, instance, itglue_config, plan_batch, store, tenant  # noqa: F401

from pipelines.assets.cleanup import cleanup_approval_sensor
from pipelines.cleanup import CleanupError, approval, intents
from pipelines.cleanup import store as cleanup_store
from pipelines.cleanup.decisions import decision_lines, dismiss
from pipelines.cleanup.itglue_api import client_from
from pipelines.cleanup.plan import propose
from pipelines.cleanup.roles import Approvers
from pipelines.linkage import kept_apart
from pipelines.resources import WarehouseResource

APPROVERS = Approvers(Path("approvers.toml"), {"ana": "manager", "bo": "editor"})


def sensor(store, instance):
    with dg.build_sensor_context(instance=instance, resources={
            "warehouse": WarehouseResource(path=str(store.path))}) as context:
        return cleanup_approval_sensor(context)


@pytest.mark.parametrize("forgery", ["edited", "inserted"])
def test_an_apply_intent_written_by_sql_is_ignored_by_the_sensor(store, tenant, instance, forgery):
    batch_id = plan_batch(store, tenant)
    with store.connect() as con:
        if forgery == "edited":  # a real approval, made to wait for `msp-recon apply`; its intent flipped by SQL
            found, _ = intents.approve_as(con, batch_id, "ana", approvers=APPROVERS, apply=False)
            con.execute("UPDATE cleanup.approval_intents SET apply_requested = TRUE, apply_requested_at = now()")
        else:  # a real approval with no intent; one inserted by SQL
            found = approval.approve(con, batch_id, "ana")
            con.execute("INSERT INTO cleanup.approval_intents VALUES (?, ?, 'ana', 'manager', NULL, TRUE, now(), "
                        "'0000')", [found.approval_id, batch_id])
    skipped = sensor(store, instance)
    assert isinstance(skipped, dg.SkipReason)
    assert f"ignored the request to apply {found.approval_id}: not signed" in skipped.skip_message
    assert "\n" not in skipped.skip_message
    with store.connect() as con:
        assert intents.to_apply(con, approval.pending(con)) == []
        with pytest.raises(CleanupError, match="msp-recon apply"):
            intents.request_apply(con, batch_id)  # a tampered intent is not a person's request either


def test_a_signed_intent_applies_and_request_apply_signs_it(store, tenant, instance):
    batch_id = plan_batch(store, tenant)
    with store.connect() as con:
        found, role = intents.approve_as(con, batch_id, "ana", approvers=APPROVERS, apply=False)
    assert role == "manager" and isinstance(sensor(store, instance), dg.SkipReason)
    with store.connect() as con:
        intents.request_apply(con, batch_id)  # the page's "apply" on an approved batch
        row = con.execute("SELECT apply_requested, signature FROM cleanup.approval_intents").fetchall()
    assert row[0][0] is True and len(row[0][1]) == 64
    assert [r.run_key for r in sensor(store, instance)] == [found.approval_id]
    with store.connect() as con:  # the role edited afterwards: the intent no longer verifies
        con.execute("UPDATE cleanup.approval_intents SET role = 'administrator'")
    assert "ignored the request to apply" in sensor(store, instance).skip_message


def test_only_a_named_editor_or_above_may_dismiss(store, tenant):
    batch_id = plan_batch(store, tenant)
    target = action_ids(store, batch_id)[("configuration", "102")]
    with store.connect() as con:
        with pytest.raises(CleanupError, match=r"^mallory is not in the approvers file approvers.toml; dismissing an "
                                               r"action needs an editor, manager or administrator: ana, bo may "
                                               r"dismiss it$"):
            dismiss(con, target, "mallory", "not a duplicate", approvers=APPROVERS)
        assert target in {a["action_id"] for a in cleanup_store.actions(con, batch_id)}  # nothing changed
        d = dismiss(con, target, "bo", "not a duplicate", approvers=APPROVERS)
        assert d.is_signed(con)


def propose_notes(store, tenant):
    async def run(con):
        async with client_from(itglue_config(tenant)) as api:
            return await propose(con, api, LOOSE)

    with store.connect() as con:
        batch_id, _, notes = asyncio.run(run(con))
    return batch_id, notes


def test_a_dismissal_inserted_by_sql_does_not_keep_a_record_out(store, tenant):
    batch_id = plan_batch(store, tenant)
    target = action_ids(store, batch_id)[("configuration", "102")]
    with store.connect() as con:  # what a forger copies from a real dismissal: every column, a made-up signature
        act = cleanup_store.action(con, target)
        con.execute("INSERT INTO audit.decisions (decision_id, kind, action_id, batch_id, entity_type, source, "
                    "source_id, action, partner_source_id, decided_by, reason, decided_at, signature) VALUES "
                    "('D0001', 'dismissed', ?, ?, ?, ?, ?, ?, ?, 'ana', 'not a duplicate', now(), 'f00')",
                    [target, batch_id, act["entity_type"], act["source"], act["source_id"], act["action"],
                     act["survivor_source_id"]])
        con.execute("INSERT INTO audit.dismissed_actions VALUES ('D0001', ?, ?)", [target, json.dumps(act, default=str)])
        assert "[not signed: ignored by planning]" in "\n".join(decision_lines(con))
        assert con.execute("SELECT count(*) FROM audit.kept_apart").fetchall() == [(1,)]
        assert kept_apart.read(con).num_rows == 0  # nor kept apart when linking
    next_week, notes = propose_notes(store, tenant)
    assert ("configuration", "102") in action_ids(store, next_week)
    assert any(n.startswith("ignored decision D0001 (dismissed itglue:102 by ana): not signed") for n in notes)
    # a real one still holds, and planning says nothing about it being ignored
    with store.connect() as con:
        dismiss(con, action_ids(store, next_week)[("configuration", "102")], "ana", "not a duplicate",
                approvers=APPROVERS)
    after, notes = propose_notes(store, tenant)
    assert ("configuration", "102") not in action_ids(store, after)
    ignored = [n for n in notes if n.startswith("ignored decision")]
    assert len(ignored) == 1 and ignored[0].startswith("ignored decision D0001 ")  # the forged one only
