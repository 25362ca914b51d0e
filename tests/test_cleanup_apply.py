"""Applying approved batches through Dagster runs against the sandbox over HTTP: exactly what was approved changes
(the sandbox's write log), nothing changes without a matching approval, interrupted runs resume without repeats,
moved records are skipped, every change is snapshotted and can be undone."""

import asyncio
import json

import dagster as dg
import httpx
import pytest
from cleanup_world import (  # noqa: F401
    action_ids,
    instance,
    itglue_config,
    launch_apply,
    outcomes,
    plan_batch,
    store,
    tenant,
    writes,
)

from pipelines.assets.cleanup import cleanup_approval_sensor
from pipelines.cleanup import CleanupError, approval
from pipelines.cleanup import store as cleanup_store
from pipelines.cleanup.apply import planned_calls
from pipelines.cleanup.itglue_api import client_from
from pipelines.cleanup.restore import restore_action
from pipelines.resources import WarehouseResource
from pipelines.sandbox.server import CREDENTIALS

ALL_EXECUTABLE = {  # what the hand-made batch changes through the API when everything is approved
    ("PATCH", "/itglue/configurations/104", ()), ("PATCH", "/itglue/configurations/108", ()),
    ("DELETE", "/itglue/contacts", ("202", "203")), ("DELETE", "/itglue/configurations", ("102", "107", "111")),
    ("DELETE", "/itglue/organizations", ("4",)),
}


def approve(store, batch_id, exclude=()):
    with store.connect() as con:
        return approval.approve(con, batch_id, "ana", exclude)


def itglue(tenant) -> httpx.Client:
    return httpx.Client(base_url=tenant.url + "/itglue", timeout=10,
                        headers={"x-api-key": CREDENTIALS["ITGLUE_API_KEY"],
                                 "Content-Type": "application/vnd.api+json"})


def world_ids(tenant, resource):
    return {r["id"] for r in tenant.sandbox.world.itglue[resource]}


def test_an_approved_batch_changes_exactly_its_approved_actions(store, tenant, instance):
    batch_id = plan_batch(store, tenant)
    ids = action_ids(store, batch_id)
    excluded = [ids[("configuration", "107")], ids[("configuration", "104")]]
    approve(store, batch_id, excluded)

    outcome = launch_apply(store, tenant, instance, batch_id)
    assert outcome.success, outcome.failures
    assert set(writes(tenant)) == {("PATCH", "/itglue/configurations/108", ()),
                                   ("DELETE", "/itglue/contacts", ("202", "203")),
                                   ("DELETE", "/itglue/configurations", ("102", "111")),
                                   ("DELETE", "/itglue/organizations", ("4",))}
    assert len(writes(tenant)) == 4 and all(w.status == 200 for w in tenant.sandbox.writes)
    assert {"107", "104", "106", "110", "101"} <= world_ids(tenant, "configurations")
    done = outcomes(store, batch_id)
    assert excluded[0] not in done and excluded[1] not in done
    manual = {k: v for k, v in ids.items() if v in done and done[v] == "manual_step"}
    assert set(manual) == {("configuration", "106"), ("configuration", "110"), ("organization", "3")}
    with store.connect() as con:
        assert cleanup_store.batch(con, batch_id)["status"] == "applied"
        with pytest.raises(CleanupError, match="already applied"):
            approval.approve(con, batch_id, "bo")


def test_an_unapproved_batch_changes_nothing_however_it_is_launched(store, tenant, instance):
    batch_id = plan_batch(store, tenant)
    # By hand, as from the UI's launchpad with the batch id filled in:
    outcome = launch_apply(store, tenant, instance, batch_id)
    assert not outcome.success
    assert "not approved" in outcome.failures[0][1]
    # The sensor launches nothing for it:
    with dg.build_sensor_context(instance=instance, resources={
            "warehouse": WarehouseResource(path=str(store.path))}) as context:
        result = cleanup_approval_sensor(context)
    assert isinstance(result, dg.SkipReason)
    # A dry run shows calls and makes none:
    with store.connect() as con:
        lines, note = planned_calls(con, batch_id)
    assert "NOT approved" in note and any(line.startswith("DELETE /configurations") for line in lines)
    assert writes(tenant) == []


