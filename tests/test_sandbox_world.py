"""The sandbox world: deterministic, realistic wire shapes, and ground truth that says what was planted."""

import calendar
import json
import re
import time

import polars as pl
import pytest

from pipelines.sandbox.generator import expected_counts, generate
from pipelines.sandbox.tenant import CAUSES, ORPHAN_REASONS, PSA_SYNC_START, RMM_SWITCH

SOURCES = {"itglue", "connectwise", "autotask", "datto_rmm", "ninjaone"}
NEGATIVE_CASES = {"reused_hostname", "vm_clone_serial", "placeholder_serial", "shared_vpn_mac", "franchise_branch",
                  "namesake"}
POSITIVE_CASES = {"reimaged_laptop", "fqdn_vs_short", "mac_format", "site_name_variant"}
PLACEHOLDERS = {"To be filled by O.E.M.", "Default string", "System Serial Number", "0", "None", "N/A"}


@pytest.fixture(scope="module")
def world():
    return generate(seed=7, scale=60)


def _epoch(iso: str) -> float:
    return calendar.timegm(time.strptime(iso[:19], "%Y-%m-%dT%H:%M:%S"))


def _by_id(records: list[dict]) -> dict[str, dict]:
    return {str(r["id"]): r for r in records}


def test_same_seed_same_world_and_other_seed_other_world(world):
    again = generate(seed=7, scale=60)
    for name in ("itglue", "itglue_rmm_records", "connectwise", "autotask", "datto_rmm", "ninjaone"):
        assert json.dumps(getattr(again, name), sort_keys=True) == json.dumps(getattr(world, name), sort_keys=True)
    for name in ("entities", "duplicates", "orphans", "hard_negatives", "hard_positives"):
        assert getattr(again.truth, name).equals(getattr(world.truth, name))
    other = generate(seed=8, scale=60)
    assert other.itglue["organizations"] != world.itglue["organizations"]
    assert other.datto_rmm["devices"] != world.datto_rmm["devices"]


def test_psa_choice_changes_only_the_psa_flag(world):
    cw = generate(seed=7, scale=60, psa="connectwise")
    assert cw.psa == "connectwise" and world.psa == "autotask"
    assert cw.itglue == world.itglue and cw.autotask == world.autotask
    with pytest.raises(ValueError, match="psa must be one of"):
        generate(seed=7, scale=5, psa="halopsa")


def test_every_cause_orphan_reason_and_hard_case_is_planted(world):
    t = world.truth
    for etype in ("organization", "configuration", "contact"):
        causes = set(t.duplicates.filter(pl.col("entity_type") == etype)["cause"])
        expected = set(CAUSES) - ({"sync_method_change"} if etype == "contact" else set())
        assert causes == expected, etype
    assert set(t.orphans["reason"]) == set(ORPHAN_REASONS)
    assert set(t.orphans.filter(pl.col("entity_type") == "organization")["reason"]) == {
        "psa_orphaned", "psa_record_deleted"}
    assert set(t.hard_negatives["case"]) == NEGATIVE_CASES
    assert POSITIVE_CASES <= set(t.hard_positives["case"])
    assert set(t.entities["source"]) == SOURCES


def test_planted_duplicate_clusters_have_two_or_more_itglue_records(world):
    entities = world.truth.entities.filter(pl.col("source") == "itglue")
    dups = world.truth.duplicates.filter(pl.col("source") == "itglue")
    clusters = dups.group_by("entity_type", "entity_id").agg(pl.len().alias("n"), pl.col("cause").n_unique().alias("k"))
    assert clusters["n"].min() >= 2 and clusters["k"].max() == 1
    # All of the entity's IT Glue records are in the cluster, and they are records of that entity type.
    totals = entities.group_by("entity_type", "entity_id").len()
    joined = clusters.join(totals, on=["entity_type", "entity_id"])
    assert (joined["n"] == joined["len"]).all()
    ids = {etype: {r["id"] for r in world.itglue[res]} for etype, res in
           (("organization", "organizations"), ("configuration", "configurations"), ("contact", "contacts"))}
    for row in dups.iter_rows(named=True):
        assert row["source_id"] in ids[row["entity_type"]]


