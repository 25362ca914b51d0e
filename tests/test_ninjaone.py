"""NinjaOne over real HTTP against the sandbox: `after` and cursor paging, tokens, 429, auth errors, staging."""

import asyncio
import math
import re
from datetime import UTC, datetime

import duckdb
import pytest

from pipelines.sources import get_source
from pipelines.sources.http import AuthError, RetryPolicy
from pipelines.sources.ninjaone import DEFAULT_BUDGET, extract_ninjaone
from pipelines.warehouse import replace_tables, sql_file

TOKENS = "ninjaone POST /ws/oauth/token"
FAST_RETRY = RetryPolicy(max_attempts=40, max_elapsed=60, initial_wait=0.01, max_wait=0.2, throttled_floor=0.05)
FAST = DEFAULT_BUDGET.lifted()


def _extract(sandbox, secret: str | None = None, **kwargs):
    env = sandbox.env(("ninjaone",))
    return asyncio.run(extract_ninjaone(env["NINJAONE_URL"], env["NINJAONE_CLIENT_ID"],
                                        secret or env["NINJAONE_CLIENT_SECRET"], budget=FAST, retry=FAST_RETRY,
                                        **kwargs))


def _world(sandbox):
    return sandbox.sandbox.world


def _pages(count: int, size: int) -> int:
    # a page shorter than asked ends the list; a full last page needs one more (empty) page to say so
    return count // size + 1


def test_extraction_yields_every_record_with_one_token(sandbox):
    extraction = _extract(sandbox)
    expected = _world(sandbox).expected_counts()
    for table, frame in extraction.frames.items():
        assert frame.height == expected[table], table
    assert sandbox.sandbox.requests[TOKENS] == 1 == extraction.stats["tokens_issued"]


def test_after_and_cursor_paging_with_small_pages(sandbox):
    world = _world(sandbox).ninjaone
    extraction = _extract(sandbox, page_size=4)
    requests = sandbox.sandbox.requests
    devices = extraction.frames["ninjaone_devices"]
    assert sorted(devices["id"].to_list()) == sorted(d["id"] for d in world["devices"])
    assert extraction.frames["ninjaone_computer_systems"].height == len(world["computer_systems"])
    assert requests["ninjaone GET /v2/devices-detailed"] == _pages(len(world["devices"]), 4)
    assert requests["ninjaone GET /v2/organizations"] == _pages(len(world["organizations"]), 4)
    assert requests["ninjaone GET /v2/queries/computer-systems"] == _pages(len(world["computer_systems"]), 4)


def test_expired_token_is_renewed_on_401(sandbox):
    sandbox.sandbox.quirks["ninjaone.expire_tokens_after"] = 3
    extraction = _extract(sandbox, page_size=5)
    assert extraction.frames["ninjaone_devices"].height == len(_world(sandbox).ninjaone["devices"])
    served = sum(n for key, n in sandbox.sandbox.requests.items() if key != TOKENS)
    assert 1 < sandbox.sandbox.requests[TOKENS] <= math.ceil(served / 3) + 1


def test_rate_limit_429_is_waited_out(sandbox):
    sandbox.sandbox.rate_limits["ninjaone"] = 4
    sandbox.sandbox.quirks["ninjaone.rate_window_seconds"] = 0.3
    extraction = _extract(sandbox, page_size=5)
    assert extraction.stats["throttled_429"] > 0
    assert extraction.frames["ninjaone_devices"].height == len(_world(sandbox).ninjaone["devices"])


def test_bad_credentials_name_the_env_vars_and_host(sandbox):
    with pytest.raises(AuthError) as caught:
        _extract(sandbox, secret="wrong")
    message = str(caught.value)
    assert "NINJAONE_CLIENT_ID" in message and "NINJAONE_CLIENT_SECRET" in message
    assert sandbox.url in message and "\n" not in message


def test_source_registry_entry_extracts_from_env(sandbox):
    source = get_source("ninjaone")
    env = sandbox.env(("ninjaone",))
    assert source.config_from({k: v for k, v in env.items() if k != "NINJAONE_URL"})["NINJAONE_URL"] == \
        "https://app.ninjarmm.com"
    extraction = asyncio.run(source.extract(source.config_from(env), lambda table: None))
    assert set(extraction.frames) == set(source.tables)


def test_epoch_second_timestamps_become_utc_datetimes(sandbox):
    world = _world(sandbox).ninjaone
    devices = _extract(sandbox).frames["ninjaone_devices"]
    first = world["devices"][0]
    row = devices.filter(devices["id"] == first["id"]).row(0, named=True)
    assert row["created"] == datetime.fromtimestamp(first["created"], UTC)
    assert row["last_contact"] == datetime.fromtimestamp(first["lastContact"], UTC)


def _staged(frames, entity: str):
    con = duckdb.connect()
    con.execute("CREATE SCHEMA raw")
    replace_tables(con, "raw", frames)
    con.execute(sql_file("staging/macros.sql"))
    con.execute(sql_file("staging/shape.sql"))
    con.execute(f"CREATE TEMP TABLE staged AS {sql_file(f'staging/ninjaone/{entity}.sql')}")
    shape = dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {entity}_shape)").fetchall())
    staged = dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE staged)").fetchall())
    assert staged == shape
    return con.sql("SELECT * FROM staged").pl()


def _mac(value: str) -> str:
    return re.sub("[^0-9A-F]", "", value.upper())


def test_staging_gives_normalized_serials_and_macs_for_known_devices(sandbox):
    world = _world(sandbox).ninjaone
    extraction = _extract(sandbox)
    staged = _staged(extraction.frames, "configurations")
    assert staged.height == len(world["devices"])
    by_id = {r["source_id"]: r for r in staged.iter_rows(named=True)}
    serial_of = {s["deviceId"]: s.get("biosSerialNumber") or s.get("serialNumber") for s in world["computer_systems"]}
    plain = re.compile(r"^[A-Z0-9]{6,}$")
    checked = 0
    for device in world["devices"]:
        row = by_id[str(device["id"])]
        assert row["rmm_device_id"] == device["uid"]
        assert row["organization_source_id"] == str(device["organizationId"])
        assert row["config_type"] in {"server", "workstation", "laptop", "network", "printer", "mobile", "other"}
        macs = [_mac(m) for m in device.get("macAddresses") or []]
        assert row["macs"] == list(dict.fromkeys(m for m in macs if m not in ("000000000000", "FFFFFFFFFFFF")))
        serial = (serial_of.get(device["id"]) or "").strip().upper()
        if plain.match(serial) and not re.fullmatch("0+|123456789|1234567890", serial):
            assert row["serial_norm"] == serial
            checked += 1
    assert checked > 0


def test_staging_organizations(sandbox):
    world = _world(sandbox).ninjaone
    staged = _staged(_extract(sandbox).frames, "organizations")
    assert sorted(staged["source_id"].to_list()) == sorted(str(o["id"]) for o in world["organizations"])
    assert staged["name_norm"].null_count() == 0