def test_the_sensor_launches_one_run_per_approval_made_to_be_applied(store, tenant, instance):
    from pipelines.cleanup.intents import approve_as
    from pipelines.cleanup.roles import Approvers

    batch_id = plan_batch(store, tenant)
    approved = approve(store, batch_id)  # approved only: it waits for `msp-recon apply`
    with dg.build_sensor_context(instance=instance, resources={
            "warehouse": WarehouseResource(path=str(store.path))}) as context:
        assert isinstance(cleanup_approval_sensor(context), dg.SkipReason)
    batch_id = plan_batch(store, tenant)  # a newer batch, approved to be applied
    with store.connect() as con:
        approved, _ = approve_as(con, batch_id, "ana", approvers=Approvers(store.path, {"ana": "manager"}), apply=True)
    with dg.build_sensor_context(instance=instance, resources={
            "warehouse": WarehouseResource(path=str(store.path))}) as context:
        requests = cleanup_approval_sensor(context)
    assert [r.run_key for r in requests] == [approved.approval_id]
    config = requests[0].run_config["ops"]["apply_approved_batch"]["config"]
    assert config == {"batch_id": batch_id, "approval_id": approved.approval_id}


def test_a_batch_edited_after_approval_is_refused(store, tenant, instance):
    batch_id = plan_batch(store, tenant)
    ids = action_ids(store, batch_id)
    approve(store, batch_id, [ids[("configuration", "107")]])
    with store.connect() as con:  # someone points an approved delete at the survivor
        con.execute("UPDATE cleanup.actions SET source_id = '101' WHERE action_id = ?", [ids[("configuration", "102")]])
    outcome = launch_apply(store, tenant, instance, batch_id)
    assert not outcome.success and "changed after it was approved" in outcome.failures[0][1]
    with store.connect() as con:  # ... or adds an action nobody approved
        con.execute("UPDATE cleanup.actions SET source_id = '102' WHERE source_id = '101'")
        con.execute("INSERT INTO cleanup.actions (action_id, batch_id, entity_type, source, source_id, action, reason) "
                    "VALUES (?, ?, 'configuration', 'itglue', '101', 'delete', 'slipped in')", [f"{batch_id}-0999", batch_id])
    outcome = launch_apply(store, tenant, instance, batch_id)
    assert not outcome.success and "changed after it was approved" in outcome.failures[0][1]
    assert writes(tenant) == []


def test_an_interrupted_apply_resumes_without_repeating_anything(store, tenant, instance):
    batch_id = plan_batch(store, tenant)
    approve(store, batch_id)
    # IT Glue fails every organization request: the run stops at the last step, after the rest is done.
    tenant.sandbox.faults.only, tenant.sandbox.faults.fail_first = "/itglue/organizations", 10**6
    outcome = launch_apply(store, tenant, instance, batch_id, max_attempts=1)
    assert not outcome.success and "503" in outcome.failures[0][1]
    assert set(writes(tenant)) == ALL_EXECUTABLE - {("DELETE", "/itglue/organizations", ("4",))}
    with store.connect() as con:
        assert cleanup_store.batch(con, batch_id)["status"] == "applying"

    tenant.sandbox.faults.reset()
    outcome = launch_apply(store, tenant, instance, batch_id)
    assert outcome.success, outcome.failures
    assert sorted(writes(tenant)) == sorted(ALL_EXECUTABLE)  # each write once, across both runs


def test_a_delete_sent_but_not_recorded_is_not_sent_again(store, tenant, instance):
    batch_id = plan_batch(store, tenant)
    approve(store, batch_id)
    assert launch_apply(store, tenant, instance, batch_id).success
    contact = action_ids(store, batch_id)[("contact", "202")]
    with store.connect() as con:  # as if the process died between IT Glue's answer and the log write
        con.execute("DELETE FROM audit.action_log WHERE action_id = ? AND step = 'outcome'", [contact])
        cleanup_store.set_status(con, batch_id, "applying")
    before = len(writes(tenant))
    assert launch_apply(store, tenant, instance, batch_id).success
    assert len(writes(tenant)) == before
    assert outcomes(store, batch_id)[contact] == "done"  # its intent was logged: msp-recon deleted it


