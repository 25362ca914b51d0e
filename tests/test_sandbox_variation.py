"""The difficulty knob: a hard tenant varies as real tenants do, and its ground truth stays exact."""

import json
import re

import polars as pl
import pytest

from pipelines.sandbox.generator import generate
from pipelines.sandbox.quality import destructive_on_live, link_scores
from pipelines.sandbox.tenant import CAUSES, ORPHAN_REASONS
from pipelines.sandbox.variation import JUNK_SERIALS, abbreviated, spelled_otherwise, suffix_variant, typo
from pipelines.sandbox.world import PRESETS, build_world

RESOURCES = (("organization", "organizations"), ("configuration", "configurations"), ("contact", "contacts"))


@pytest.fixture(scope="module")
def hard():
    return generate(seed=101, scale=150, difficulty="hard", rmm="datto_rmm")


def _dump(world) -> str:
    return json.dumps([getattr(world, n) for n in ("itglue", "itglue_rmm_records", "connectwise", "autotask",
                                                   "datto_rmm", "ninjaone")], sort_keys=True)


def test_standard_is_the_default_and_difficulty_zero():
    tidy = generate(seed=5, scale=20)
    assert _dump(generate(seed=5, scale=20, difficulty=0.0)) == _dump(tidy)
    assert _dump(generate(seed=5, scale=20, difficulty="hard")) != _dump(tidy)
    with pytest.raises(ValueError, match="difficulty must be"):
        generate(seed=5, scale=5, difficulty="brutal")
    with pytest.raises(ValueError, match="difficulty must be"):
        generate(seed=5, scale=5, difficulty=1.5)
    with pytest.raises(ValueError, match="rmm must be one of"):
        generate(seed=5, scale=5, rmm="kaseya")


def test_hard_world_is_deterministic_and_rates_vary_per_tenant(hard):
    again = generate(seed=101, scale=150, difficulty="hard", rmm="datto_rmm")
    assert _dump(again) == _dump(hard)
    assert again.truth.duplicates.equals(hard.truth.duplicates)
    other = generate(seed=102, scale=150, difficulty="hard", rmm="datto_rmm")
    mine, theirs = hard.extra["rates"]["this_tenant"], other.extra["rates"]["this_tenant"]
    assert mine.keys() & theirs.keys() and all(0 <= r <= 0.95 for r in mine.values())
    assert sum(mine[k] != theirs[k] for k in mine.keys() & theirs.keys()) > len(mine) / 2


def test_spelling_variations():
    import random

    rng = random.Random(1)
    slips = {typo(rng, "First Leaf Trucking") for _ in range(40)}
    assert "First Leaf Trucking" not in slips and "First Leaf Trcuking" in slips
    assert all(s.split()[0][0] == "F" and abs(len(s) - 19) <= 1 for s in slips)
    assert abbreviated(rng, "Atlas Freight International") in ("Atlas Freight Intl", "Atlas Freight Int'l")
    assert abbreviated(rng, "The Harbor Group") in ("Harbor Group", "The Harbor")
    assert abbreviated(rng, "Smith & Sons Roofing") == "Smith and Sons Roofing"
    assert abbreviated(rng, "Contoso") is None
    variants = {suffix_variant(rng, "Vertex Stone Partners PLLC", "Vertex Stone Partners") for _ in range(40)}
    assert {"Vertex Stone Partners", "Vertex Stone Partners P.L.L.C."} <= variants
    assert all(spelled_otherwise(rng, "Contoso, Inc.", "Contoso") != "Contoso, Inc." for _ in range(40))