def test_duplicate_signatures_match_the_article(world):
    configs = _by_id(world.itglue["configurations"])
    dups = world.truth.duplicates.filter((pl.col("source") == "itglue") & (pl.col("entity_type") == "configuration"))
    for (cause, _), group in dups.group_by("cause", "entity_id"):
        attrs = [configs[i]["attributes"] for i in group["source_id"]]
        integrations = sorted(a["psa-integration"] or "-" for a in attrs)
        with_rmm = [i for i in group["source_id"] if i in world.itglue_rmm_records]
        created = sorted((_epoch(a["created-at"]), a["psa-integration"]) for a in attrs)
        if cause == "pre_sync_existing":
            assert integrations == ["-", "enabled"]
            assert created[0][1] is None and created[0][0] < PSA_SYNC_START <= created[1][0]
        elif cause == "csv_double_import":
            assert integrations == ["-", "-"]
            assert attrs[0]["name"] == attrs[1]["name"] and attrs[0]["serial-number"] == attrs[1]["serial-number"]
            assert abs(created[1][0] - created[0][0]) > 86400
        elif cause == "sync_method_change":
            assert integrations == ["-", "enabled"]
            direct = [configs[i]["attributes"] for i in with_rmm]
            assert len(direct) == 1 and direct[0]["psa-integration"] is None
            assert created[0][1] is None and created[0][0] < RMM_SWITCH <= created[1][0]
        elif cause == "source_duplicate":
            assert integrations == ["enabled", "enabled"]


def test_csv_imports_come_in_bursts(world):
    configs = _by_id(world.itglue["configurations"])
    dups = world.truth.duplicates.filter((pl.col("cause") == "csv_double_import") &
                                         (pl.col("entity_type") == "configuration"))
    by_org: dict[int, list[float]] = {}
    for i in dups["source_id"]:
        a = configs[i]["attributes"]
        by_org.setdefault(a["organization-id"], []).append(_epoch(a["created-at"]))
    # Within one organization's copies, each import is a burst of records seconds apart.
    # Each copy was made in an import burst: other records of its organization were created within minutes.
    created = {}
    for res in ("configurations", "contacts"):
        for r in world.itglue[res]:
            a = r["attributes"]
            created.setdefault(a["organization-id"], []).append(_epoch(a["created-at"]))
    for org_id, stamps in by_org.items():
        for ts in stamps:
            assert sum(abs(t - ts) <= 600 for t in created[org_id]) >= 2, org_id


def test_duplicate_organizations_show_through_their_content(world):
    dups = world.truth.duplicates.filter(pl.col("source") == "itglue")
    cause_of = {(r["entity_type"], r["source_id"]): r["cause"] for r in dups.iter_rows(named=True)}
    held: dict[str, list[tuple[str, str]]] = {}
    for etype, res in (("configuration", "configurations"), ("contact", "contacts")):
        for r in world.itglue[res]:
            held.setdefault(str(r["attributes"]["organization-id"]), []).append((etype, r["id"]))
    clusters = dups.filter(pl.col("entity_type") == "organization").group_by("entity_id").agg("source_id", "cause")
    for ids, causes in zip(clusters["source_id"], clusters["cause"], strict=True):
        # The client's main organization holds most of its things; each duplicate holds copies of some of them,
        # duplicated for the same reason as the organization.
        main = max(ids, key=lambda i: len(held.get(i, [])))
        for org_id in ids:
            if org_id != main:
                assert held.get(org_id), org_id
                assert {cause_of.get(key) for key in held[org_id]} == {causes[0]}, org_id


def test_psa_synced_itglue_orgs_carry_the_psa_name_exactly(world):
    names = {c["companyName"] for c in world.autotask["companies"]}
    cw_names = {c["name"] for c in world.connectwise["companies"]}
    synced = [o["attributes"] for o in world.itglue["organizations"] if o["attributes"]["psa-integration"]]
    assert synced
    for a in synced:
        if a["psa-integration"] == "enabled":
            assert a["name"] in cw_names
    # Enabled organizations whose company is still in the PSA carry its name; the rest are psa_record_deleted.
    enabled = {o["id"]: o["attributes"]["name"] for o in world.itglue["organizations"]
               if o["attributes"]["psa-integration"] == "enabled"}
    record_deleted = set(world.truth.orphans.filter(pl.col("reason") == "psa_record_deleted")["source_id"])
    assert all(name in names for org_id, name in enabled.items() if org_id not in record_deleted)
    assert all(enabled[org_id] not in names for org_id in record_deleted if org_id in enabled)
    owner = [o for o in world.itglue["organizations"] if o["attributes"]["organization-type-name"] == "Owner"]
    assert len(owner) == 1 and owner[0]["attributes"]["psa-integration"] is None


