"""A small hand-made IT Glue tenant for the cleanup tests, with marts and staging rows that point into it.

Built by hand, not by the generator, so each rule of the article has exactly one record that exercises it:

    organizations  1 Contoso (synced, keep)     3 Contoso Inc (manual duplicate of 1 -> merge_organizations)
                   2 Fabrikam (synced)          4 Old Client (orphaned, empty -> delete)
    configurations 101 DC01 synced (keep)       102 DC01 manual, carries what 101 has      -> delete
                   103 WS-014 synced (keep)     104 WS-014 manual, carries a password       -> archive
                   105 FW01 synced (keep)       106 FW01 also synced                        -> disable_sync_then_delete
                   109 LAPTOP-7 synced (keep)   110 LAPTOP-7 synced, the PSA holds it twice -> fix_in_psa
                   107 PRINTER orphaned                                                     -> delete
                   108 NAS01 orphaned, carries an attachment                                -> archive
                   111 SRV-OLD (its RMM device is gone)                                     -> delete
    contacts       201 Jane Doe synced (keep)   202 Jane Doe manual                         -> delete
                   203 Bob Smith orphaned                                                   -> delete
"""

import polars as pl

from pipelines.sandbox.world import Truth, World

SITE = "https://sandbox.itglue.com"
STAMP = "2026-01-05T10:00:00.000Z"


def _org(rid, name, psa):
    return {"id": rid, "type": "organizations", "relationships": {}, "attributes": {
        "name": name, "short-name": None, "psa-integration": psa, "organization-type-name": "Client",
        "organization-status-name": "Active", "primary": False, "parent-id": None, "quick-notes": None,
        "resource-url": f"{SITE}/{rid}", "created-at": STAMP, "updated-at": STAMP}}


def _config(rid, org, name, psa, serial=None):
    return {"id": rid, "type": "configurations", "relationships": {}, "attributes": {
        "organization-id": int(org), "organization-name": None, "name": name, "hostname": name.lower(),
        "primary-ip": None, "mac-address": None, "serial-number": serial, "asset-tag": None,
        "configuration-type-id": 7, "configuration-type-name": "Server", "configuration-type-kind": "server",
        "configuration-status-id": 1, "configuration-status-name": "Active", "archived": False,
        "psa-integration": psa, "restricted": False, "resource-url": f"{SITE}/{org}/configurations/{rid}",
        "created-at": STAMP, "updated-at": STAMP}}


def _contact(rid, org, first, last, psa):
    return {"id": rid, "type": "contacts", "relationships": {}, "attributes": {
        "organization-id": int(org), "organization-name": None, "first-name": first, "last-name": last,
        "title": None, "contact-emails": [{"value": f"{first}.{last}@example.com".lower(), "primary": True}],
        "contact-phones": [], "archived": False, "psa-integration": psa,
        "resource-url": f"{SITE}/{org}/contacts/{rid}", "created-at": STAMP, "updated-at": STAMP}}


def _related(kind, rid, name):
    return {"id": rid, "type": kind, "attributes": {"name": name}}


def _password(rid, name, value, otp):
    """An embedded password as IT Glue includes it: with its value and its OTP secret (tests/test_cleanup_secrets.py
    looks for both everywhere msp-recon writes)."""
    return {"id": rid, "type": "passwords", "attributes": {
        "name": name, "username": "administrator", "password": value, "otp-secret": otp, "url": None,
        "password-updated-at": STAMP, "resource-url": f"{SITE}/passwords/{rid}"}}


# Every secret value the tenant holds, for the tests that look for them.
SECRET_VALUES = ("Keep-DSRM-pw-101!", "Dup-DSRM-pw-102!", "JBSWY3DPEHPK3PXP", "Local-admin-pw-104!",
                 "KRSXG5CTMVRXEZLU")