def test_hard_tenant_varies_where_real_tenants_do(hard):
    sites = [s["name"] for s in hard.datto_rmm["sites"][:-1]]
    assert any(re.search(r" - (Main Office|HQ|Main|Office|Headquarters)$| HQ$|\(Main\)$", n) for n in sites)
    cities = {c for c in ("Tampa", "Orlando", "Austin", "Dallas", "Denver", "Phoenix", "Seattle", "Portland",
                          "Atlanta", "Chicago", "Boston", "Albany")}
    assert any(n.rsplit(" - ", 1)[-1] in cities for n in sites)
    orgs = [o["attributes"]["name"] for o in hard.itglue["organizations"]]
    assert any("PLLC" in n or "P.C." in n or "L.L.C." in n for n in orgs)
    # IT Glue organizations created by the RMM carry the site's name exactly, and they are planted duplicates.
    site_names = set(sites)
    dups = hard.truth.duplicates.filter((pl.col("entity_type") == "organization") &
                                        (pl.col("cause") == "sync_method_change"))
    by_id = {o["id"]: o["attributes"] for o in hard.itglue["organizations"]}
    rmm_made = [by_id[i] for i in dups["source_id"] if by_id[i]["psa-integration"] is None]
    assert rmm_made and all(a["name"] in site_names for a in rmm_made)
    # PSA configuration items without MAC, and serials missing or junk in some sources.
    assert sum(c["macAddress"] is None for c in hard.connectwise["configurations"]) > \
        0.1 * len(hard.connectwise["configurations"])
    serials = [c["attributes"]["serial-number"] for c in hard.itglue["configurations"]]
    assert set(JUNK_SERIALS) & set(serials) and sum(s is None for s in serials) > 0.05 * len(serials)
    audits = [a["bios"]["serialNumber"] for a in hard.datto_rmm["audits"].values()]
    assert set(JUNK_SERIALS) & set(audits)
    assert set(JUNK_SERIALS) & {c["serialNumber"] for c in hard.autotask["configuration_items"]}
    # Renamed clients and names misspelt in the PSA, with truth pairs that say they are one client.
    cases = set(hard.truth.hard_positives["case"])
    assert {"renamed_client", "psa_name_typo", "site_name_variant"} <= cases
    negatives = hard.truth.hard_negatives
    assert "junk_serial" in set(negatives["case"])
    named = negatives.filter((pl.col("case") == "named_alike") & (pl.col("source_a") == "autotask"))
    cis = {str(c["id"]): c for c in hard.autotask["configuration_items"]}
    assert named.height and all(cis[a]["referenceTitle"] == cis[b]["referenceTitle"]
                                for a, b in named.select("source_id_a", "source_id_b").iter_rows())
    assert negatives.filter((pl.col("case") == "vm_clone_serial") & (pl.col("source_a") == "connectwise")).height


def test_renamed_clients_keep_the_old_name_outside_the_psa(hard):
    renamed = hard.truth.hard_positives.filter((pl.col("case") == "renamed_client") &
                                               (pl.col("source_b") == "datto_rmm"))
    assert renamed.height
    orgs = {o["id"]: o["attributes"]["name"] for o in hard.itglue["organizations"]}
    sites = {s["uid"]: s["name"] for s in hard.datto_rmm["sites"]}
    companies = {c["companyName"] for c in hard.autotask["companies"]}
    for row in renamed.iter_rows(named=True):
        new, old = orgs[row["source_id_a"]], sites[row["source_id_b"]]
        assert new in companies and new.split()[:2] != old.split()[:2]


def test_several_causes_in_one_client(hard):
    configs = {c["id"]: c["attributes"]["organization-id"] for c in hard.itglue["configurations"]}
    contacts = {c["id"]: c["attributes"]["organization-id"] for c in hard.itglue["contacts"]}
    dups = hard.truth.duplicates.filter(pl.col("source") == "itglue")
    org_entity = dict(hard.truth.entities.filter((pl.col("source") == "itglue") &
                                                 (pl.col("entity_type") == "organization"))
                      .select("source_id", "entity_id").iter_rows())
    causes: dict[str, set[str]] = {}
    for row in dups.iter_rows(named=True):
        where = {"configuration": configs, "contact": contacts}.get(row["entity_type"])
        client = row["entity_id"] if where is None else org_entity[str(where[row["source_id"]])]
        causes.setdefault(client, set()).add(row["cause"])
    assert max(len(c) for c in causes.values()) >= 3