def test_timestamps_tell_one_story(world):
    now = _epoch(world.extra["now"])
    org_created = {int(o["id"]): _epoch(o["attributes"]["created-at"]) for o in world.itglue["organizations"]}
    for res in ("organizations", "configurations", "contacts"):
        for r in world.itglue[res]:
            a = r["attributes"]
            created, updated = _epoch(a["created-at"]), _epoch(a["updated-at"])
            assert created <= updated <= now
            if res != "organizations":
                assert created >= org_created[a["organization-id"]]
    ids = [int(r["id"]) for r in world.itglue["configurations"]]
    stamps = [r["attributes"]["created-at"] for r in world.itglue["configurations"]]
    assert ids == sorted(ids) and stamps == sorted(stamps)  # ids are handed out in creation order


def test_orphans_are_what_their_reason_says(world):
    t = world.truth
    configs = _by_id(world.itglue["configurations"])
    live_datto = {d["uid"] for d in world.datto_rmm["devices"] if not d["deleted"]}
    for row in t.orphans.iter_rows(named=True):
        if row["entity_type"] != "configuration":
            continue
        a = configs[row["source_id"]]["attributes"]
        if row["reason"] == "psa_orphaned":
            assert a["psa-integration"] == "orphaned"
        elif row["reason"] == "psa_record_deleted":
            assert a["psa-integration"] == "enabled"
        else:
            assert a["psa-integration"] is None
            (rmm,) = world.itglue_rmm_records[row["source_id"]]
            assert rmm["attributes"]["rmm-integration-type"] == "aem"
            assert rmm["attributes"]["device-id"] not in live_datto
    # A PSA orphan's PSA record is gone from both PSA shapes.
    orphan_entities = t.orphans.join(t.entities.filter(pl.col("source") == "itglue"), on=["entity_type", "source_id"])
    psa_ids = t.entities.filter(pl.col("source") == "autotask")["entity_id"].to_list()
    assert not set(orphan_entities.filter(pl.col("reason") != "rmm_device_deleted")["entity_id"]) & set(psa_ids)
    # Deleted PSA companies: listed by ConnectWise with deletedFlag, absent from Autotask.
    deleted = [c for c in world.connectwise["companies"] if c["deletedFlag"]]
    assert len(deleted) == t.orphans.filter(pl.col("entity_type") == "organization").height
    assert not {c["id"] for c in deleted} & {c["id"] for c in world.autotask["companies"]}


def test_wire_shapes_follow_the_vendors(world):
    org = world.itglue["organizations"][0]
    assert isinstance(org["id"], str) and org["type"] == "organizations"
    cfg = world.itglue["configurations"][0]["attributes"]
    assert isinstance(cfg["organization-id"], int) and "serial-number" in cfg and "asset-tag" in cfg
    assert re.fullmatch(r"https://sandbox\.itglue\.com/\d+/configurations/\d+", cfg["resource-url"])
    assert all(len(c["attributes"]["mac-address"] or "") <= 17 for c in world.itglue["configurations"])
    macs = [c["attributes"]["mac-address"] for c in world.itglue["configurations"] if c["attributes"]["mac-address"]]
    assert any("-" in m for m in macs) and any(":" in m for m in macs) and any(re.fullmatch(r"[0-9a-f]{12}", m)
                                                                               for m in macs)
    contact = world.itglue["contacts"][0]["attributes"]
    assert {"value", "primary", "label-name"} <= set(contact["contact-emails"][0])
    for device in world.datto_rmm["devices"]:
        assert "serialNumber" not in device and "macAddress" not in device and device["lastAuditDate"]
        audit = world.datto_rmm["audits"][device["uid"]]
        assert "serialNumber" in audit["bios"] and audit["nics"]
    assert "Deleted Devices" in {s["name"] for s in world.datto_rmm["sites"]}
    assert all(d["deleted"] == (d["siteName"] == "Deleted Devices") for d in world.datto_rmm["devices"])
    assert any(s["autotaskCompanyId"] is None for s in world.datto_rmm["sites"][:-1])
    assert all(isinstance(s["autotaskCompanyId"], str) for s in world.datto_rmm["sites"] if s["autotaskCompanyId"])
    assert all(isinstance(d["lastContact"], float) and "." in d["dnsName"] for d in world.ninjaone["devices"])
    cis = world.autotask["configuration_items"]
    linked = [c for c in cis if c["rmmDeviceUID"]]
    assert linked and {c["rmmDeviceUID"] for c in linked} <= set(world.datto_rmm["audits"])
    assert [c["id"] for c in cis] == [c["id"] for c in world.connectwise["configurations"]]
    assert any(not c["isActive"] for c in cis) and any(not c["activeFlag"] for c in world.connectwise["configurations"])


