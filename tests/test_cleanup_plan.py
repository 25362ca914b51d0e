"""Planning by the article's rules, evidence, guard rails and approvals, against the sandbox's IT Glue over HTTP."""

import dagster as dg
import pytest
from cleanup_world import EXPECTED_ACTIONS, LOOSE, action_ids, instance, plan_batch, store, tenant  # noqa: F401

from pipelines.assets.cleanup import cleanup_batch
from pipelines.cleanup import CleanupError, approval
from pipelines.cleanup import store as cleanup_store
from pipelines.cleanup.guard import GuardRails, count_jumps
from pipelines.resources import SourcesResource, WarehouseResource


def actions_by_record(store, batch_id):
    with store.connect() as con:
        return {(a["entity_type"], a["source_id"]): a for a in cleanup_store.actions(con, batch_id)}


def test_the_batch_follows_the_article_rules_with_evidence(store, tenant):
    batch_id = plan_batch(store, tenant)
    actions = actions_by_record(store, batch_id)
    assert {k: a["action"] for k, a in actions.items()} == EXPECTED_ACTIONS

    dc = actions[("configuration", "102")]  # carries only what the survivor has too: plain delete
    assert dc["survivor_source_id"] == "101" and dc["cause"] == "pre_sync_existing"
    assert dc["match_probability"] == pytest.approx(0.99)
    assert set(dc["fields_agreed"]) >= {"name_norm", "serial_norm"} and dc["fields_disagreed"] == []
    assert dc["survivor_resource_url"].endswith("/configurations/101")
    assert dc["resource_url"].endswith("/configurations/102") and dc["planned_updated_at"]

    ws = actions[("configuration", "104")]  # a password only this copy has: archived, and named
    assert ws["carries"] == ["password: Local admin"] and "Local admin" in ws["reason"]
    nas = actions[("configuration", "108")]
    assert nas["carries"] == ["attachment: nas-config.pdf"]

    for key in (("configuration", "106"), ("configuration", "110"), ("organization", "3")):
        manual = actions[key]  # steps for a person carry a link and what to do
        assert manual["instructions"] and manual["resource_url"] in manual["instructions"] or \
            manual["action"] == "fix_in_psa"
    assert "Disable sync" in actions[("configuration", "106")]["instructions"]
    assert "PSA" in actions[("configuration", "110")]["instructions"]
    assert "merge" in actions[("organization", "3")]["instructions"]


def test_linkage_keeping_the_unsynced_copy_is_overruled_to_keep_the_syncing_one(store, tenant):
    with store.connect() as con:  # linkage picked the manual copy 102 as the one to keep
        con.execute("UPDATE marts.duplicates SET role = CASE source_id WHEN '101' THEN 'duplicate' ELSE 'keep' END "
                    "WHERE cluster_id = 'c1'")
    actions = actions_by_record(store, plan_batch(store, tenant))
    assert ("configuration", "101") not in actions
    assert actions[("configuration", "102")]["survivor_source_id"] == "101"
    assert "kept the syncing copy" in actions[("configuration", "102")]["reason"]


def test_the_asset_proposes_through_dagster_and_supersedes_older_proposals(store, tenant, instance):
    resources = {"warehouse": WarehouseResource(path=str(store.path)),
                 "sources": SourcesResource(env=tenant.env(("itglue",)) | {"RECON_CLEANUP_MAX_SHARE": "1"})}
    for _ in range(2):
        result = dg.materialize([cleanup_batch], resources=resources, instance=instance)
        assert result.success
    with store.connect() as con:
        statuses = dict(con.execute("SELECT batch_id, status FROM cleanup.batches").fetchall())
    assert statuses == {"B0001": "superseded", "B0002": "proposed"}
    with store.connect() as con, pytest.raises(CleanupError, match="superseded"):
        approval.approve(con, "B0001", "ana")


def test_a_large_batch_needs_a_second_look_and_an_explicit_flag(store, tenant):
    batch_id = plan_batch(store, tenant, GuardRails())  # defaults: 10% of an entity's records
    with store.connect() as con:
        b = cleanup_store.batch(con, batch_id)
        assert b["needs_second_look"] and any("configuration" in r for r in b["guard_reasons"])
        with pytest.raises(CleanupError, match="second look"):
            approval.approve(con, batch_id, "ana")
        assert approval.approvals(con, batch_id) == []
        approved = approval.approve(con, batch_id, "ana", accept_large_batch=True)
        assert approved.second_look_accepted


def test_guard_rails_by_share_and_count():
    guard = GuardRails(max_share=0.10, max_actions=3)
    assert guard.check(["configuration"] * 2, {"configuration": 100}) == []
    reasons = guard.check(["configuration"] * 11 + ["contact"], {"configuration": 100, "contact": 50})
    assert len(reasons) == 2 and "12 actions" in reasons[0] and "11 of 100 configuration" in reasons[1]
    assert count_jumps({"configuration duplicates": 20}, {"configuration duplicates": 25}) == []
    assert count_jumps({"configuration duplicates": 20}, {"configuration duplicates": 400}) == \
        ["configuration duplicates: 20 -> 400"]
    assert count_jumps({"contact orphans": 1}, {"contact orphans": 5}) == []  # small numbers are not a jump


def test_approval_records_who_when_and_a_fingerprint_and_refuses_bad_input(store, tenant):
    batch_id = plan_batch(store, tenant)
    ids = action_ids(store, batch_id)
    excluded = ids[("configuration", "107")]
    with store.connect() as con:
        with pytest.raises(CleanupError, match="there is no batch B9999"):
            approval.approve(con, "B9999", "ana")
        with pytest.raises(CleanupError, match="no action"):
            approval.approve(con, batch_id, "ana", exclude=["B0001-9999"])
        first = approval.approve(con, batch_id, "ana", exclude=[excluded])
        assert first.approved_by == "ana" and first.excluded_action_ids == [excluded]
        assert len(first.fingerprint) == 64 and approval.valid_approval(con, batch_id) == first
        with pytest.raises(CleanupError, match="already approved by ana"):
            approval.approve(con, batch_id, "bo")
        cleanup_store.set_status(con, batch_id, "applied")
        with pytest.raises(CleanupError, match="already applied"):
            approval.approve(con, batch_id, "bo")
        assert [a.approval_id for a in approval.approvals(con, batch_id)] == [first.approval_id]


def test_an_edit_after_approval_voids_the_approval(store, tenant):
    batch_id = plan_batch(store, tenant)
    with store.connect() as con:
        approved = approval.approve(con, batch_id, "ana")
        assert approval.matches(con, approved)
        con.execute("UPDATE cleanup.actions SET source_id = '101' WHERE action_id = ?",
                    [action_ids(store, batch_id)[("configuration", "102")]])
        assert not approval.matches(con, approved) and approval.valid_approval(con, batch_id) is None
        assert approval.pending(con) == []