def test_hard_ground_truth_is_exact(hard):
    t = hard.truth
    assert set(t.duplicates["cause"]) == set(CAUSES) and set(t.orphans["reason"]) == set(ORPHAN_REASONS)
    # Every record of every source is in the truth once.
    for etype, res in RESOURCES:
        ids = [r["id"] for r in hard.itglue[res]]
        truth_ids = t.entities.filter((pl.col("source") == "itglue") & (pl.col("entity_type") == etype))["source_id"]
        assert sorted(ids) == sorted(truth_ids.to_list())
    assert t.entities.select("entity_type", "source", "source_id").is_duplicated().sum() == 0
    # A duplicate cluster is all of its entity's IT Glue records, with one cause.
    it = t.duplicates.filter(pl.col("source") == "itglue")
    clusters = it.group_by("entity_type", "entity_id").agg(pl.len().alias("n"), pl.col("cause").n_unique().alias("k"))
    totals = t.entities.filter(pl.col("source") == "itglue").group_by("entity_type", "entity_id").len()
    joined = clusters.join(totals, on=["entity_type", "entity_id"])
    assert clusters["n"].min() >= 2 and clusters["k"].max() == 1 and (joined["n"] == joined["len"]).all()
    # Live records, duplicates and orphans split the IT Glue records exactly.
    live = t.live_records(["itglue"])
    assert live.height + it.height + t.orphans.height == t.entities.filter(pl.col("source") == "itglue").height
    assert live.join(t.orphans, on=["entity_type", "source_id"], how="semi").height == 0
    pairs = t.duplicate_pairs(["itglue"])
    assert pairs.height >= clusters.height and (pairs["source_id_a"] < pairs["source_id_b"]).all()
    # Hard pairs point at records of the truth and agree with it.
    ents = t.entities.select("entity_type", "source", "source_id", "entity_id")
    for frame, same in ((t.hard_negatives, False), (t.hard_positives, True)):
        j = frame.join(ents, left_on=["entity_type", "source_a", "source_id_a"],
                       right_on=["entity_type", "source", "source_id"]) \
            .join(ents, left_on=["entity_type", "source_b", "source_id_b"],
                  right_on=["entity_type", "source", "source_id"], suffix="_b")
        assert j.height == frame.height and ((j["entity_id"] == j["entity_id_b"]) == same).all()


def test_one_rmm_tenants():
    ninja = generate(seed=103, scale=60, difficulty="hard", rmm="ninjaone")
    assert ninja.datto_rmm["devices"] == [] and ninja.ninjaone["devices"]
    live = {str(d["id"]) for d in ninja.ninjaone["devices"]}
    deleted = ninja.truth.orphans.filter(pl.col("reason") == "rmm_device_deleted")["source_id"].to_list()
    assert deleted
    for sid in deleted:
        (rmm,) = ninja.itglue_rmm_records[sid]
        assert rmm["attributes"]["rmm-integration-type"] == "ninja-rmm"
        assert rmm["attributes"]["device-id"] not in live
    datto = generate(seed=103, scale=60, rmm="datto_rmm")
    assert datto.ninjaone["devices"] == [] and datto.datto_rmm["devices"]
    assert {"ninja-rmm"} not in [{r["attributes"]["rmm-integration-type"] for r in v}
                                 for v in datto.itglue_rmm_records.values()]


def test_scores_against_the_truth(hard):
    t = hard.truth
    perfect = t.entities.rename({"entity_id": "cluster_id"})
    scores = link_scores(perfect, t.entities, "itglue", ["autotask"])
    assert (scores["f1"] == 1.0).all() and (scores["true_links"] > 0).all()
    singletons = t.entities.with_columns((pl.col("source") + pl.col("source_id")).alias("cluster_id"))
    rmm = link_scores(singletons, t.entities, "itglue", ["datto_rmm"])
    assert rmm.filter(pl.col("true_links") > 0)["entity_type"].to_list() == ["configuration", "organization"]
    assert (rmm.filter(pl.col("true_links") > 0)["recall"] == 0).all()
    live = t.live_records(["itglue"]).head(3)
    dup = t.duplicates.filter(pl.col("source") == "itglue").head(2)
    actions = pl.concat([live.select("entity_type", "source", "source_id"),
                         dup.select("entity_type", "source", "source_id")]).with_columns(
        pl.Series("action", ["delete", "merge_organizations", "fix_in_psa", "delete", "archive"]))
    assert destructive_on_live(actions, t).height == 3


def test_ci_preset_is_small_and_hard():
    preset = PRESETS["ci-hard"]
    world = build_world(**preset)
    assert 25 <= world.scale <= 40 and world.extra["difficulty"] == 1.0
    t = world.truth
    assert set(t.duplicates["cause"]) == set(CAUSES) and set(t.orphans["reason"]) == set(ORPHAN_REASONS)
    assert t.live_records(["itglue"]).height and t.duplicate_pairs(["itglue"]).height
    assert {"renamed_client", "psa_name_typo", "site_name_variant", "reimaged_laptop"} <= set(t.hard_positives["case"])
    assert {"junk_serial", "vm_clone_serial", "placeholder_serial", "reused_hostname", "franchise_branch",
            "namesake"} <= set(t.hard_negatives["case"])


