"""HaloPSA over real HTTP against the sandbox: client-credentials token per tenant, page_no paging checked against
record_count, 429 retry, token renewal, auth failure in one line, the recorded shapes, and Halo's IT Glue links in
staging."""

import asyncio
import copy
import json
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.sandbox.api import halopsa as halo_server
from pipelines.sandbox.server import RunningSandbox, Sandbox
from pipelines.sandbox.systems import build_world, expected_counts
from pipelines.sources import halopsa
from pipelines.sources.http import AuthError, MalformedResponse, RetryPolicy
from pipelines.staging import build_staging
from pipelines.warehouse import replace_tables

FIXTURE = Path("/work/shared/reference/fixtures/halopsa.json")
FAST_RETRY = RetryPolicy(max_attempts=20, max_elapsed=30, initial_wait=0.01, max_wait=0.1, throttled_floor=0.05)
TABLES = ("halopsa_clients", "halopsa_sites", "halopsa_assets", "halopsa_users")


@pytest.fixture(scope="module")
def halo_world():
    return build_world(seed=11, scale=15, psa="halopsa")


@pytest.fixture
def halo(halo_world):
    with RunningSandbox(Sandbox(copy.deepcopy(halo_world))) as running:
        yield running


def _extract(sandbox, secret: str | None = None, **kwargs):
    env = sandbox.env(("halopsa",))
    return asyncio.run(halopsa.extract_halopsa(
        env["HALOPSA_URL"], env["HALOPSA_CLIENT_ID"], secret or env["HALOPSA_CLIENT_SECRET"], env["HALOPSA_TENANT"],
        **{"budget": halopsa.DEFAULT_BUDGET.lifted(), "retry": FAST_RETRY, **kwargs}))


def test_every_record_with_one_token_from_the_registry_entry(halo):
    config = halopsa.SOURCE.config_from(halo.env(("halopsa",)))
    extraction = asyncio.run(halopsa.SOURCE.extract(config, lambda table: None))
    expected = expected_counts(halo.sandbox.world)
    assert {t: extraction.frames[t].height for t in TABLES} == {t: expected[t] for t in TABLES}
    assert extraction.stats["tokens_issued"] == 1
    assets = extraction.frames["halopsa_assets"]
    assert assets["serial_number"].null_count() < assets.height and assets["mac_address"].null_count() < assets.height
    # inactive records are asked for: an IT Glue copy of an inactive client is no orphan
    assert extraction.frames["halopsa_clients"]["inactive"].any() or not any(
        c["inactive"] for c in halo.sandbox.world.systems["halopsa"]["clients"])


