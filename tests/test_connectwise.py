"""ConnectWise PSA over real HTTP against the sandbox: discovery, forward-only paging, throttling, auth, bad pages,
and the staging SELECTs on what was extracted."""

import asyncio
import base64
import math
from pathlib import Path

import duckdb
import httpx
import pytest

from pipelines.sources import connectwise
from pipelines.sources.http import AuthError, MalformedResponse, RetryPolicy

SQL = Path(__file__).resolve().parents[1] / "sql" / "staging"
FAST_RETRY = RetryPolicy(max_attempts=6, max_elapsed=30, initial_wait=0.01, max_wait=0.2, throttled_floor=0.05)
TABLES = ("connectwise_companies", "connectwise_configurations", "connectwise_contacts")


def _env(sandbox) -> dict[str, str]:
    return sandbox.env(("connectwise",))


def _extract(env: dict[str, str], **overrides):
    return asyncio.run(connectwise.extract_connectwise(
        env["CONNECTWISE_URL"], env["CONNECTWISE_COMPANY_ID"], env["CONNECTWISE_PUBLIC_KEY"],
        env["CONNECTWISE_PRIVATE_KEY"], env["CONNECTWISE_CLIENT_ID"], **{"retry": FAST_RETRY, **overrides}))


def _auth_headers(env: dict[str, str]) -> dict[str, str]:
    token = base64.b64encode(f"{env['CONNECTWISE_COMPANY_ID']}+{env['CONNECTWISE_PUBLIC_KEY']}:"
                             f"{env['CONNECTWISE_PRIVATE_KEY']}".encode()).decode()
    return {"Authorization": f"Basic {token}", "clientId": env["CONNECTWISE_CLIENT_ID"]}


def test_source_extracts_every_table_with_the_worlds_counts(sandbox):
    world = sandbox.sandbox.world
    config = connectwise.SOURCE.config_from(_env(sandbox))
    extraction = asyncio.run(connectwise.SOURCE.extract(config, lambda table: None))

    expected = world.expected_counts()
    assert {t: extraction.frames[t].height for t in TABLES} == {t: expected[t] for t in TABLES}
    for table in TABLES:
        frame = extraction.frames[table]
        assert frame["id"].n_unique() == frame.height
        assert {"raw_json", "extracted_at"} <= set(frame.columns)
    # Deleted companies stay in ConnectWise with deletedFlag set; the connector asks for live ones only.
    assert not extraction.frames["connectwise_companies"]["deleted_flag"].fill_null(False).any()
    assert extraction.stats["codebase"] == "v2024_1/"
    assert extraction.stats["requests"] == sum(sandbox.sandbox.requests.values())


def test_forward_only_paging_follows_the_link_header(sandbox):
    world = sandbox.sandbox.world
    extraction = _extract(_env(sandbox), page_size=7)

    live = [c for c in world.connectwise["companies"] if not c.get("deletedFlag")]
    for resource, records in (("companies", live), ("configurations", world.connectwise["configurations"]),
                              ("contacts", world.connectwise["contacts"])):
        got = extraction.frames[f"connectwise_{resource}"]["id"].to_list()
        assert sorted(got) == sorted(str(r["id"]) for r in records)
        # pages of 7, then the empty page that ends forward-only paging (its Link always offers a next one)
        assert sandbox.sandbox.requests[f"connectwise GET /company/{resource}"] == math.ceil(len(records) / 7) + 1


def test_link_header_with_raw_conditions_is_parsed():
    header = ('<https://api-na.myconnectwise.net/v2024_1/apis/3.0/company/configurations?conditions=lastUpdated>'
              '[2024-01-01T00:00:00Z]&pageSize=1000&pageId=1002>; rel="next", '
              '<https://api-na.myconnectwise.net/v2024_1/apis/3.0/company/configurations?page=9>; rel="last"')
    assert connectwise.next_link(header) == ("https://api-na.myconnectwise.net/v2024_1/apis/3.0/company/"
                                             "configurations?conditions=lastUpdated>[2024-01-01T00:00:00Z]"
                                             "&pageSize=1000&pageId=1002")
    assert connectwise.next_link('<https://x/y?page=9>; rel="last"') is None
    assert connectwise.next_link(None) is None


def test_cloud_ui_host_is_mapped_to_its_api_host():
    assert connectwise.api_site("https://na.myconnectwise.net/") == "https://api-na.myconnectwise.net"
    assert connectwise.api_site("https://api-eu.myconnectwise.net") == "https://api-eu.myconnectwise.net"
    assert connectwise.api_site("https://psa.example.com") == "https://psa.example.com"


def test_server_pages_by_number_with_next_and_last_links(sandbox):
    env = _env(sandbox)
    url = f"{env['CONNECTWISE_URL']}/v2024_1/apis/3.0/company/companies"
    params = {"conditions": "deletedFlag=false and lastUpdated>[2000-01-01T00:00:00Z]", "orderBy": "id desc",
              "page": "1", "pageSize": "2"}
    response = httpx.get(url, params=params, headers=_auth_headers(env))
    assert response.status_code == 200
    ids = [r["id"] for r in response.json()]
    assert len(ids) == 2 and ids[0] > ids[1]
    assert 'rel="next"' in response.headers["Link"] and 'rel="last"' in response.headers["Link"]
    assert httpx.get(url, headers={**_auth_headers(env), "clientId": "wrong"}).status_code == 401


