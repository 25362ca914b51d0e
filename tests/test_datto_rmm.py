"""Datto RMM over real HTTP against the sandbox: paging, tokens, rate limit, incremental audits, auth errors, staging."""

import asyncio
import math
import re

import duckdb
import pytest

from pipelines.sources import get_source
from pipelines.sources.datto_rmm import (
    DEFAULT_BUDGET,
    DattoClient,
    extract_datto_rmm,
)
from pipelines.sources.http import AuthError, RateBudget, RetryPolicy, SourceError
from pipelines.warehouse import replace_tables, sql_file, table_exists

AUDITS = "datto GET /api/v2/audit/device/{deviceUid}"
TOKENS = "datto POST /auth/oauth/token"
NICS = "datto GET /api/v2/site/{siteUid}/devices/network-interface"
FAST_RETRY = RetryPolicy(max_attempts=40, max_elapsed=60, initial_wait=0.01, max_wait=0.2, throttled_floor=0.05)
FAST = DEFAULT_BUDGET.lifted()  # the sandbox's own limit is what these tests exercise, not the client's pacing


def _extract(sandbox, previous=lambda table: None, budget=FAST, **kwargs):
    env = sandbox.env(("datto_rmm",))
    return asyncio.run(extract_datto_rmm(env["DATTO_RMM_URL"], env["DATTO_RMM_API_KEY"], env["DATTO_RMM_API_SECRET"],
                                         previous, budget=budget, retry=FAST_RETRY, **kwargs))


def _warehouse(frames) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("CREATE SCHEMA raw")
    replace_tables(con, "raw", frames)
    return con


def _previous_from(con: duckdb.DuckDBPyConnection):
    """PreviousTables as the warehouse gives it: the frames round-tripped through DuckDB."""
    return lambda table: con.sql(f"SELECT * FROM raw.{table}").pl() if table_exists(con, "raw", table) else None


def _world(sandbox):
    return sandbox.sandbox.world


def test_extraction_yields_every_site_device_and_audit_with_one_token(sandbox):
    extraction = _extract(sandbox)
    expected = _world(sandbox).expected_counts()
    for table, frame in extraction.frames.items():
        assert frame.height == expected[table], table
        assert {"raw_json", "extracted_at"} <= set(frame.columns)
    assert sandbox.sandbox.requests[TOKENS] == 1
    assert extraction.stats["tokens_issued"] == 1
    assert extraction.stats["audits_fetched"] == sandbox.sandbox.requests[AUDITS]
    assert extraction.stats["audits_reused"] == 0
    # audits and pages go out together, within the client's concurrency, not one at a time
    assert 1 < sandbox.sandbox.observed["datto_rmm.peak_in_flight"] <= FAST.concurrency


def test_deleted_devices_site_marks_devices_deleted(sandbox):
    devices = _extract(sandbox).frames["datto_rmm_devices"]
    in_deleted_site = devices["site_name"] == "Deleted Devices"
    assert in_deleted_site.sum() > 0
    assert devices.filter(in_deleted_site)["is_deleted"].all()
    assert not devices.filter(~in_deleted_site)["is_deleted"].any()


def test_pages_put_back_the_filters_that_next_page_url_drops(sandbox):
    world = _world(sandbox)
    site = next(s for s in world.datto_rmm["sites"]
                if sum(d["siteName"] == s["name"] for d in world.datto_rmm["devices"]) >= 3)
    wanted = [d["uid"] for d in world.datto_rmm["devices"] if site["name"].lower() in d["siteName"].lower()]
    env = sandbox.env(("datto_rmm",))

    async def run():
        async with DattoClient(env["DATTO_RMM_URL"], env["DATTO_RMM_API_KEY"], env["DATTO_RMM_API_SECRET"],
                               budget=FAST, retry=FAST_RETRY, page_size=2) as datto:
            _, first = await datto.get("/api/v2/account/devices", "devices",
                                       params={"siteName": site["name"], "page": 0, "max": 2})
            devices = await datto.pages("/api/v2/account/devices", "devices", {"siteName": site["name"]})
            return first, devices

    first, devices = asyncio.run(run())
    assert "siteName" not in first["pageDetails"]["nextPageUrl"]  # the quirk is there
    assert sorted(d["uid"] for d in devices) == sorted(wanted)
    assert sandbox.sandbox.requests["datto GET /api/v2/account/devices"] == 1 + math.ceil(len(wanted) / 2)


def test_all_pages_arrive_with_small_pages(sandbox):
    extraction = _extract(sandbox, page_size=7)
    world = _world(sandbox)
    assert extraction.frames["datto_rmm_devices"].height == len(world.datto_rmm["devices"])
    assert extraction.frames["datto_rmm_devices"]["uid"].n_unique() == len(world.datto_rmm["devices"])
    assert sandbox.sandbox.requests["datto GET /api/v2/account/devices"] == math.ceil(
        len(world.datto_rmm["devices"]) / 7)