def test_a_record_changed_since_planning_is_skipped_and_a_deleted_one_is_already_gone(store, tenant, instance):
    batch_id = plan_batch(store, tenant)
    approve(store, batch_id)
    with itglue(tenant) as api:  # after planning, someone edits 102 and deletes contact 203 in IT Glue
        assert api.patch("/configurations/102", json={"data": {"type": "configurations",
                                                               "attributes": {"name": "DC01-old"}}}).status_code == 200
        assert api.request("DELETE", "/contacts", json={"data": [{"type": "contacts", "attributes": {"id": 203}}]}
                           ).status_code == 200
    tenant.sandbox.writes.clear()
    outcome = launch_apply(store, tenant, instance, batch_id)
    assert outcome.success, outcome.failures
    ids, done = action_ids(store, batch_id), outcomes(store, batch_id)
    assert done[ids[("configuration", "102")]] == "skipped_changed"
    assert done[ids[("contact", "203")]] == "already_gone"
    assert "102" in world_ids(tenant, "configurations")
    assert ("DELETE", "/itglue/configurations", ("107", "111")) in writes(tenant)
    assert ("DELETE", "/itglue/contacts", ("202",)) in writes(tenant)


def test_every_changed_record_is_snapshotted_and_can_be_restored(store, tenant, instance):
    batch_id = plan_batch(store, tenant)
    approve(store, batch_id)
    assert launch_apply(store, tenant, instance, batch_id).success
    ids, done = action_ids(store, batch_id), outcomes(store, batch_id)
    changed = {k: v for k, v in ids.items() if done.get(v) == "done"}
    assert set(changed) == {("configuration", s) for s in ("102", "104", "107", "108", "111")} | \
        {("contact", "202"), ("contact", "203"), ("organization", "4")}
    with store.connect() as con:
        for (_, sid), action_id in changed.items():
            saved = json.loads(cleanup_store.snapshot(con, action_id))
            assert saved["data"]["id"] == sid and saved["data"]["attributes"]["updated-at"]
    with store.connect() as con:  # the snapshot keeps what hung on the record (`included`)
        assert "Local admin" in cleanup_store.snapshot(con, changed[("configuration", "104")])

    async def restore(action_id):
        with store.connect() as con:
            async with client_from(itglue_config(tenant)) as api:
                return await restore_action(con, api, action_id)

    tenant.sandbox.writes.clear()
    unarchived = asyncio.run(restore(changed[("configuration", "104")]))
    assert unarchived.new_id == "104"
    record = next(r for r in tenant.sandbox.world.itglue["configurations"] if r["id"] == "104")
    assert record["attributes"]["archived"] is False
    recreated = asyncio.run(restore(changed[("configuration", "102")]))
    assert recreated.new_id not in {"102", None} and "new record with id" in recreated.message
    copy = next(r for r in tenant.sandbox.world.itglue["configurations"] if r["id"] == recreated.new_id)
    assert copy["attributes"]["name"] == "DC01" and copy["attributes"]["serial-number"] == "SN-DC01"
    contact = asyncio.run(restore(changed[("contact", "203")]))
    assert next(r for r in tenant.sandbox.world.itglue["contacts"] if r["id"] == contact.new_id
                )["attributes"]["last-name"] == "Smith"
    assert [w.method for w in tenant.sandbox.writes] == ["PATCH", "POST", "POST"]
    with pytest.raises(CleanupError, match="already undone"):
        asyncio.run(restore(changed[("configuration", "102")]))
    with pytest.raises(CleanupError, match="cannot create organizations"):
        asyncio.run(restore(changed[("organization", "4")]))
    with pytest.raises(CleanupError, match="nothing to restore"):
        asyncio.run(restore(ids[("configuration", "106")]))


def test_a_422_from_itglue_is_reported_with_its_message(store, tenant, instance):
    batch_id = plan_batch(store, tenant)
    approve(store, batch_id)
    assert launch_apply(store, tenant, instance, batch_id).success
    action_id = action_ids(store, batch_id)[("configuration", "111")]
    with itglue(tenant) as api:  # the organization the deleted item was filed under is gone too now
        assert api.request("DELETE", "/organizations", json={"data": [{"type": "organizations",
                                                                      "attributes": {"id": 2}}]}).status_code == 200

    async def restore():
        with store.connect() as con:
            async with client_from(itglue_config(tenant)) as api:
                return await restore_action(con, api, action_id)

    with pytest.raises(CleanupError, match="422: Valid organization_id is required"):
        asyncio.run(restore())