def test_throttle_429_with_retry_after_is_waited_out(sandbox):
    # The emulated throttle: 5 requests per second instead of 1000 a minute, against about 13 requests.
    sandbox.sandbox.rate_limits["connectwise"] = 5
    sandbox.sandbox.quirks["connectwise.rate_window_seconds"] = 1
    extraction = _extract(_env(sandbox), page_size=50)

    expected = sandbox.sandbox.world.expected_counts()
    assert {t: extraction.frames[t].height for t in TABLES} == {t: expected[t] for t in TABLES}
    assert extraction.stats["throttled_429"] > 0
    assert extraction.stats["retries"] >= extraction.stats["throttled_429"]


def test_injected_429_without_retry_after_is_retried(sandbox):
    sandbox.sandbox.faults.only = "/connectwise/v2024_1"
    sandbox.sandbox.faults.throttle_first = 2
    sandbox.sandbox.faults.retry_after = None
    extraction = _extract(_env(sandbox))
    assert extraction.stats["throttled_429"] == 2
    assert extraction.frames["connectwise_configurations"].height == \
        sandbox.sandbox.world.expected_counts()["connectwise_configurations"]


@pytest.mark.parametrize("variable", ["CONNECTWISE_PRIVATE_KEY", "CONNECTWISE_CLIENT_ID", "CONNECTWISE_COMPANY_ID"])
def test_bad_credentials_name_the_env_vars_and_host(sandbox, variable):
    env = {**_env(sandbox), variable: "wrong"}
    with pytest.raises(AuthError) as caught:
        _extract(env)
    message = str(caught.value)
    assert variable in message and sandbox.url in message and "\n" not in message


def test_malformed_page_is_reported(sandbox):
    sandbox.sandbox.quirks["connectwise.malformed_page"] = "configurations"
    with pytest.raises(MalformedResponse, match="not JSON"):
        _extract(_env(sandbox), page_size=10)


def test_unknown_fields_are_kept_in_raw_json(sandbox):
    record = sandbox.sandbox.world.connectwise["configurations"][0]
    record["fieldFromV2026"] = {"nested": [1, 2]}
    record["type"] = "no longer an object"
    extraction = _extract(_env(sandbox))
    frame = extraction.frames["connectwise_configurations"]
    row = frame.filter(frame["id"] == str(record["id"])).row(0, named=True)
    assert '"fieldFromV2026":{"nested":[1,2]}' in row["raw_json"]
    assert row["type_name"] is None


def _staging(extraction, entity: str) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("CREATE SCHEMA raw")
    for table, frame in extraction.frames.items():
        con.register("frame", frame)
        con.execute(f"CREATE TABLE raw.{table} AS SELECT * FROM frame")
        con.unregister("frame")
    con.execute((SQL / "macros.sql").read_text())
    con.execute((SQL / "shape.sql").read_text())
    select = (SQL / "connectwise" / f"{entity}.sql").read_text()
    con.execute(f"CREATE TABLE staged AS SELECT * FROM {entity}_shape UNION ALL BY NAME ({select})")
    # exactly the staging columns, with the staging types
    assert con.execute(f"DESCRIBE ({select})").fetchall().__len__() == \
        con.execute(f"DESCRIBE {entity}_shape").fetchall().__len__()
    assert [r[:2] for r in con.execute("DESCRIBE staged").fetchall()] == \
        [r[:2] for r in con.execute(f"DESCRIBE {entity}_shape").fetchall()]
    return con


def _row(con, source_id) -> dict:
    cursor = con.execute("SELECT * FROM staged WHERE source_id = ?", [str(source_id)])
    names = [d[0] for d in cursor.description]
    return dict(zip(names, cursor.fetchall()[0], strict=True))


def test_staging_normalizes_known_records(sandbox):
    world = sandbox.sandbox.world
    extraction = _extract(_env(sandbox))

    con = _staging(extraction, "configurations")
    assert con.execute("SELECT count(*) FROM staged").fetchall()[0][0] == len(world.connectwise["configurations"])
    device = next(c for c in world.connectwise["configurations"]
                  if c.get("deviceIdentifier") and c.get("macAddress") and c.get("serialNumber"))
    row = _row(con, device["id"])
    assert row["source"] == "connectwise"
    assert row["organization_source_id"] == str(device["company"]["id"])
    assert row["rmm_device_id"] == device["deviceIdentifier"]
    assert row["mac_norm"] == "".join(ch for ch in device["macAddress"].upper() if ch in "0123456789ABCDEF")[:12]
    assert row["name_norm"] == device["name"].split(".")[0].strip().lower()
    assert row["config_type"] in {"server", "workstation", "laptop", "network", "printer", "mobile", "other"}
    typed = {c["type"]["name"]: c for c in world.connectwise["configurations"] if isinstance(c.get("type"), dict)}
    for type_name, category in (("Managed Server", "server"), ("Laptop", "laptop"),
                                ("Managed Workstation", "workstation")):
        if type_name in typed:
            assert _row(con, typed[type_name]["id"])["config_type"] == category

    con = _staging(extraction, "organizations")
    company = next(c for c in world.connectwise["companies"] if not c.get("deletedFlag") and c.get("website"))
    row = _row(con, company["id"])
    assert row["name"] == company["name"] and row["name_norm"]
    assert row["domain"] and "www." not in row["domain"] and "/" not in row["domain"]

    con = _staging(extraction, "contacts")
    person = next(c for c in world.connectwise["contacts"] if c.get("communicationItems"))
    row = _row(con, person["id"])
    assert row["organization_source_id"] == str(person["company"]["id"])
    emails = [i["value"].lower() for i in person["communicationItems"] if "@" in str(i.get("value"))]
    assert row["email_norm"] in emails
