"""Sources extracted at the same time, each failing alone; Datto audits and every source's list pages fetched before a
failure kept outside the atomic swap and not fetched again (counted by the sandbox, over HTTP)."""

import asyncio
import threading
import time
from datetime import timedelta

import dagster as dg
import orjson
import pytest

from pipelines.assets.extract import EXTRACT_ASSETS
from pipelines.extraction import CHECKPOINT_HOURS, Prefetch, WarehouseTables, checkpointed, swap
from pipelines.linkage.pipeline import LinkageOptions
from pipelines.resources import SourcesResource, WarehouseResource
from pipelines.sources import get_source
from pipelines.sources.connectwise import extract_connectwise
from pipelines.sources.datto_rmm import DEFAULT_BUDGET, extract_datto_rmm
from pipelines.sources.http import RateBudget, RetryPolicy, SourceError
from pipelines.sources.itglue import extract_itglue
from pipelines.warehouse import Warehouse

AUDITS = "datto GET /api/v2/audit/device/{deviceUid}"
DEVICE_PAGES, SITE_PAGES = "datto GET /api/v2/account/devices", "datto GET /api/v2/account/sites"
GIVE_UP_FAST = RetryPolicy(max_attempts=2, initial_wait=0.01, max_wait=0.02)


def _datto(sandbox, previous, retry=GIVE_UP_FAST, page_size=250):
    env = sandbox.env(("datto_rmm",))
    return asyncio.run(extract_datto_rmm(env["DATTO_RMM_URL"], env["DATTO_RMM_API_KEY"], env["DATTO_RMM_API_SECRET"],
                                         previous, budget=DEFAULT_BUDGET.lifted(), retry=retry, page_size=page_size))


def _checkpointed_datto(sandbox, store, env=None, page_size=10):
    """Datto as a run extracts it: through the extraction layer's page checkpoint. One request in flight, so that the
    pages a fault lets through are the first ones."""
    env = env or sandbox.env(("datto_rmm",))
    tables = WarehouseTables(store)

    async def job():
        return await extract_datto_rmm(env["DATTO_RMM_URL"], env["DATTO_RMM_API_KEY"], env["DATTO_RMM_API_SECRET"],
                                       tables, budget=RateBudget(10**9, 1.0, concurrency=1), retry=GIVE_UP_FAST,
                                       page_size=page_size)
    return asyncio.run(checkpointed(store, get_source("datto_rmm"), env, job))


def _count(store, sql):
    with store.connect() as con:
        return con.execute(sql).fetchall()[0][0]


def _count_page_writes(monkeypatch) -> list[int]:
    """The number of pages in each write of kept pages (one transaction each), as the extraction layer makes them."""
    import pipelines.extraction as extraction

    writes: list[int] = []
    original = extraction.SourcePages._write

    def counting_write(self, rows):
        writes.append(len(rows))
        return original(self, rows)

    monkeypatch.setattr(extraction.SourcePages, "_write", counting_write)
    return writes


def _fail_after_device_pages(sandbox, store, served=5, env=None):
    """A first attempt that Datto stops answering after `served` device-list requests."""
    faults = sandbox.sandbox.faults
    faults.only, faults.fail_after = "/datto/api/v2/account/devices", served
    with pytest.raises(SourceError):
        _checkpointed_datto(sandbox, store, env)
    faults.reset()
    sandbox.sandbox.requests.clear()


def test_a_run_failing_at_page_k_of_n_fetches_only_the_rest_next_time(sandbox, warehouse_path):
    store = Warehouse(warehouse_path)
    counts = sandbox.sandbox.requests
    world = sandbox.sandbox.world.datto_rmm
    pages = -(-len(world["devices"]) // 10)
    assert pages >= 8 and len(world["sites"]) <= 10  # the sites: one page
    _fail_after_device_pages(sandbox, store, served=5)
    with store.connect() as con:
        kept = sorted(n for (n,) in con.execute(
            "SELECT page FROM cache.pages WHERE request LIKE 'GET %/account/devices?%'").fetchall())
        assert con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'raw'"
                           ).fetchall()[0][0] == 0  # nothing published: the swap is all or nothing
    assert kept == [1, 2, 3, 4]  # page 0 (the total) is always read afresh; pages 1-4 arrived before the outage

    extraction = _checkpointed_datto(sandbox, store)
    # page 0 afresh, pages 1-3 as kept, page 4 again to check nothing moved before it (its next was not kept), the rest
    assert counts[DEVICE_PAGES] == pages - 3
    assert counts[SITE_PAGES] == 1  # a list's first page is always read afresh: today's total
    assert extraction.stats["pages_reused"] == 3
    swap(store, extraction)
    with store.connect() as con:
        uids = [u for (u,) in con.execute("SELECT uid FROM raw.datto_rmm_devices").fetchall()]
        sites = {u for (u,) in con.execute("SELECT uid FROM raw.datto_rmm_sites").fetchall()}
    assert sorted(uids) == sorted(d["uid"] for d in world["devices"]) and sites == {s["uid"] for s in world["sites"]}
    assert _count(store, "SELECT count(*) FROM cache.pages") == 0  # published: the checkpoint is gone
    assert _count(store, "SELECT count(*) FROM cache.checkpoints") == 0

    counts.clear()
    _checkpointed_datto(sandbox, store)  # the next run reads the lists afresh
    assert counts[DEVICE_PAGES] == pages


