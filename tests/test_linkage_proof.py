"""Destructive only on proof: an orphan reason needs evidence that the partner is gone, a duplicate delete needs the
pair itself. The chain of issue 9: an RMM site not linked to its IT Glue organization left a live device's RMM-synced
documentation without a partner, and "no partner" became `rmm_device_deleted` and a delete."""

from datetime import UTC, datetime, timedelta

import duckdb
import polars as pl
import pytest

from pipelines.cleanup.itglue_api import Fetched
from pipelines.cleanup.plan import MartRows, plan
from pipelines.linkage.models import ModelStore
from pipelines.linkage.pipeline import LinkageOptions, link_staging
from pipelines.warehouse import sql_file
from tests.test_linkage_cases import T0, cfg, link, orgs, same_cluster

PRIORS = LinkageOptions(train="priors", charts=False)
NOW = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)


def vertex_orgs() -> pl.DataFrame:
    # the RMM site carries no PSA company id and shares nothing else with the IT Glue organization
    return orgs(("itglue", "11", "Vertex Stone Partners PLLC", "vertex stone partners", None, None, T0),
                ("datto_rmm", "s1", "Vertex Stone Partners - Main Office", "vertex stone partners main office",
                 None, None, T0),
                ("itglue", "12", "Fabrikam", "fabrikam", None, None, T0),
                ("datto_rmm", "s2", "Fabrikam", "fabrikam", None, None, T0))


def at(rows: list[dict], when: datetime) -> pl.DataFrame:
    return pl.DataFrame([{**r, "extracted_at": r.get("extracted_at", when)} for r in rows])


def orphan_reasons(configurations: pl.DataFrame, tmp_path, organizations=None) -> dict[str, tuple[str, str]]:
    result = link_staging({"organizations": organizations if organizations is not None else vertex_orgs(),
                           "configurations": configurations}, ModelStore(tmp_path / "models"), options=PRIORS)
    orphans = pl.from_arrow(result.tables["marts.orphans"]).filter(pl.col("source") == "itglue")
    return {r["source_id"]: (r["reason"], r["proof"]) for r in orphans.iter_rows(named=True)}


def test_no_partner_found_is_not_a_deleted_device(tmp_path):
    rows = [
        # alive in Datto under the id its IT Glue copy names, whatever linkage made of the two organizations
        cfg("itglue", "g1", "11", "vsp-ws01", "SN-A1", "AABBCCDDEE01", has_rmm=True, rmm="dev-1",
            rmm_source="datto_rmm"),
        cfg("datto_rmm", "dev-1", "s1", "vsp-ws01", "SN-A1", "AABBCCDDEE01", rmm="dev-1"),
        # RMM data without a device id: nothing to prove anything with
        cfg("itglue", "g2", "11", "vsp-ws02", "SN-A2", None, has_rmm=True, rmm_source="datto_rmm"),
        # its device id is in no complete Datto extraction: gone
        cfg("itglue", "g3", "11", "vsp-ws03", "SN-A3", None, has_rmm=True, rmm="dev-3", rmm_source="datto_rmm"),
        # the device sits in Datto's deleted devices
        cfg("itglue", "g4", "12", "fab-ws04", "SN-B4", None, has_rmm=True, rmm="dev-4", rmm_source="datto_rmm"),
        cfg("datto_rmm", "dev-4", None, "fab-ws04", "SN-B4", None, rmm="dev-4", deleted=True),
        # a NinjaOne device while only Datto was extracted: NinjaOne's silence proves nothing
        cfg("itglue", "g5", "12", "fab-ws05", "SN-B5", None, has_rmm=True, rmm="77", rmm_source="ninjaone"),
        cfg("datto_rmm", "dev-9", "s2", "fab-ws09", "SN-B9", None, rmm="dev-9"),
    ]
    reasons = orphan_reasons(at(rows, NOW), tmp_path)
    assert "g1" not in reasons or reasons["g1"][0] == "unlinked"
    assert reasons["g2"][0] == "unlinked" and "device id is unknown" in reasons["g2"][1]
    assert reasons["g3"] == ("rmm_device_deleted",
                             "its RMM device dev-3 is absent from this run's complete datto_rmm extraction")
    assert reasons["g4"][0] == "rmm_device_deleted" and "deleted devices" in reasons["g4"][1]
    assert reasons["g5"][0] == "unlinked"


def test_a_stale_rmm_extraction_proves_nothing(tmp_path):
    # Datto failed this week: its tables are last week's, so a device added since is missing from them
    glue = [cfg("itglue", "g3", "11", "vsp-ws03", "SN-A3", None, has_rmm=True, rmm="dev-3", rmm_source="datto_rmm")]
    datto = [cfg("datto_rmm", "dev-9", "s2", "fab-ws09", "SN-B9", None, rmm="dev-9")]
    frame = pl.concat([at(glue, NOW), at(datto, NOW - timedelta(days=7))], how="diagonal_relaxed")
    reasons = orphan_reasons(frame, tmp_path)
    assert reasons["g3"][0] == "unlinked" and "no complete extraction" in reasons["g3"][1]