def test_small_pages_are_fetched_by_page_no_and_counted(halo):
    extraction = _extract(halo, page_size=7)
    assert extraction.frames["halopsa_assets"].height == len(halo.sandbox.world.systems["halopsa"]["assets"])
    pages = -(-extraction.frames["halopsa_assets"].height // 7)
    assert extraction.stats["requests_by_endpoint"]["GET /api/Asset"] == pages


def test_a_count_that_disagrees_keeps_the_previous_tables(halo):
    halo.sandbox.quirks["halopsa.record_count_offset"] = 1
    with pytest.raises(MalformedResponse, match="record_count says"):
        _extract(halo, page_size=50)


def test_rate_limit_429_is_waited_out(halo):
    halo.sandbox.rate_limits["halopsa"] = 4
    halo.sandbox.quirks["halopsa.rate_window_seconds"] = 1
    patient = RetryPolicy(max_attempts=40, max_elapsed=60, initial_wait=0.1, max_wait=0.5, throttled_floor=0.3)
    extraction = _extract(halo, page_size=50, retry=patient)
    assert extraction.stats["throttled_429"] > 0
    assert extraction.frames["halopsa_users"].height == len(halo.sandbox.world.systems["halopsa"]["users"])


def test_expired_token_is_renewed_on_401(halo):
    halo.sandbox.quirks["halopsa.expire_tokens_after"] = 2
    extraction = _extract(halo, page_size=25)
    assert extraction.stats["tokens_issued"] > 1
    assert extraction.frames["halopsa_assets"].height == len(halo.sandbox.world.systems["halopsa"]["assets"])


def test_bad_credentials_name_the_variables_and_host(halo):
    with pytest.raises(AuthError) as info:
        _extract(halo, secret="wrong")
    message = str(info.value)
    assert "HALOPSA_CLIENT_ID/HALOPSA_CLIENT_SECRET is rejected by" in message and "127.0.0.1" in message
    assert "\n" not in message


def test_sandbox_answers_in_the_recorded_shapes():
    """Conformance: every key of the recorded responses (shared/reference/fixtures/halopsa.json) is in the
    sandbox's records, and the connector reads the recorded records."""
    recorded = json.loads(FIXTURE.read_text())
    world = build_world(seed=3, scale=5, psa="halopsa").systems["halopsa"]
    for page, key in (("clients_page", "clients"), ("sites_page", "sites"), ("assets_page", "assets")):
        response = recorded[page]["response"]
        assert {"page_no", "page_size", "record_count", key} <= set(response)
        wanted = set().union(*(r.keys() for r in response[key]))
        missing = wanted - set(world[key][0])
        assert not missing, f"{key}: {sorted(missing)}"
    token = recorded["token"]["response"]
    assert {"access_token", "expires_in"} <= set(token)
    asset = halopsa.ASSETS.to_frame(recorded["assets_page"]["response"]["assets"], halopsa.utc_now()).row(0, named=True)
    assert (asset["serial_number"], asset["mac_address"], asset["itglue_id"]) == ("5CD1234XYZ", "00:1A:2B:3C:4D:5E",
                                                                                  "998877")
    assert asset["rmm_device_id"] == "3f1c2b6e-0d8a-4d61-9a3b-7c2e1f0a9b88"
    client = halopsa.CLIENTS.to_frame(recorded["clients_page"]["response"]["clients"], halopsa.utc_now())
    assert client["itglue_id"].to_list() == ["1234567", None]  # "" is no link


def test_itglue_copies_are_unsynced_and_halo_holds_the_links(halo_world):
    itglue = halo_world.itglue
    assert all(r["attributes"]["psa-integration"] is None for t in itglue.values() for r in t)
    clients = halo_world.systems["halopsa"]["clients"]
    linked = [c for c in clients if c["itglue_id"]]
    org_ids = {r["id"] for r in itglue["organizations"]}
    assert linked and all(c["itglue_id"] in org_ids for c in linked)
    assets = halo_world.systems["halopsa"]["assets"]
    assert len({a["itglue_id"] for a in assets if a["itglue_id"]}) == sum(1 for a in assets if a["itglue_id"])


def _from_env(sandbox, previous=lambda table: None):
    config = halopsa.SOURCE.config_from(sandbox.env(("halopsa",)))
    return asyncio.run(halopsa.SOURCE.extract(config, previous))


def _stage(frames, sources=("itglue", "halopsa")):
    con = duckdb.connect()
    con.execute("CREATE SCHEMA raw; CREATE SCHEMA staging")
    replace_tables(con, "raw", frames)
    return con, build_staging(con, sources)


def test_staging_marks_the_copy_halo_links_as_synced(halo):
    extraction = _from_env(halo)
    itglue = _itglue_frames(halo)
    con, counts = _stage({**extraction.frames, **itglue})
    assert counts["configurations"]["halopsa"] == extraction.frames["halopsa_assets"].height
    linked = {r["itglue_id"] for r in halo.sandbox.world.systems["halopsa"]["assets"] if r["itglue_id"]}
    enabled = {r[0] for r in con.execute("SELECT source_id FROM staging.configurations WHERE source = 'itglue' "
                                         "AND psa_integration = 'enabled'").fetchall()}
    assert enabled == linked
    orgs = con.execute("SELECT count(*) FILTER (WHERE domain IS NOT NULL), count(*) FROM staging.organizations "
                       "WHERE source = 'halopsa'").fetchone()
    assert orgs[0] > 0 and orgs[1] == extraction.frames["halopsa_clients"].height
    people = con.execute("SELECT count(*) FROM staging.contacts WHERE source = 'halopsa' AND email_norm IS NOT NULL "
                         "AND last_name_norm IS NOT NULL").fetchone()[0]
    assert people > 0


def test_a_deleted_halo_records_link_is_kept_and_its_copy_stays_synced(halo):
    first = _from_env(halo)
    links = first.frames["halopsa_itglue_links"]
    assert links.height == sum(1 for key in ("clients", "assets", "users")
                               for r in halo.sandbox.world.systems["halopsa"][key] if r["itglue_id"])
    assets = halo.sandbox.world.systems["halopsa"]["assets"]
    gone = next(a for a in assets if a["itglue_id"])
    assets.remove(gone)  # deleted in Halo between two runs
    second = _from_env(halo, lambda table: first.frames.get(table))
    kept = second.frames["halopsa_itglue_links"]
    assert kept.height == links.height
    row = kept.filter(pl.col("halo_id") == str(gone["id"])).row(0, named=True)
    assert row["itglue_id"] == gone["itglue_id"] and row["last_seen"] < second.frames["halopsa_assets"]["extracted_at"][0]
    con, _ = _stage({**second.frames, **_itglue_frames(halo)})
    assert con.execute("SELECT psa_integration FROM staging.configurations WHERE source = 'itglue' AND source_id = ?",
                       [gone["itglue_id"]]).fetchone() == ("enabled",)


def _itglue_frames(sandbox):
    from pipelines.sources import itglue

    env = sandbox.env(("itglue",))
    return asyncio.run(itglue.extract_itglue(env["ITGLUE_API_URL"], env["ITGLUE_API_KEY"])).frames


def test_the_server_declares_itself():
    assert halo_server.URL_ENV in halopsa.SOURCE.env
    assert set(halo_server.CREDENTIALS) <= set(halopsa.SOURCE.env)


def test_last_weeks_halo_links_the_copies_of_records_deleted_since():
    """The tenant as last week's run saw it: Halo still holds the records deleted since, each linked to the IT Glue
    copy its sync made, which today's truth lists as psa_record_deleted orphans (found by a run with history)."""
    before = build_world(seed=11, scale=15, psa="halopsa", weeks_ago=1)
    today = build_world(seed=11, scale=15, psa="halopsa")
    deleted = set(today.truth.orphans.filter(pl.col("reason") == "psa_record_deleted")["source_id"])
    assert deleted
    linked_before = {r["itglue_id"] for key in ("clients", "assets", "users")
                     for r in before.systems["halopsa"][key] if r["itglue_id"]}
    linked_today = {r["itglue_id"] for key in ("clients", "assets", "users")
                    for r in today.systems["halopsa"][key] if r["itglue_id"]}
    assert deleted <= linked_before and not deleted & linked_today


def _datto_frames(sandbox):
    from pipelines.sources import datto_rmm

    env = sandbox.env(("datto_rmm",))
    return asyncio.run(datto_rmm.extract_datto_rmm(
        env["DATTO_RMM_URL"], env["DATTO_RMM_API_KEY"], env["DATTO_RMM_API_SECRET"], lambda table: None,
        budget=datto_rmm.DEFAULT_BUDGET.lifted())).frames


def test_halo_names_the_datto_site_of_a_client_as_its_datto_integration_does(halo, tmp_path):
    """Halo's Datto RMM integration keeps the mapping on Halo's side (`datto_id` on the client, a Datto site uid);
    Datto's sites then carry no PSA company. Staging turns it into the client's `rmm_org_keys`, and linkage puts the
    client and its site in one cluster, here with the site named after another client."""
    from tests.test_linkage_cases import PRIORS, link, same_cluster

    client = next(c for c in halo.sandbox.world.systems["halopsa"]["clients"] if c["datto_id"])
    other = next(c for c in halo.sandbox.world.systems["halopsa"]["clients"] if c["id"] != client["id"])
    site = next(s for s in halo.sandbox.world.datto_rmm["sites"] if s["uid"] == client["datto_id"])
    site["name"] = f"{other['name']} - Denver"
    con, _ = _stage({**_from_env(halo).frames, **_datto_frames(halo)}, ("halopsa", "datto_rmm"))
    keys = con.execute("SELECT source_id, rmm_org_keys FROM staging.organizations WHERE source = 'halopsa' "
                       "AND rmm_org_keys IS NOT NULL").fetchall()
    sites = {r[0] for r in con.execute("SELECT source_id FROM staging.organizations WHERE source = 'datto_rmm'"
                                       ).fetchall()}
    clients = {str(c["id"]): c["datto_id"] for c in halo.sandbox.world.systems["halopsa"]["clients"]}
    assert keys and all(k == [f"datto_rmm:{clients[cid]}"] for cid, k in keys)
    assert {k[0].removeprefix("datto_rmm:") for _, k in keys} <= sites
    assert len(keys) == sum(1 for uid in clients.values() if uid)
    assert con.execute("SELECT count(*) FROM staging.organizations WHERE source = 'datto_rmm' "
                       "AND psa_company_id IS NOT NULL").fetchall()[0][0] == 0  # the link lives in Halo only
    staged = {t: con.sql(f"FROM staging.{t}").pl() for t in ("organizations", "configurations", "contacts")}
    tables, _ = link(staged, tmp_path, PRIORS)
    clusters = tables["marts.entity_clusters"]
    assert same_cluster(clusters, "organization", ("halopsa", str(client["id"])), ("datto_rmm", site["uid"]))
    assert not same_cluster(clusters, "organization", ("halopsa", str(other["id"])), ("datto_rmm", site["uid"]))


def _halo_and_site(rmm_org_keys):
    from tests.test_linkage_cases import T0, orgs

    frame = orgs(("halopsa", "7", "Vertex Stone Partners PLLC", "vertex stone partners", None, None, T0),
                 ("datto_rmm", "site-9", "Zephyr Holdings - Denver", "zephyr holdings denver", None, None, T0),
                 ("halopsa", "8", "Zephyr Holdings", "zephyr holdings", None, None, T0))
    return frame.with_columns(pl.Series("rmm_org_keys", [rmm_org_keys, None, None], dtype=pl.List(pl.String)))


@pytest.mark.parametrize("linked", [True, False])
def test_halos_datto_id_links_client_and_site_whatever_their_names(linked, tmp_path):
    """The Datto site was named after another client (or renamed since): only Halo's own link says whose it is."""
    from tests.test_linkage_cases import PRIORS, link, same_cluster

    staging = {"organizations": _halo_and_site(["datto_rmm:site-9"] if linked else None)}
    tables, _ = link(staging, tmp_path, PRIORS)
    clusters = tables["marts.entity_clusters"]
    assert same_cluster(clusters, "organization", ("halopsa", "7"), ("datto_rmm", "site-9")) is linked
    assert not same_cluster(clusters, "organization", ("halopsa", "8"), ("datto_rmm", "site-9")) or not linked