def test_kept_pages_that_moved_since_are_not_mixed_with_fresh_ones(sandbox, warehouse_path):
    store = Warehouse(warehouse_path)
    counts = sandbox.sandbox.requests
    devices = sandbox.sandbox.world.datto_rmm["devices"]
    _fail_after_device_pages(sandbox, store, served=5)
    removed = devices.pop(0)  # deleted in Datto since: every later page moved up by one device
    extraction = _checkpointed_datto(sandbox, store)
    uids = extraction.frames["datto_rmm_devices"]["uid"].to_list()
    # kept pages 1-3 and fresh ones would have missed the device that moved from page 4 to page 3
    assert sorted(uids) == sorted(d["uid"] for d in devices) and removed["uid"] not in uids
    assert extraction.stats["pages_reused"] == 0  # started over once, from nothing
    pages = -(-len(devices) // 10)
    assert pages < counts[DEVICE_PAGES] < 2 * pages  # the aborted start (up to page 4's check), then every page


def test_kept_pages_older_than_the_window_or_of_other_settings_are_not_reused(sandbox, warehouse_path):
    assert CHECKPOINT_HOURS == LinkageOptions().fresh_hours  # no older than linkage accepts as this run's
    store = Warehouse(warehouse_path)
    counts = sandbox.sandbox.requests
    pages = -(-len(sandbox.sandbox.world.datto_rmm["devices"]) // 10)

    _fail_after_device_pages(sandbox, store)
    with store.connect() as con:
        con.execute("UPDATE cache.checkpoints SET started_at = started_at - ?",
                    [timedelta(hours=CHECKPOINT_HOURS, minutes=1)])
    extraction = _checkpointed_datto(sandbox, store)
    assert counts[DEVICE_PAGES] == pages and extraction.stats["pages_reused"] == 0

    store2 = Warehouse(warehouse_path.with_name("other.duckdb"))
    _fail_after_device_pages(sandbox, store2)
    env = sandbox.env(("datto_rmm",))
    other = {**env, "DATTO_RMM_API_KEY": "another-account", "DATTO_RMM_URL": env["DATTO_RMM_URL"] + "/"}
    with pytest.raises(SourceError):  # another account: its token is refused before any page is read...
        _checkpointed_datto(sandbox, store2, other)
    assert _count(store2, "SELECT count(*) FROM cache.pages") == 0  # ...and the first account's pages are gone
    counts.clear()
    other = {**env, "DATTO_RMM_URL": env["DATTO_RMM_URL"] + "/"}  # another URL (here: the same server)
    _fail_after_device_pages(sandbox, store2)
    extraction = _checkpointed_datto(sandbox, store2, other)
    assert counts[DEVICE_PAGES] == pages and extraction.stats["pages_reused"] == 0


def test_a_resumed_extraction_is_dated_by_its_oldest_page(sandbox, warehouse_path):
    store = Warehouse(warehouse_path)
    _fail_after_device_pages(sandbox, store)
    with store.connect() as con:
        con.execute("UPDATE cache.pages SET fetched_at = fetched_at - INTERVAL 3 HOUR")
        kept_at = con.execute("SELECT min(fetched_at) FROM cache.pages").fetchall()[0][0]
    extraction = _checkpointed_datto(sandbox, store)
    for table in ("datto_rmm_devices", "datto_rmm_sites"):
        assert extraction.frames[table]["extracted_at"].max() == kept_at


def _checkpointed_itglue(sandbox, store):
    env = sandbox.env(("itglue",))
    return asyncio.run(checkpointed(store, get_source("itglue"), env, lambda: extract_itglue(
        env["ITGLUE_API_URL"], env["ITGLUE_API_KEY"], retry=GIVE_UP_FAST, page_size=5,
        budget=RateBudget(10**9, 1.0, concurrency=1))))


def test_an_itglue_page_that_moved_since_is_caught_too(sandbox, warehouse_path):
    store = Warehouse(warehouse_path)
    organizations = sandbox.sandbox.world.itglue["organizations"]
    faults = sandbox.sandbox.faults
    faults.only, faults.fail_after = "/itglue/organizations", 3
    with pytest.raises(SourceError):
        _checkpointed_itglue(sandbox, store)
    faults.reset()
    with store.connect() as con:
        kept = dict(con.execute("SELECT page, body FROM cache.pages WHERE request LIKE '%/organizations?%'"
                                ).fetchall())
    assert sorted(kept) == [2, 3]
    deleted = orjson.loads(kept[2])["data"][0]["id"]
    organizations[:] = [o for o in organizations if str(o["id"]) != deleted]  # deleted in IT Glue since
    extraction = _checkpointed_itglue(sandbox, store)
    # page 1 afresh says one fewer; kept page 2 would still hold the deleted one and the count would add up, but
    # page 3 reads otherwise now: started over
    assert extraction.stats["pages_reused"] == 0
    assert sorted(extraction.frames["itglue_organizations"]["id"].to_list()) == sorted(
        str(o["id"]) for o in organizations)


def test_pages_that_do_not_add_up_are_dropped_so_the_next_attempt_starts_afresh(sandbox, warehouse_path):
    store = Warehouse(warehouse_path)
    sandbox.sandbox.quirks["itglue.lying_total"] = ("organizations", 1)
    with pytest.raises(SourceError, match="meta.total-count"):
        _checkpointed_itglue(sandbox, store)
    assert _count(store, "SELECT count(*) FROM cache.pages") == 0
    del sandbox.sandbox.quirks["itglue.lying_total"]
    assert _checkpointed_itglue(sandbox, store).stats["pages_reused"] == 0


def test_a_keyset_paged_list_resumes_where_it_stopped_and_sees_what_came_since(sandbox, warehouse_path):
    """ConnectWise pages forward by id (`pageId`): kept pages still hold, and records added since come after them."""
    store = Warehouse(warehouse_path)
    env = sandbox.env(("connectwise",))
    configurations = sandbox.sandbox.world.connectwise["configurations"]
    faults, counts = sandbox.sandbox.faults, sandbox.sandbox.requests

    def run():
        return asyncio.run(checkpointed(store, get_source("connectwise"), env, lambda: extract_connectwise(
            env["CONNECTWISE_URL"], env["CONNECTWISE_COMPANY_ID"], env["CONNECTWISE_PUBLIC_KEY"],
            env["CONNECTWISE_PRIVATE_KEY"], env["CONNECTWISE_CLIENT_ID"], retry=GIVE_UP_FAST, page_size=7)))

    faults.only, faults.fail_after = "/connectwise/v2024_1/apis/3.0/company/configurations", 4
    with pytest.raises(SourceError):
        run()
    faults.reset()
    counts.clear()
    configurations.append({**configurations[-1], "id": max(c["id"] for c in configurations) + 1,
                           "name": "NEW-LAPTOP-01"})  # added in ConnectWise since
    pages = -(-len(configurations) // 7) + 1  # and the empty page that ends forward-only paging
    assert pages >= 8
    extraction = run()
    assert counts["connectwise GET /company/configurations"] == pages - 3  # pages 1-3 kept; page 4 read to check
    assert extraction.stats["pages_reused"] >= 3
    assert sorted(extraction.frames["connectwise_configurations"]["id"].to_list()) == sorted(
        str(c["id"]) for c in configurations)


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


def test_kept_pages_are_written_in_few_transactions_and_still_within_seconds(sandbox, warehouse_path, monkeypatch):
    # Each write of kept pages ends in a checkpoint that rewrites what is kept already, so its cost grows with the
    # cache (benchmarks/README.md, "10,000 clients"): written every few pages, the cache costs the square of what a
    # source fetches. A quick attempt that fails writes once, at its end
    import pipelines.extraction as extraction

    store = Warehouse(warehouse_path)
    writes = _count_page_writes(monkeypatch)
    _fail_after_device_pages(sandbox, store, served=5)
    assert writes == [4]  # the four pages before the outage, in one transaction when the attempt failed
    # a slow extraction still writes as it goes, so a killed run keeps what it fetched more than FLUSH_SECONDS ago
    writes.clear()
    with store.connect() as con:
        con.execute("DELETE FROM cache.pages")
    monkeypatch.setattr(extraction, "FLUSH_SECONDS", 0.0)
    _fail_after_device_pages(sandbox, store, served=5)
    assert writes == [1, 1, 1, 1]


def test_a_complete_extraction_writes_no_pages_its_swap_would_drop(sandbox, warehouse_path, monkeypatch):
    # an unchanged week fetches every page again; writing them all to the cache only for the swap to delete them
    # was seconds of every weekly run (35 MB of Autotask pages at 2,000 clients)
    import pipelines.extraction as extraction

    store = Warehouse(warehouse_path)
    writes = _count_page_writes(monkeypatch)
    done = _checkpointed_datto(sandbox, store)
    assert writes == []
    assert done.stats["requests"] > 5  # several device pages: there were pages to write
    swap(store, done)
    assert _count(store, "SELECT count(*) FROM cache.pages WHERE source = 'datto_rmm'") == 0
    # a slow one still writes as it goes (a killed run keeps what it fetched), and its swap drops those pages
    monkeypatch.setattr(extraction, "FLUSH_SECONDS", 0.0)
    done = _checkpointed_datto(sandbox, store)
    assert writes and sum(writes) == len(writes)
    assert _count(store, "SELECT count(*) FROM cache.pages WHERE source = 'datto_rmm'") > 0
    swap(store, done)
    assert _count(store, "SELECT count(*) FROM cache.pages WHERE source = 'datto_rmm'") == 0