def test_the_cli_refuses_an_unknown_difficulty_in_one_line():
    from click.testing import CliRunner

    from pipelines.cli import main

    result = CliRunner().invoke(main, ["sandbox", "serve", "--difficulty", "brutal"])
    assert result.exit_code == 2 and "difficulty must be one of standard, hard" in result.output


def _epoch(iso: str) -> float:
    import calendar
    import time

    return calendar.timegm(time.strptime(iso[:19], "%Y-%m-%dT%H:%M:%S"))


def test_each_hard_tenant_has_its_own_timeline_and_the_article_signatures_hold_on_it(hard):
    other = generate(seed=102, scale=20, difficulty="hard")
    assert hard.extra["timeline"] != other.extra["timeline"] != generate(seed=5, scale=5).extra["timeline"]
    sync, switch = (_epoch(hard.extra["timeline"][k]) for k in ("psa_sync_start", "rmm_switch"))
    configs = {c["id"]: c["attributes"] for c in hard.itglue["configurations"]}
    dups = hard.truth.duplicates.filter((pl.col("source") == "itglue") & (pl.col("entity_type") == "configuration"))
    for (cause, _), group in dups.group_by("cause", "entity_id"):
        attrs = [configs[i] for i in group["source_id"]]
        integrations = sorted(a["psa-integration"] or "-" for a in attrs)
        created = sorted((_epoch(a["created-at"]), a["psa-integration"]) for a in attrs)
        if cause == "pre_sync_existing":
            assert integrations == ["-", "enabled"]
            assert created[0][1] is None and created[0][0] < sync <= created[1][0]
        elif cause == "csv_double_import":
            assert integrations == ["-", "-"] and abs(created[1][0] - created[0][0]) > 86400
        elif cause == "sync_method_change":
            with_rmm = [configs[i] for i in group["source_id"] if i in hard.itglue_rmm_records]
            assert integrations == ["-", "enabled"] and len(with_rmm) == 1 and with_rmm[0]["psa-integration"] is None
            assert created[0][1] is None and created[0][0] < switch <= created[1][0]
        else:
            assert integrations == ["enabled", "enabled"]


def test_the_sandbox_modules_import_no_circle():
    """Imports inside functions included: `world` <-> `generator` hid a circle that way."""
    import ast
    from pathlib import Path

    import pipelines.sandbox as package

    graph: dict[str, set[str]] = {}
    for path in Path(package.__file__).parent.glob("*.py"):
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "pipelines.sandbox":
                found |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pipelines.sandbox."):
                found.add(node.module.split(".")[2])
        graph[path.stem] = found

    def reaches(start: str, target: str, seen: set[str]) -> bool:
        return any(m == target or (m not in seen and reaches(m, target, seen | {m})) for m in graph.get(start, ()))

    assert "generator" in graph["world"]
    assert [m for m in graph if reaches(m, m, set())] == []


def test_last_weeks_psa_still_holds_what_was_deleted_since():
    today = generate(seed=7, scale=40, difficulty="hard")
    before = generate(seed=7, scale=40, difficulty="hard", weeks_ago=1)
    for name in ("itglue", "itglue_rmm_records", "datto_rmm", "ninjaone"):
        assert getattr(before, name) == getattr(today, name)
    now_ids = {c["id"] for c in today.autotask["configuration_items"]}
    then_ids = {c["id"] for c in before.autotask["configuration_items"]}
    assert now_ids < then_ids and [c["id"] for c in before.connectwise["configurations"]] == sorted(then_ids)
    # The PSA records of today's psa_record_deleted orphans were deleted after IT Glue's last sync: last week
    # they were there, under the names IT Glue's synced copies carry.
    t = today.truth
    gone = t.orphans.filter((pl.col("reason") == "psa_record_deleted") & (pl.col("entity_type") == "configuration"))
    glue = {c["id"]: c["attributes"]["name"] for c in today.itglue["configurations"]}
    then_names = {c["referenceTitle"] for c in before.autotask["configuration_items"] if c["id"] not in now_ids}
    assert gone.height and {glue[i] for i in gone["source_id"]} <= then_names
    assert sum(c["deletedFlag"] for c in before.connectwise["companies"]) < \
        sum(c["deletedFlag"] for c in today.connectwise["companies"])
    with pytest.raises(ValueError, match="weeks_ago"):
        generate(seed=7, scale=5, weeks_ago=-1)
