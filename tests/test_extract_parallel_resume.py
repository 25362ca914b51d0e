"""Sources extracted at the same time, each failing alone; Datto audits fetched before a failure kept outside the atomic
swap and not fetched again (counted by the sandbox, over HTTP)."""

import asyncio
import threading
import time

import dagster as dg
import pytest

from pipelines.assets.extract import EXTRACT_ASSETS
from pipelines.extraction import Prefetch, WarehouseTables, swap
from pipelines.resources import SourcesResource, WarehouseResource
from pipelines.sources.datto_rmm import DEFAULT_BUDGET, extract_datto_rmm
from pipelines.sources.http import RetryPolicy, SourceError
from pipelines.warehouse import Warehouse

AUDITS = "datto GET /api/v2/audit/device/{deviceUid}"
GIVE_UP_FAST = RetryPolicy(max_attempts=2, initial_wait=0.01, max_wait=0.02)


def _datto(sandbox, previous, retry=GIVE_UP_FAST):
    env = sandbox.env(("datto_rmm",))
    return asyncio.run(extract_datto_rmm(env["DATTO_RMM_URL"], env["DATTO_RMM_API_KEY"], env["DATTO_RMM_API_SECRET"],
                                         previous, budget=DEFAULT_BUDGET.lifted(), retry=retry))


def test_a_failed_first_run_keeps_its_audits_and_the_next_fetches_only_the_rest(sandbox, warehouse_path):
    store = Warehouse(warehouse_path)
    tables = WarehouseTables(store)
    faults, counts = sandbox.sandbox.faults, sandbox.sandbox.requests
    devices = [d for d in sandbox.sandbox.world.datto_rmm["devices"]
               if (d.get("deviceClass") or "device") == "device" and d.get("lastAuditDate")]
    assert len(devices) > 60
    faults.only, faults.fail_after = "/datto/api/v2/audit/", 40  # Datto goes down after 40 audits
    with pytest.raises(SourceError):
        _datto(sandbox, tables)
    assert counts[AUDITS] == 40  # the server answered 40 audits (the fault answers the rest before counting)
    with store.connect() as con:
        kept = con.execute("SELECT count(*) FROM cache.datto_rmm_device_audits").fetchall()[0][0]
        assert con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'raw'"
                           ).fetchall()[0][0] == 0  # nothing published: the swap is all or nothing
    assert kept == 40  # exactly the audits that arrived

    faults.reset()
    counts.clear()
    extraction = _datto(sandbox, tables)
    assert counts[AUDITS] == len(devices) - 40  # only the rest
    assert extraction.stats["audits_reused"] == 40
    swap(store, extraction)
    with store.connect() as con:
        assert con.execute("SELECT count(DISTINCT device_uid) FROM raw.datto_rmm_device_audits").fetchall()[0][0] \
            == len(devices) == extraction.frames["datto_rmm_device_audits"].height
        assert con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'cache'"
                           ).fetchall()[0][0] == 0  # published: the checkpoint is gone

    counts.clear()
    _datto(sandbox, tables)  # an unchanged tenant: no audit at all
    assert counts.get(AUDITS, 0) == 0


def test_sources_run_at_the_same_time():
    def job(seconds, fail=False):
        async def run():
            await asyncio.sleep(seconds)
            if fail:
                raise SourceError("b: down")
            from pipelines.sources.base import Extraction
            return Extraction("x", {}, {"thread": threading.current_thread().name})
        return run

    started = time.monotonic()
    prefetch = Prefetch({"a": job(0.6), "b": job(0.6, fail=True), "c": job(0.6)})
    assert prefetch.take("a").stats["thread"] == "extract-sources"
    with pytest.raises(SourceError, match="b: down"):
        prefetch.take("b")
    prefetch.take("c")
    assert time.monotonic() - started < 1.2  # together, not 1.8 s one after another
    assert not prefetch.futures


def test_a_failing_source_fails_only_its_own_step_and_keeps_its_tables(sandbox, warehouse_path):
    env = sandbox.env(("itglue", "autotask", "datto_rmm", "ninjaone"))
    expected = sandbox.sandbox.world.expected_counts()
    with dg.DagsterInstance.ephemeral() as instance:
        def run(env):
            resources = {"warehouse": WarehouseResource(path=str(warehouse_path)), "sources": SourcesResource(env=env)}
            return dg.materialize(EXTRACT_ASSETS, resources=resources, instance=instance, raise_on_error=False)

        assert run(env).success
        before = Warehouse(warehouse_path).row_counts("raw")
        result = run({**env, "DATTO_RMM_API_SECRET": "wrong"})
        failed = {e.step_key for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE}
        assert failed == {"extract_datto_rmm"}
        counts = {m.asset_key.path[-1]: m.metadata["dagster/row_count"].value
                  for m in result.asset_materializations_for_node("extract_itglue")}
    assert counts["itglue_configurations"] == expected["itglue_configurations"]  # the UI's per-source row counts
    assert Warehouse(warehouse_path).row_counts("raw") == before  # Datto's tables as the first run left them
    assert before["datto_rmm_devices"] == expected["datto_rmm_devices"]