def marts_for(duplicates: list[dict], orphans: list[dict]) -> MartRows:
    return MartRows(duplicates=duplicates, orphans=orphans, staged={}, record_counts={"configuration": 10},
                    marts_present=True)


def fetched(entity: str, sid: str, integration: str | None = None) -> Fetched:
    return Fetched(entity, sid, 200, {"data": {"id": sid, "attributes": {
        "name": f"cfg {sid}", "psa-integration": integration, "updated-at": "2026-11-29T10:00:00.000Z",
        "resource-url": f"https://x.itglue.com/1/configurations/{sid}"}}})


def test_plan_acts_on_proof_only():
    duplicates = [
        {"entity_type": "configuration", "cluster_id": "k1", "source": "itglue", "source_id": "1", "role": "keep",
         "cause": "pre_sync_existing", "match_probability": 0.99, "keep_pair_probability": 1.0},
        # in the cluster through a PSA record, but its own pair with the survivor was weak
        {"entity_type": "configuration", "cluster_id": "k1", "source": "itglue", "source_id": "2",
         "role": "duplicate", "cause": "pre_sync_existing", "match_probability": 0.99,
         "keep_pair_probability": 0.4},
        {"entity_type": "configuration", "cluster_id": "k1", "source": "itglue", "source_id": "3",
         "role": "duplicate", "cause": "pre_sync_existing", "match_probability": 0.99,
         "keep_pair_probability": 0.97},
        # never scored against the survivor at all
        {"entity_type": "configuration", "cluster_id": "k1", "source": "itglue", "source_id": "4",
         "role": "duplicate", "cause": "pre_sync_existing", "match_probability": 0.95,
         "keep_pair_probability": None},
    ]
    orphans = [{"entity_type": "configuration", "source_id": "8", "reason": "unlinked",
                "proof": "no partner found; nothing shows it is gone (no live RMM device linked)"},
               {"entity_type": "configuration", "source_id": "9", "reason": "rmm_device_deleted",
                "proof": "its RMM device dev-9 is in the RMM's deleted devices"}]
    marts = marts_for(duplicates, orphans)
    assert ("configuration", "8") not in marts.itglue_keys()  # not even fetched
    records = {("configuration", s): fetched("configuration", s, "enabled" if s == "1" else None)
               for s in ("1", "2", "3", "4", "9")}
    proposals, notes = plan(marts, records)
    actions = {p.source_id: p.action for p in proposals}
    assert actions == {"3": "delete", "9": "delete"}
    assert "deleted devices" in next(p for p in proposals if p.source_id == "9").reason
    assert any("itglue:2 (cluster k1)" in n and "0.400" in n for n in notes)
    assert any("itglue:4 (cluster k1)" in n and "unscored" in n for n in notes)
    assert any(n.startswith("configuration 8: unlinked") for n in notes)



def test_a_psa_contact_with_a_phone_of_its_own_is_not_proposed_as_the_psas_duplicate():
    # Kelly Gonzales and Kelly Gonzalez answer one mailbox at one client, each with a phone of her own. However
    # sure linkage was of the pair, the PSA holding one person twice would not disagree with itself on the phone.
    duplicates = [
        {"entity_type": "contact", "cluster_id": "p1", "source": "connectwise", "source_id": "503932",
         "role": "keep", "cause": "source_duplicate", "match_probability": 0.97, "keep_pair_probability": 1.0},
        {"entity_type": "contact", "cluster_id": "p1", "source": "connectwise", "source_id": "504706",
         "role": "duplicate", "cause": "source_duplicate", "match_probability": 0.97, "keep_pair_probability": 0.97},
        {"entity_type": "contact", "cluster_id": "p2", "source": "connectwise", "source_id": "600001",
         "role": "keep", "cause": "source_duplicate", "match_probability": 0.99, "keep_pair_probability": 1.0},
        {"entity_type": "contact", "cluster_id": "p2", "source": "connectwise", "source_id": "600002",
         "role": "duplicate", "cause": "source_duplicate", "match_probability": 0.99, "keep_pair_probability": 0.99},
    ]
    marts = MartRows(duplicates=duplicates, orphans=[], staged={}, record_counts={"contact": 10}, marts_present=True,
                     pair_levels={
                         frozenset({"connectwise:503932", "connectwise:504706"}):
                             {"first_name_norm": 3, "last_name_norm": 2, "email_norm": 2, "phone_digits": 0},
                         # entered twice: the same phone, or none on one of them
                         frozenset({"connectwise:600001", "connectwise:600002"}):
                             {"first_name_norm": 3, "last_name_norm": 3, "email_norm": 2, "phone_digits": -1}})
    proposals, notes = plan(marts, {})
    assert [(p.source_id, p.action) for p in proposals] == [("600002", "fix_in_psa")]
    assert any("connectwise:504706" in n and "phone_digits" in n and "another person" in n for n in notes)