def test_expired_token_is_renewed_once_per_expiry(sandbox):
    sandbox.sandbox.quirks["datto.expire_tokens_after"] = 25
    extraction = _extract(sandbox)
    tokens = sandbox.sandbox.requests[TOKENS]
    served = sum(n for key, n in sandbox.sandbox.requests.items() if key != TOKENS)
    assert extraction.frames["datto_rmm_devices"].height == len(_world(sandbox).datto_rmm["devices"])
    assert tokens == extraction.stats["tokens_issued"] > 1
    # concurrent requests that meet one expired token share one renewal: at most one token per 25 served requests
    assert tokens <= math.ceil(served / 25) + 1


def _all_devices(sandbox, budget, page_size: int):
    env = sandbox.env(("datto_rmm",))

    async def run():
        async with DattoClient(env["DATTO_RMM_URL"], env["DATTO_RMM_API_KEY"], env["DATTO_RMM_API_SECRET"],
                               budget=budget, retry=FAST_RETRY, page_size=page_size) as datto:
            return await datto.pages("/api/v2/account/devices", "devices"), datto.api.stats

    return asyncio.run(run())


def test_rate_limit_429_is_waited_out(sandbox):
    sandbox.sandbox.rate_limits["datto_rmm"] = 10
    sandbox.sandbox.quirks["datto.rate_window_seconds"] = 0.5
    devices, stats = _all_devices(sandbox, FAST, page_size=5)
    assert stats.throttled > 0
    assert len(devices) == len(_world(sandbox).datto_rmm["devices"])


def test_budget_keeps_under_a_rolling_window_without_429(sandbox):
    # Datto's 600 per rolling 60 s, scaled down in time: a budget of the same shape must never trip the window.
    # The client counts a request when it sends it, the server when it arrives; on a loaded machine a burst can
    # arrive late enough to share the server's window with the next one, so the budget keeps a 10% margin under the
    # limit (at Datto's own scale the default admits at most 588 in any 60 s of the 600).
    sandbox.sandbox.rate_limits["datto_rmm"] = 40
    sandbox.sandbox.quirks["datto.rate_window_seconds"] = 1.0
    devices, stats = _all_devices(sandbox, RateBudget.within(36, 1.0, concurrency=10), page_size=2)
    assert stats.throttled == 0 and stats.requests > 40
    assert sandbox.sandbox.observed["datto_rmm.peak_requests_per_window"] <= 40
    assert len(devices) == len(_world(sandbox).datto_rmm["devices"])


def test_default_budget_stays_under_600_per_rolling_minute():
    budget = DEFAULT_BUDGET
    most_in_a_minute = budget.requests + 60 * budget.requests / budget.per_seconds
    assert 560 <= most_in_a_minute <= 600


def test_second_run_fetches_no_audits_and_a_changed_audit_date_refetches_only_that_device(sandbox):
    counts = sandbox.sandbox.requests
    first = _extract(sandbox)
    audited = first.frames["datto_rmm_device_audits"].height
    assert counts[AUDITS] == audited > 0

    con = _warehouse(first.frames)
    counts.clear()
    second = _extract(sandbox, _previous_from(con))
    assert counts.get(AUDITS, 0) == 0
    assert second.stats["audits_fetched"] == 0 and second.stats["audits_reused"] == audited
    assert second.frames["datto_rmm_device_audits"].height == audited

    devices = _world(sandbox).datto_rmm["devices"]
    changed, gone = devices[0], devices.pop()
    changed["lastAuditDate"] = "2030-01-01T00:00:00Z"
    con = _warehouse(second.frames)
    counts.clear()
    third = _extract(sandbox, _previous_from(con))
    assert counts[AUDITS] == 1 and third.stats["audits_fetched"] == 1
    audits = third.frames["datto_rmm_device_audits"]
    assert audits.height == audited - 1
    assert gone["uid"] not in audits["device_uid"].to_list()
    row = audits.filter(audits["device_uid"] == changed["uid"])
    assert row.height == 1 and str(row["last_audit_date"][0]).startswith("2030-01-01")


def test_device_without_audit_takes_macs_from_its_site_network_interfaces(sandbox):
    world = _world(sandbox)
    device = next(d for d in world.datto_rmm["devices"] if d["siteName"] != "Deleted Devices")
    del world.datto_rmm["audits"][device["uid"]]
    extraction = _extract(sandbox)
    assert sandbox.sandbox.requests[NICS] >= 1
    staged = _staged(extraction.frames, "configurations")
    row = staged.filter(staged["source_id"] == device["uid"]).row(0, named=True)
    nic_macs = [_mac(n["macAddress"]) for n in world.datto_rmm["network_interfaces"][device["uid"]]]
    assert row["macs"] == [m for m in nic_macs if m not in ("000000000000", "FFFFFFFFFFFF")]
    assert row["serial_norm"] is None


