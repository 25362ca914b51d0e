"""Approvals cannot be forged from the warehouse: an approval row written by SQL, even with the right sha256
fingerprint, or a real one edited afterwards, is refused by apply and by the sensor, and IT Glue gets no write; a real
approval applies. Its key lives outside the warehouse, 0600 in a 0700 folder, created on first use."""

import hashlib
import json
import stat

import dagster as dg
import pytest
from cleanup_world import (  # noqa: F401
    instance,
    launch_apply,
    outcomes,
    plan_batch,
    store,
    tenant,
    writes,
)

from pipelines.assets.cleanup import cleanup_approval_sensor
from pipelines.cleanup import CleanupError, approval, keys
from pipelines.cleanup import store as cleanup_store
from pipelines.resources import WarehouseResource


def forge(store, batch_id):
    """What someone with write access to the warehouse can do: an approval row with a correct plain fingerprint."""
    with store.connect() as con:
        cleanup_store.ensure_schema(con)
        fingerprint = approval.fingerprint(cleanup_store.actions(con, batch_id))
        con.execute("INSERT INTO cleanup.approvals (approval_id, batch_id, approved_by, approved_at, "
                    "excluded_action_ids, fingerprint, second_look_accepted) VALUES (?, ?, 'ana', now(), [], ?, false)",
                    [f"{batch_id}-approval-1", batch_id, fingerprint])
        return fingerprint


def sensor_requests(store, instance):
    with dg.build_sensor_context(instance=instance, resources={
            "warehouse": WarehouseResource(path=str(store.path))}) as context:
        return cleanup_approval_sensor(context)


@pytest.mark.parametrize("signature", [None, "plain-sha256"], ids=["unsigned", "signed without the key"])
def test_an_approval_inserted_by_sql_is_refused_and_itglue_gets_no_write(store, tenant, instance, signature):
    batch_id = plan_batch(store, tenant)
    fingerprint = forge(store, batch_id)
    if signature:  # a forger's best guess at a signature: a sha256 over the row, which SQL can compute
        with store.connect() as con:
            con.execute("UPDATE cleanup.approvals SET signature = sha256(approval_id || batch_id || approved_by || "
                        "fingerprint)")
    outcome = launch_apply(store, tenant, instance, batch_id)
    assert not outcome.success
    reason = outcome.failures[0][1]
    assert "not signed by `msp-recon approve`" in reason and "nothing was changed" in reason
    assert reason.count("\n") == 0
    assert writes(tenant) == [] and tenant.sandbox.writes == []
    assert isinstance(sensor_requests(store, instance), dg.SkipReason)
    with store.connect() as con:
        assert approval.valid_approval(con, batch_id) is None
        assert cleanup_store.batch(con, batch_id)["status"] == "proposed"
        # and a real approval is not blocked by the forged row, nor taken for "already approved"
        real = approval.approve(con, batch_id, "bo")
    assert real.fingerprint == fingerprint and real.approval_id == f"{batch_id}-approval-2"
    assert launch_apply(store, tenant, instance, batch_id).success
    assert writes(tenant)


@pytest.mark.parametrize("edit", [
    "approved_by = 'mallory'",
    "approved_at = approved_at - INTERVAL 1 DAY",
    "excluded_action_ids = []",
    "batch_id = batch_id",  # no change at all: the control, must still apply
], ids=["approver", "time", "exclusions", "untouched"])
def test_an_approval_edited_after_it_was_made_is_refused(store, tenant, instance, edit):
    batch_id = plan_batch(store, tenant)
    with store.connect() as con:
        first = cleanup_store.actions(con, batch_id)[0]["action_id"]
        approval.approve(con, batch_id, "ana", [first])
        # the forger also fixes the fingerprint up, so that only the signature can tell
        con.execute(f"UPDATE cleanup.approvals SET {edit}")
        row = approval.approvals(con, batch_id)[0]
        con.execute("UPDATE cleanup.approvals SET fingerprint = ?", [approval.fingerprint(
            approval.approved_actions(cleanup_store.actions(con, batch_id), row.excluded_action_ids))])
    outcome = launch_apply(store, tenant, instance, batch_id)
    if edit == "batch_id = batch_id":
        assert outcome.success, outcome.failures
        assert first not in outcomes(store, batch_id)
        return
    assert not outcome.success and "not signed by `msp-recon approve`" in outcome.failures[0][1]
    assert writes(tenant) == []
    assert isinstance(sensor_requests(store, instance), dg.SkipReason)


def test_the_approval_key_is_outside_the_warehouse_private_and_made_on_first_use(store, tenant, instance):
    folder = store.path.parent / "keys"
    assert not folder.exists()
    batch_id = plan_batch(store, tenant)
    with store.connect() as con:
        made = approval.approve(con, batch_id, "ana")
    key = folder / keys.APPROVAL_KEY
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700 and stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.read_bytes().strip() not in store.path.read_bytes()
    assert made.signature and made.signature != hashlib.sha256(json.dumps(made.fingerprint).encode()).hexdigest()
    with store.connect() as con:  # the key is read again, not replaced: the approval still verifies
        assert approval.valid_approval(con, batch_id).approval_id == made.approval_id
    key.chmod(0o644)
    with store.connect() as con, pytest.raises(CleanupError, match="readable by other users .* chmod 600"):
        approval.valid_approval(con, batch_id)
    skipped = sensor_requests(store, instance)  # the sensor launches nothing and says why
    assert isinstance(skipped, dg.SkipReason) and "chmod 600" in skipped.skip_message
    key.chmod(0o600)
    key.write_bytes(b"")
    with store.connect() as con, pytest.raises(CleanupError, match="is empty: restore it from a backup"):
        approval.valid_approval(con, batch_id)


def test_recon_key_dir_moves_the_keys(store, tenant, tmp_path, monkeypatch):
    elsewhere = tmp_path / "vault" / "msp-recon"
    monkeypatch.setenv(keys.KEY_DIR_VARIABLE, str(elsewhere))
    batch_id = plan_batch(store, tenant)
    with store.connect() as con:
        approval.approve(con, batch_id, "ana")
    assert (elsewhere / keys.APPROVAL_KEY).exists() and not (store.path.parent / "keys").exists()
    monkeypatch.setenv(keys.KEY_DIR_VARIABLE, str(tmp_path / "another"))  # another key: the approval is not its
    with store.connect() as con:
        assert approval.valid_approval(con, batch_id) is None


def test_a_published_copy_elsewhere_reads_its_approvals_with_the_warehouse_key(store, tenant, tmp_path):
    from pipelines.publish import publish
    from pipelines.read_only import readonly_connect

    batch_id = plan_batch(store, tenant)
    with store.connect() as con:
        made = approval.approve(con, batch_id, "ana")
    copy = publish(store, tmp_path / "elsewhere" / "published.duckdb").path
    with readonly_connect(copy) as con:
        assert keys.key_dir_of(con) == store.path.parent / "keys"
        assert approval.valid_approval(con, batch_id).approval_id == made.approval_id