def norm_name(name: str) -> str:
    con = duckdb.connect()
    con.execute(sql_file("staging/macros.sql"))
    return con.execute("SELECT norm_name(?)", [name]).fetchall()[0][0]


def one_client_world(glue_name: str, site_name: str, *, site_devices: str = "same"):
    """An IT Glue organization synced from Autotask, and an RMM site of the same client named otherwise, with no
    PSA company id on the site; four devices, documented in IT Glue from the RMM (device id known) and in Autotask
    without MAC or serial. A second client, Fabrikam, has a DC01 as well. `site_devices`: "same" (the site holds the
    client's devices) or "other" (another client's devices: the names alike, nothing shared)."""
    organizations = pl.DataFrame([
        {"source": src, "source_id": sid, "name": name, "name_norm": norm_name(name), "psa_integration": integ,
         "created_at": T0}
        for src, sid, name, integ in (("itglue", "11", glue_name, "enabled"), ("autotask", "1", glue_name, None),
                                      ("datto_rmm", "s1", site_name, None), ("itglue", "12", "Fabrikam", "enabled"),
                                      ("autotask", "2", "Fabrikam", None), ("datto_rmm", "s2", "Fabrikam", None))])
    rows = []
    for k, host in enumerate(("dc01", "vsp-fs01", "vsp-ws01", "vsp-ws02")):
        mac, serial = f"AABBCCDD00{k:02d}", f"SN-V{k}"
        if site_devices == "other":
            mac, serial = f"11223344AA{k:02d}", f"SN-X{k}"
        rows += [cfg("itglue", f"g{k}", "11", host, f"SN-V{k}", f"AABBCCDD00{k:02d}", has_rmm=True, rmm=f"dev-{k}",
                     rmm_source="datto_rmm"),
                 cfg("datto_rmm", f"dev-{k}" if site_devices == "same" else f"dev-x{k}", "s1", host, serial, mac,
                     rmm=f"dev-{k}" if site_devices == "same" else f"dev-x{k}")]
    rows += [cfg("itglue", "f0", "12", "dc01", "SN-F0", "FFEEDDCC0000", psa="enabled"),
             cfg("autotask", "a-f0", "2", "dc01", "SN-F0", "FFEEDDCC0000"),
             cfg("datto_rmm", "dev-f0", "s2", "dc01", "SN-F0", "FFEEDDCC0000", rmm="dev-f0")]
    return {"organizations": organizations, "configurations": at(rows, NOW)}


def linked(tables, entity: str, a: tuple, b: tuple) -> bool:
    return same_cluster(tables["marts.entity_clusters"], entity, a, b)


@pytest.mark.parametrize("glue_name, site_name", [
    ("Vertex Stone Partners PLLC", "Vertex Stone Partners - Main Office"),
    ("First Leaf Trucking", "First Leaf Trcuking"),
    ("Northwind Traders", "Blue Harbor Logistics"),  # renamed client: the RMM kept the old name
])
def test_devices_that_are_one_pull_their_organizations_together(tmp_path, glue_name, site_name):
    tables, _ = link(one_client_world(glue_name, site_name), tmp_path)
    assert linked(tables, "organization", ("itglue", "11"), ("datto_rmm", "s1"))
    assert not linked(tables, "organization", ("itglue", "11"), ("itglue", "12"))
    for k in range(4):  # MAC and hostname agree: one device, linked across the two organizations
        assert linked(tables, "configuration", ("itglue", f"g{k}"), ("datto_rmm", f"dev-{k}"))
    # DC01 at two clients stays two devices: the hostname alone never crosses
    assert not linked(tables, "configuration", ("itglue", "g0"), ("itglue", "f0"))
    assert not linked(tables, "configuration", ("datto_rmm", "dev-0"), ("datto_rmm", "dev-f0"))
    assert tables["marts.orphans"].filter(pl.col("reason") == "rmm_device_deleted").height == 0


def test_devices_agree_across_unlinked_organizations_but_hostnames_alone_do_not(tmp_path):
    """Two organizations named alike that share no device stay apart, and the hostnames their devices share make
    no device one."""
    tables, _ = link(one_client_world("Acme Dental - North", "Acme Dental - South", site_devices="other"), tmp_path)
    assert not linked(tables, "organization", ("itglue", "11"), ("datto_rmm", "s1"))
    for k in range(4):
        assert not linked(tables, "configuration", ("itglue", f"g{k}"), ("datto_rmm", f"dev-x{k}"))
    orphans = dict(tables["marts.orphans"].select("source_id", "reason").iter_rows())
    # their RMM ids are absent from a complete Datto extraction: gone, with proof (here: the test says so)
    assert orphans["g1"] == "rmm_device_deleted"