def build_cleanup_world() -> World:
    empty = pl.DataFrame()
    itglue = {
        "organizations": [_org("1", "Contoso", "enabled"), _org("2", "Fabrikam", "enabled"),
                          _org("3", "Contoso Inc", None), _org("4", "Old Client", "orphaned")],
        "configurations": [
            _config("101", "1", "DC01", "enabled", "SN-DC01"), _config("102", "1", "DC01", None, "SN-DC01"),
            _config("103", "1", "WS-014", "enabled", "SN-WS14"), _config("104", "1", "WS-014", None, "SN-WS14"),
            _config("105", "2", "FW01", "enabled", "SN-FW"), _config("106", "2", "FW01", "enabled", "SN-FW"),
            _config("107", "2", "PRINTER", "orphaned"), _config("108", "2", "NAS01", "orphaned"),
            _config("109", "2", "LAPTOP-7", "enabled", "SN-L7"), _config("110", "2", "LAPTOP-7", "enabled", "SN-L7"),
            _config("111", "2", "SRV-OLD", None),
        ],
        "contacts": [_contact("201", "1", "Jane", "Doe", "enabled"), _contact("202", "1", "Jane", "Doe", None),
                     _contact("203", "2", "Bob", "Smith", "orphaned")],
    }
    related = {
        "101": {"passwords": [_password("9001", "DSRM", "Keep-DSRM-pw-101!", None)]},
        "102": {"passwords": [_password("9002", "DSRM", "Dup-DSRM-pw-102!", "JBSWY3DPEHPK3PXP")]},
        "104": {"passwords": [_password("9003", "Local admin", "Local-admin-pw-104!", "KRSXG5CTMVRXEZLU")]},
        "108": {"attachments": [_related("attachments", "9004", "nas-config.pdf")]},
    }
    return World(seed=0, scale=2, psa="autotask", itglue=itglue, itglue_rmm_records={}, connectwise={},
                 autotask={}, datto_rmm={}, ninjaone={}, truth=Truth(empty, empty, empty, empty, empty),
                 extra={"itglue_related": related})


# marts.duplicates rows: entity_type, cluster_id, source, source_id, role, cause, match_probability
DUPLICATES = [
    ("organization", "o1", "itglue", "1", "keep", "pre_sync_existing", 0.97),
    ("organization", "o1", "itglue", "3", "duplicate", "pre_sync_existing", 0.97),
    ("configuration", "c1", "itglue", "101", "keep", "pre_sync_existing", 0.99),
    ("configuration", "c1", "itglue", "102", "duplicate", "pre_sync_existing", 0.99),
    ("configuration", "c2", "itglue", "103", "keep", "csv_double_import", 0.95),
    ("configuration", "c2", "itglue", "104", "duplicate", "csv_double_import", 0.95),
    ("configuration", "c3", "itglue", "105", "keep", "unknown", 0.91),
    ("configuration", "c3", "itglue", "106", "duplicate", "unknown", 0.91),
    ("configuration", "c4", "itglue", "109", "keep", "source_duplicate", 0.98),
    ("configuration", "c4", "itglue", "110", "duplicate", "source_duplicate", 0.98),
    ("contact", "p1", "itglue", "201", "keep", "pre_sync_existing", 0.96),
    ("contact", "p1", "itglue", "202", "duplicate", "pre_sync_existing", 0.96),
]
ORPHANS = [("organization", "4", "psa_orphaned"), ("configuration", "107", "psa_orphaned"),
           ("configuration", "108", "psa_orphaned"), ("configuration", "111", "rmm_device_deleted"),
           ("contact", "203", "psa_orphaned")]

EXPECTED_ACTIONS = {
    ("organization", "3"): "merge_organizations", ("organization", "4"): "delete",
    ("configuration", "102"): "delete", ("configuration", "104"): "archive",
    ("configuration", "106"): "disable_sync_then_delete", ("configuration", "110"): "fix_in_psa",
    ("configuration", "107"): "delete", ("configuration", "108"): "archive", ("configuration", "111"): "delete",
    ("contact", "202"): "delete", ("contact", "203"): "delete",
}


