"""One pass through the real pipeline: the generated tenant, the weekly job (extract, stage), the Splink linkage and
its marts, then the cleanup_batch asset, an approval and the apply_cleanup run, compared with the sandbox's write log."""

import dagster as dg
import pytest
from cleanup_world import instance, launch_apply, writes  # noqa: F401

from pipelines.assets.cleanup import cleanup_batch
from pipelines.cleanup import approval
from pipelines.cleanup import store as cleanup_store
from pipelines.linkage.pipeline import LinkageOptions, run_linkage
from pipelines.resources import SourcesResource, WarehouseResource
from pipelines.runner import run_job
from pipelines.sources.base import ENTITY_TABLES
from pipelines.warehouse import Warehouse

pytestmark = pytest.mark.slow


def test_the_weekly_run_proposes_and_an_approved_batch_applies_exactly(sandbox, tmp_path, instance):
    env = sandbox.env(("itglue", sandbox.sandbox.world.psa, "datto_rmm"))
    store = Warehouse(tmp_path / "warehouse.duckdb")
    outcome = run_job("weekly_reconciliation", env=env, warehouse=str(store.path), instance=instance)
    assert outcome.success, outcome.failures
    run_linkage(store, options=LinkageOptions(charts=False))

    resources = {"warehouse": WarehouseResource(path=str(store.path)),
                 "sources": SourcesResource(env=env | {"RECON_CLEANUP_MAX_SHARE": "1", "RECON_CLEANUP_MAX_ACTIONS": "10000"})}
    assert dg.materialize([cleanup_batch], resources=resources, instance=instance).success
    with store.connect() as con:
        batch_id = con.execute("SELECT max(batch_id) FROM cleanup.batches").fetchall()[0][0]
        actions = cleanup_store.actions(con, batch_id)
        assert actions, "the generated tenant has planted duplicates and orphans"
        assert all(a["reason"] and a["planned_updated_at"] for a in actions if a["source"] == "itglue")
        executable = [a for a in actions if a["action"] in ("delete", "archive")]
        excluded = executable[:1]
        approval.approve(con, batch_id, "ana", [a["action_id"] for a in excluded])

    outcome = launch_apply(store, sandbox, instance, batch_id)
    assert outcome.success, outcome.failures
    touched = {(path.split("/")[2], i) for method, path, ids in writes(sandbox) if method == "DELETE" for i in ids}
    touched |= {(path.split("/")[2], path.split("/")[3]) for method, path, _ in writes(sandbox) if method == "PATCH"}
    resource = ENTITY_TABLES
    approved = {(resource[a["entity_type"]], a["source_id"]) for a in executable if a not in excluded}
    assert touched == approved
    with store.connect() as con:
        snapshotted = {(resource[e], s) for e, s in con.execute(
            "SELECT entity_type, source_id FROM audit.snapshots").fetchall()}
    assert touched <= snapshotted