def test_hard_cases_are_in_the_data(world):
    configs = _by_id(world.itglue["configurations"])
    serials = [c["attributes"]["serial-number"] for c in configs.values()]
    assert PLACEHOLDERS & set(serials)
    vmware = [s for s in serials if s and s.startswith("VMware-42 ")]
    assert len(vmware) > len(set(vmware))
    hosts = [c["attributes"]["hostname"] for c in configs.values() if c["attributes"]["hostname"]]
    assert any(h.endswith((".local", ".lan")) or h.count(".") >= 2 for h in hosts)
    orgs = [o["attributes"]["name"] for o in world.itglue["organizations"]]
    assert any(n.startswith("Acme Dental - ") for n in orgs)
    t = world.truth
    for row in t.hard_negatives.filter(pl.col("case") == "reused_hostname").iter_rows(named=True):
        a, b = configs[row["source_id_a"]]["attributes"], configs[row["source_id_b"]]["attributes"]
        assert a["name"] == b["name"] and a["organization-id"] != b["organization-id"]
    ents = t.entities.select("source", "source_id", "entity_id")
    pairs = t.hard_negatives.join(ents, left_on=["source_a", "source_id_a"], right_on=["source", "source_id"]) \
        .join(ents, left_on=["source_b", "source_id_b"], right_on=["source", "source_id"], suffix="_b")
    assert pairs.height == t.hard_negatives.height and (pairs["entity_id"] != pairs["entity_id_b"]).all()
    pos = t.hard_positives.join(ents, left_on=["source_a", "source_id_a"], right_on=["source", "source_id"]) \
        .join(ents, left_on=["source_b", "source_id_b"], right_on=["source", "source_id"], suffix="_b")
    assert pos.height == t.hard_positives.height and (pos["entity_id"] == pos["entity_id_b"]).all()
    reimaged = t.hard_positives.filter(pl.col("case") == "reimaged_laptop").row(0, named=True)
    devices = {d["uid"]: d for d in world.datto_rmm["devices"]} | {str(d["id"]): d for d in world.ninjaone["devices"]}
    rmm = devices[reimaged["source_id_b"]]
    assert configs[reimaged["source_id_a"]]["attributes"]["hostname"].split(".")[0].upper() != \
        (rmm.get("hostname") or rmm.get("systemName"))


def test_expected_counts_are_the_list_lengths(world):
    counts = expected_counts(world)
    assert counts == world.expected_counts()
    assert counts["itglue_configurations"] == len(world.itglue["configurations"])
    assert counts["connectwise_companies"] == sum(not c["deletedFlag"] for c in world.connectwise["companies"]) > 0
    assert counts["autotask_companies"] == counts["connectwise_companies"]
    assert counts["datto_rmm_device_audits"] == counts["datto_rmm_devices"]
    assert counts["ninjaone_computer_systems"] == counts["ninjaone_devices"]
    # The truth has one entity row per extracted record.
    by_source = world.truth.entities.group_by("source", "entity_type").len()
    lookup = {(r["source"], r["entity_type"]): r["len"] for r in by_source.iter_rows(named=True)}
    lookup.setdefault(("ninjaone", "configuration"), 0)
    assert lookup[("itglue", "configuration")] == counts["itglue_configurations"]
    assert lookup[("connectwise", "organization")] == counts["connectwise_companies"]
    assert lookup[("datto_rmm", "configuration")] == counts["datto_rmm_devices"]
    assert lookup[("datto_rmm", "organization")] == counts["datto_rmm_sites"]
    assert lookup[("ninjaone", "configuration")] == counts["ninjaone_devices"]


def test_scale_knob_is_roughly_linear():
    small, larger = generate(seed=3, scale=100), generate(seed=3, scale=300)
    ratio = len(larger.itglue["configurations"]) / len(small.itglue["configurations"])
    assert 2.4 < ratio < 3.6
    per_client = len(larger.itglue["configurations"]) / 300
    assert 16 <= per_client <= 24


@pytest.mark.slow
def test_scale_2500_gives_about_50k_configurations():
    world = generate(seed=7, scale=2500)
    assert 40_000 <= len(world.itglue["configurations"]) <= 60_000
    assert len(world.itglue["organizations"]) >= 2500
