"""Autotask over real HTTP against the sandbox: zone discovery and rediscovery, the re-POST rule, the thread limit,
the shared hourly budget, auth, bad pages, and the staging SELECTs on what was extracted."""

import asyncio
import json
import math
import threading
from pathlib import Path

import duckdb
import httpx
import pytest

from pipelines.sources import autotask
from pipelines.sources.http import AuthError, MalformedResponse, RetryPolicy, SourceError

SQL = Path(__file__).resolve().parents[1] / "sql" / "staging"
FAST_RETRY = RetryPolicy(max_attempts=4, max_elapsed=10, initial_wait=0.01, max_wait=0.1, throttled_floor=0.05)
TABLES = ("autotask_companies", "autotask_configuration_items", "autotask_contacts")


def _env(sandbox) -> dict[str, str]:
    return sandbox.env(("autotask",))


def _extract(env: dict[str, str], **overrides):
    return asyncio.run(autotask.extract_autotask(
        env["AUTOTASK_URL"], env["AUTOTASK_USERNAME"], env["AUTOTASK_SECRET"], env["AUTOTASK_INTEGRATION_CODE"],
        **{"retry": FAST_RETRY, **overrides}))


def _zone_url(env: dict[str, str]) -> str:
    response = httpx.get(f"{env['AUTOTASK_URL']}/atservicesrest/v1.0/zoneInformation",
                         params={"user": env["AUTOTASK_USERNAME"]})
    return response.json()["url"]


def _headers(env: dict[str, str]) -> dict[str, str]:
    return {"ApiIntegrationCode": env["AUTOTASK_INTEGRATION_CODE"], "UserName": env["AUTOTASK_USERNAME"],
            "Secret": env["AUTOTASK_SECRET"]}


def test_source_extracts_every_table_and_reports_budget_use(sandbox):
    sandbox.sandbox.quirks["autotask.requests_by_others"] = 1234
    config = autotask.SOURCE.config_from(_env(sandbox))
    extraction = asyncio.run(autotask.SOURCE.extract(config, lambda table: None))

    expected = sandbox.sandbox.world.expected_counts()
    assert {t: extraction.frames[t].height for t in TABLES} == {t: expected[t] for t in TABLES}
    for table in TABLES:
        assert extraction.frames[table]["id"].n_unique() == extraction.frames[table].height
    stats = extraction.stats
    zone_requests = sum(n for key, n in sandbox.sandbox.requests.items() if "zoneInformation" not in key)
    assert stats["budget_used_by_run"] == zone_requests
    assert stats["budget_threshold"] == 10000
    # the first ThresholdInformation read counts itself; the last one sees every request of the run
    assert stats["budget_used_before"] == 1234 + 1
    assert stats["budget_used_after"] == 1234 + zone_requests
    assert stats["budget_remaining"] == 10000 - 1234 - zone_requests
    assert stats["zone_lookups"] == 1


def test_next_page_url_is_posted_again_and_a_get_is_refused(sandbox):
    env = _env(sandbox)
    body = {"MaxRecords": 3, "filter": [{"op": "exist", "field": "id"}]}
    first = httpx.post(f"{_zone_url(env)}V1.0/Companies/query", json=body, headers=_headers(env)).json()
    next_url = first["pageDetails"]["nextPageUrl"]
    assert first["pageDetails"]["count"] == 3 and next_url
    assert httpx.get(next_url, headers=_headers(env)).status_code == 405
    other_body = {**body, "filter": [{"op": "gt", "field": "id", "value": 0}]}
    assert httpx.post(next_url, json=other_body, headers=_headers(env)).status_code == 400
    second = httpx.post(next_url, json=body, headers=_headers(env)).json()
    assert min(i["id"] for i in second["items"]) > max(i["id"] for i in first["items"])

    world = sandbox.sandbox.world
    extraction = _extract(env, page_size=5)
    for entity, table in (("companies", "autotask_companies"), ("configuration_items", "autotask_configuration_items"),
                          ("contacts", "autotask_contacts")):
        assert sorted(extraction.frames[table]["id"].to_list()) == sorted(str(r["id"]) for r in world.autotask[entity])
    follow_ups = sum(max(1, math.ceil(len(world.autotask[e]) / 5)) - 1
                     for e in ("companies", "configuration_items", "contacts"))
    posted = sandbox.sandbox.requests
    # every follow-up page was POSTed (plus the two POSTs above)
    assert posted["autotask POST /V1.0/{entity}/query/next"] == follow_ups + 2
    assert "autotask GET /V1.0/{entity}/query/next" in posted  # only the one refused above