def load_marts(con, world: World) -> None:
    """marts.duplicates, marts.orphans and the staging rows (match fields) for the world's IT Glue records."""
    con.execute("CREATE OR REPLACE TABLE marts.duplicates (entity_type VARCHAR, cluster_id VARCHAR, source VARCHAR, "
                "source_id VARCHAR, role VARCHAR, cause VARCHAR, match_probability DOUBLE)")
    con.executemany("INSERT INTO marts.duplicates VALUES (?, ?, ?, ?, ?, ?, ?)", DUPLICATES)
    con.execute("CREATE OR REPLACE TABLE marts.orphans (entity_type VARCHAR, source_id VARCHAR, reason VARCHAR)")
    con.executemany("INSERT INTO marts.orphans VALUES (?, ?, ?)", ORPHANS)
    con.execute("CREATE OR REPLACE TABLE staging.organizations (source VARCHAR, source_id VARCHAR, name VARCHAR, "
                "name_norm VARCHAR, city VARCHAR, resource_url VARCHAR)")
    for r in world.itglue["organizations"]:
        a = r["attributes"]
        con.execute("INSERT INTO staging.organizations VALUES ('itglue', ?, ?, ?, NULL, ?)",
                    [r["id"], a["name"], a["name"].lower().replace(" inc", ""), a["resource-url"]])
    con.execute("CREATE OR REPLACE TABLE staging.configurations (source VARCHAR, source_id VARCHAR, "
                "organization_source_id VARCHAR, name VARCHAR, name_norm VARCHAR, serial_norm VARCHAR, "
                "mac_norm VARCHAR, resource_url VARCHAR)")
    for r in world.itglue["configurations"]:
        a = r["attributes"]
        con.execute("INSERT INTO staging.configurations VALUES ('itglue', ?, ?, ?, ?, ?, NULL, ?)",
                    [r["id"], str(a["organization-id"]), a["name"], a["name"].lower(), a["serial-number"],
                     a["resource-url"]])
    con.execute("CREATE OR REPLACE TABLE staging.contacts (source VARCHAR, source_id VARCHAR, "
                "organization_source_id VARCHAR, first_name_norm VARCHAR, last_name_norm VARCHAR, "
                "email_norm VARCHAR, resource_url VARCHAR)")
    for r in world.itglue["contacts"]:
        a = r["attributes"]
        con.execute("INSERT INTO staging.contacts VALUES ('itglue', ?, ?, ?, ?, ?, ?)",
                    [r["id"], str(a["organization-id"]), a["first-name"].lower(), a["last-name"].lower(),
                     a["contact-emails"][0]["value"], a["resource-url"]])


# ---- fixtures and helpers the cleanup tests share ----------------------------------------------------------------

import asyncio  # noqa: E402

import dagster as dg  # noqa: E402
import pytest  # noqa: E402

from pipelines.assets.cleanup import apply_run_config  # noqa: E402
from pipelines.cleanup.guard import GuardRails  # noqa: E402
from pipelines.cleanup.itglue_api import client_from  # noqa: E402
from pipelines.cleanup.plan import propose  # noqa: E402
from pipelines.runner import run_job  # noqa: E402
from pipelines.sandbox.server import RunningSandbox, Sandbox  # noqa: E402
from pipelines.warehouse import Warehouse  # noqa: E402

LOOSE = GuardRails(max_share=1.0, max_actions=1000)


@pytest.fixture
def tenant():
    """The hand-made tenant served over HTTP; its write log is `tenant.sandbox.writes`."""
    with RunningSandbox(Sandbox(build_cleanup_world())) as running:
        yield running


@pytest.fixture
def store(tmp_path, tenant):
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    with warehouse.connect() as con:
        load_marts(con, tenant.sandbox.world)
    return warehouse


@pytest.fixture
def instance():
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


def itglue_config(tenant) -> dict[str, str]:
    return tenant.env(("itglue",))


def plan_batch(store: Warehouse, tenant, guard: GuardRails = LOOSE) -> str:
    async def run(con):
        async with client_from(itglue_config(tenant)) as api:
            return await propose(con, api, guard)

    with store.connect() as con:
        batch_id, _, _ = asyncio.run(run(con))
    return batch_id


def launch_apply(store: Warehouse, tenant, instance, batch_id: str, **options):
    """apply_cleanup as a real Dagster run, the way the sensor and `msp-recon apply` launch it."""
    return run_job("apply_cleanup", env=itglue_config(tenant), warehouse=str(store.path), instance=instance,
                   run_config=apply_run_config(batch_id, **options))


def writes(tenant) -> list[tuple[str, str, tuple]]:
    """(method, path, ids written) per accepted write, in order."""
    found = []
    for w in tenant.sandbox.writes:
        data = (w.body or {}).get("data")
        ids = tuple(str(d["attributes"]["id"]) for d in data) if isinstance(data, list) else ()
        found.append((w.method, w.path, ids))
    return found


def action_ids(store: Warehouse, batch_id: str) -> dict[tuple[str, str], str]:
    """(entity_type, source_id) -> action_id."""
    with store.connect() as con:
        return {(e, s): a for a, e, s in con.execute(
            "SELECT action_id, entity_type, source_id FROM cleanup.actions WHERE batch_id = ?", [batch_id]).fetchall()}


def outcomes(store: Warehouse, batch_id: str) -> dict[str, str]:
    from pipelines.cleanup.store import final_outcomes

    with store.connect() as con:
        return final_outcomes(con, batch_id)