def causes_of(rows: list[dict], tmp_path) -> dict[str, str]:
    tables, _ = link({"organizations": orgs(("itglue", "11", "Contoso", "contoso", "enabled", None, T0),
                                            ("autotask", "1", "Contoso", "contoso", None, None, T0)),
                      "configurations": pl.DataFrame(rows)}, tmp_path)
    dups = tables["marts.duplicates"].filter(pl.col("source") == "itglue")
    return dict(dups.select("source_id", "cause").iter_rows())


@pytest.mark.parametrize("offset_days", [0, 3, 400])
def test_causes_read_signatures_not_planted_times(tmp_path, offset_days):
    """The same stories at other times of day and year keep their causes; a story that fits no signature (a manual
    copy made after the synced one, or one without a creation time) is `unknown`, not a guess."""
    t = T0 + timedelta(days=offset_days, minutes=37)
    rows = [cfg("autotask", "a1", "1", "ws-101", "SN-101", "AABBCCDDEE01"),
            cfg("itglue", "s1", "11", "ws-101", "SN-101", "AABBCCDDEE01", psa="enabled", created_at=t),
            cfg("itglue", "m1", "11", "ws-101", "SN-101", "AABBCCDDEE01", created_at=t - timedelta(days=90)),
            cfg("autotask", "a2", "1", "ws-102", "SN-102", "AABBCCDDEE02"),
            cfg("itglue", "s2", "11", "ws-102", "SN-102", "AABBCCDDEE02", psa="enabled", created_at=t),
            cfg("itglue", "m2", "11", "ws-102", "SN-102", "AABBCCDDEE02", created_at=t + timedelta(days=20)),
            cfg("autotask", "a3", "1", "ws-103", "SN-103", "AABBCCDDEE03"),
            cfg("itglue", "s3", "11", "ws-103", "SN-103", "AABBCCDDEE03", psa="enabled", created_at=t),
            cfg("itglue", "m3", "11", "ws-103", "SN-103", "AABBCCDDEE03", created_at=None)]
    causes = causes_of(rows, tmp_path)
    assert causes["m1"] == causes["s1"] == "pre_sync_existing"
    assert causes["m2"] == "unknown" and causes["m3"] == "unknown"


def test_the_rmm_device_id_is_read_from_the_rmm_record():
    from pipelines.sources.itglue import rmm_device_id  # noqa: PLC0415

    assert rmm_device_id({"device-id": "9f1c2e7a-1111-4a4a-9b9b-0123456789ab"}) == "9f1c2e7a-1111-4a4a-9b9b-0123456789ab"
    assert rmm_device_id({"device-id": 4711}) == "4711"
    assert rmm_device_id({"external-url": "https://merlot.centrastage.net/device/9f1c2e7a-1111/summary"}) is None
    assert rmm_device_id({"external-url": "https://merlot.centrastage.net/csm/device/9f1c2e7a-1111"}) == "9f1c2e7a-1111"
    assert rmm_device_id({"url": "https://app.ninjarmm.com/#/deviceDashboard/devices/104?tab=1"}) == "104"
    assert rmm_device_id({"name": "WS-01", "hostname": "WS-01"}) is None  # no id: proves nothing later


def test_an_itglue_copy_is_linked_to_the_ninjaone_device_its_rmm_record_names(tmp_path):
    # NinjaOne's rmm-record names the device by its numeric id, the id NinjaOne's own record has (not its uid)
    rows = [cfg("itglue", "g1", "11", "front-desk", None, None, has_rmm=True, rmm="104", rmm_source="ninjaone"),
            cfg("ninjaone", "104", "n1", "DESKTOP-7QK2", None, None, rmm="5f0c-uid"),
            cfg("ninjaone", "105", "n1", "front-desk-2", None, None, rmm="6a1d-uid")]
    organizations = orgs(("itglue", "11", "Contoso", "contoso", None, None, T0),
                         ("ninjaone", "n1", "Fabrikam", "fabrikam", None, None, T0))
    tables, _ = link({"organizations": organizations, "configurations": at(rows, NOW)}, tmp_path)
    assert linked(tables, "configuration", ("itglue", "g1"), ("ninjaone", "104"))
    assert not linked(tables, "configuration", ("itglue", "g1"), ("ninjaone", "105"))
    assert tables["marts.orphans"].filter(pl.col("source_id") == "g1").height == 0