def test_server_filters_and_counts(sandbox):
    env = _env(sandbox)
    items = sandbox.sandbox.world.autotask["configuration_items"]
    pivot = sorted(i["id"] for i in items)[len(items) // 2]
    body = {"filter": [{"op": "gt", "field": "id", "value": pivot}]}
    response = httpx.post(f"{_zone_url(env)}V1.0/ConfigurationItems/query/count", json=body, headers=_headers(env))
    assert response.json() == {"queryCount": sum(1 for i in items if i["id"] > pivot)}
    first = items[0]
    body = {"filter": [{"op": "eq", "field": "ID", "value": first["id"]}]}
    response = httpx.post(f"{_zone_url(env)}V1.0/ConfigurationItems/query", json=body, headers=_headers(env))
    assert [i["id"] for i in response.json()["items"]] == [first["id"]]
    too_big = httpx.post(f"{_zone_url(env)}V1.0/Companies/query", json={"MaxRecords": 501, "filter": []},
                         headers=_headers(env))
    assert too_big.status_code == 400


def test_zone_is_rediscovered_when_the_tenant_moves(sandbox):
    sandbox.sandbox.quirks["autotask.move_zone_after"] = 4
    extraction = _extract(_env(sandbox), page_size=10)

    expected = sandbox.sandbox.world.expected_counts()
    assert {t: extraction.frames[t].height for t in TABLES} == {t: expected[t] for t in TABLES}
    assert extraction.stats["zone_lookups"] == 2
    assert "/zone7/" in extraction.stats["zone_url"]
    assert sandbox.sandbox.requests["autotask GET /atservicesrest/v1.0/zoneInformation"] == 2


def test_never_more_than_three_requests_per_entity(sandbox):
    sandbox.sandbox.quirks["autotask.delay_seconds"] = 0.02
    _extract(_env(sandbox), page_size=10)
    peaks = sandbox.sandbox.observed["autotask.peak_concurrency"]
    assert set(peaks) >= {"companies", "configurationitems", "contacts"}
    assert max(peaks.values()) <= 3


def test_server_refuses_a_fourth_concurrent_request_on_one_entity(sandbox):
    env = _env(sandbox)
    sandbox.sandbox.quirks["autotask.delay_seconds"] = 0.5
    url = f"{_zone_url(env)}V1.0/Contacts/query"
    answers: list[httpx.Response] = []

    def post():
        answers.append(httpx.post(url, json={"MaxRecords": 1, "filter": []}, headers=_headers(env), timeout=10))

    threads = [threading.Thread(target=post) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    refused = [a for a in answers if a.status_code == 429]
    assert len(refused) == 2 and sum(a.status_code == 200 for a in answers) == 3
    assert "Thread Threshold Exceeded" in refused[0].json()["errors"][0]


def test_run_refused_when_other_integrations_used_the_budget(sandbox):
    sandbox.sandbox.rate_limits["autotask"] = 1000
    sandbox.sandbox.quirks["autotask.requests_by_others"] = 990
    with pytest.raises(SourceError, match="hourly 1000 API requests"):
        _extract(_env(sandbox))


def test_hourly_budget_exhausted_mid_run_gives_429(sandbox):
    env = _env(sandbox)
    sandbox.sandbox.rate_limits["autotask"] = 2
    url = f"{_zone_url(env)}V1.0/ThresholdInformation"
    assert [httpx.get(url, headers=_headers(env)).status_code for _ in range(3)] == [200, 200, 429]


@pytest.mark.parametrize("variable", ["AUTOTASK_SECRET", "AUTOTASK_INTEGRATION_CODE"])
def test_bad_credentials_name_the_env_vars_and_host(sandbox, variable):
    env = {**_env(sandbox), variable: "wrong"}
    with pytest.raises(AuthError) as caught:
        _extract(env)
    message = str(caught.value)
    assert variable in message and sandbox.url in message and "\n" not in message


def test_unknown_user_names_the_username_var(sandbox):
    env = {**_env(sandbox), "AUTOTASK_USERNAME": "nobody@example.com"}
    with pytest.raises(AuthError) as caught:
        _extract(env)
    assert "AUTOTASK_USERNAME" in str(caught.value) and sandbox.url in str(caught.value)


def test_malformed_page_is_reported(sandbox):
    sandbox.sandbox.quirks["autotask.malformed_page"] = "ConfigurationItems"
    with pytest.raises(MalformedResponse, match="ConfigurationItems"):
        _extract(_env(sandbox), page_size=10)


def test_unknown_fields_are_kept_in_raw_json(sandbox):
    item = sandbox.sandbox.world.autotask["configuration_items"][0]
    item["fieldFromV2"] = [{"a": 1}]
    extraction = _extract(_env(sandbox))
    frame = extraction.frames["autotask_configuration_items"]
    raw = json.loads(frame.filter(frame["id"] == str(item["id"]))["raw_json"][0])
    assert raw["fieldFromV2"] == [{"a": 1}]


def _staging(extraction, entity: str) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("CREATE SCHEMA raw")
    for table, frame in extraction.frames.items():
        con.register("frame", frame)
        con.execute(f"CREATE TABLE raw.{table} AS SELECT * FROM frame")
        con.unregister("frame")
    con.execute((SQL / "macros.sql").read_text())
    con.execute((SQL / "shape.sql").read_text())
    select = (SQL / "autotask" / f"{entity}.sql").read_text()
    con.execute(f"CREATE TABLE staged AS SELECT * FROM {entity}_shape UNION ALL BY NAME ({select})")
    assert len(con.execute(f"DESCRIBE ({select})").fetchall()) == len(con.execute(f"DESCRIBE {entity}_shape").fetchall())
    assert [r[:2] for r in con.execute("DESCRIBE staged").fetchall()] == \
        [r[:2] for r in con.execute(f"DESCRIBE {entity}_shape").fetchall()]
    return con


def _row(con, source_id) -> dict:
    cursor = con.execute("SELECT * FROM staged WHERE source_id = ?", [str(source_id)])
    names = [d[0] for d in cursor.description]
    return dict(zip(names, cursor.fetchall()[0], strict=True))


def _field(record: dict, name: str):
    return next((v for k, v in record.items() if k.lower() == name.lower()), None)


def test_staging_normalizes_known_records(sandbox):
    world = sandbox.sandbox.world
    extraction = _extract(_env(sandbox))

    con = _staging(extraction, "configurations")
    assert con.execute("SELECT count(*) FROM staged").fetchall()[0][0] == len(world.autotask["configuration_items"])
    linked = next(i for i in world.autotask["configuration_items"] if _field(i, "rmmDeviceUID"))
    row = _row(con, linked["id"])
    assert row["source"] == "autotask" and row["organization_source_id"] == str(linked["companyID"])
    assert row["rmm_device_id"] == _field(linked, "rmmDeviceUID")
    assert row["name"] == linked["referenceTitle"]
    categories = {"Server": "server", "Workstation": "workstation", "Laptop": "laptop", "Network Device": "network",
                  "Printer": "printer"}
    names = dict(con.execute("SELECT id, configuration_item_category_name FROM raw.autotask_configuration_items")
                 .fetchall())
    for item in world.autotask["configuration_items"][:50]:
        name = names[str(item["id"])]
        if name in categories:
            assert _row(con, item["id"])["config_type"] == categories[name]
    with_mac = next((i for i in world.autotask["configuration_items"] if i.get("rmmDeviceAuditMacAddress")), None)
    if with_mac:
        mac = _row(con, with_mac["id"])["mac_norm"]
        assert mac and len(mac) == 12 and mac == mac.upper()

    con = _staging(extraction, "organizations")
    company = next(c for c in world.autotask["companies"] if c.get("phone"))
    row = _row(con, company["id"])
    assert row["name"] == company["companyName"] and row["name_norm"]
    assert row["phone_digits"] == "".join(ch for ch in company["phone"] if ch.isdigit())[-10:]

    con = _staging(extraction, "contacts")
    person = next(c for c in world.autotask["contacts"] if c.get("emailAddress"))
    row = _row(con, person["id"])
    assert row["email_norm"] == person["emailAddress"].strip().lower()
    assert row["organization_source_id"] == str(person["companyID"])