def test_bad_credentials_name_the_env_vars_and_host(sandbox):
    env = sandbox.env(("datto_rmm",))
    with pytest.raises(AuthError) as caught:
        asyncio.run(extract_datto_rmm(env["DATTO_RMM_URL"], env["DATTO_RMM_API_KEY"], "wrong-secret",
                                      lambda table: None, budget=FAST, retry=FAST_RETRY))
    message = str(caught.value)
    assert "DATTO_RMM_API_KEY" in message and "DATTO_RMM_API_SECRET" in message
    assert sandbox.url in message and "\n" not in message


def test_source_registry_entry_extracts_from_env(sandbox):
    source = get_source("datto_rmm")
    env = sandbox.env(("datto_rmm",))
    config = source.config_from({**env, "DATTO_RMM_RATE_LIMIT": "1000000"})
    assert source.config_from({k: v for k, v in env.items() if k != "DATTO_RMM_API_SECRET"}) is None
    extraction = asyncio.run(source.extract(config, lambda table: None))
    assert set(extraction.frames) == set(source.tables)


def _mac(value: str) -> str:
    return re.sub("[^0-9A-F]", "", value.upper())


def _staged(frames, entity: str):
    con = _warehouse(frames)
    con.execute(sql_file("staging/macros.sql"))
    con.execute(sql_file("staging/shape.sql"))
    con.execute(f"CREATE TEMP TABLE staged AS {sql_file(f'staging/datto_rmm/{entity}.sql')}")
    shape = dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {entity}_shape)").fetchall())
    staged = dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE staged)").fetchall())
    assert staged == shape
    return con.sql("SELECT * FROM staged").pl()


def test_staging_gives_normalized_serials_and_macs_for_known_devices(sandbox):
    world = _world(sandbox)
    extraction = _extract(sandbox)
    staged = _staged(extraction.frames, "configurations")
    assert staged.height == len(world.datto_rmm["devices"])
    by_uid = {r["source_id"]: r for r in staged.iter_rows(named=True)}
    plain = re.compile(r"^[A-Z0-9]{6,}$")
    checked = 0
    for device in world.datto_rmm["devices"]:
        audit = world.datto_rmm["audits"][device["uid"]]
        serial = audit["bios"]["serialNumber"]
        row = by_uid[device["uid"]]
        assert row["rmm_device_id"] == device["uid"]
        assert row["is_deleted"] == (device["siteName"] == "Deleted Devices")
        assert row["config_type"] in {"server", "workstation", "laptop", "network", "printer", "mobile", "other"}
        macs = [_mac(n["macAddress"]) for n in audit["nics"]]
        assert row["macs"] == list(dict.fromkeys(m for m in macs if m not in ("000000000000", "FFFFFFFFFFFF")))
        assert row["mac_norm"] == (row["macs"][0] if row["macs"] else None)
        if serial and plain.match(serial.strip().upper()) and not re.fullmatch("0+|123456789|1234567890", serial):
            assert row["serial_norm"] == serial.strip().upper()
            checked += 1
    assert checked > 0


def test_staging_sites_carry_the_autotask_company_id(sandbox):
    world = _world(sandbox)
    staged = _staged(_extract(sandbox).frames, "organizations")
    clients = [s for s in world.datto_rmm["sites"] if s["name"] != "Deleted Devices"]
    assert staged.height == len(clients)
    by_uid = {r["source_id"]: r for r in staged.iter_rows(named=True)}
    for site in clients:
        assert by_uid[site["uid"]]["psa_company_id"] == site.get("autotaskCompanyId")
    assert any(r["psa_company_id"] for r in by_uid.values())


def test_a_failing_audit_fails_the_run_with_one_readable_error(sandbox):
    faults = sandbox.sandbox.faults
    faults.only, faults.fail_first = "/datto/api/v2/audit/", 10**6
    env = sandbox.env(("datto_rmm",))
    with pytest.raises(SourceError) as caught:
        asyncio.run(extract_datto_rmm(env["DATTO_RMM_URL"], env["DATTO_RMM_API_KEY"], env["DATTO_RMM_API_SECRET"],
                                      lambda table: None, budget=FAST,
                                      retry=RetryPolicy(max_attempts=2, initial_wait=0.01, max_wait=0.02)))
    assert "datto_rmm" in str(caught.value) and "\n" not in str(caught.value)
