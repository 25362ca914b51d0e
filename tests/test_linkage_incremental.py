"""Incremental weekly linkage: the weekly job run twice on one tenant scores only what changed in between, and gives
what a full relink of the same data gives."""

import copy

import dagster as dg
import pytest

from pipelines.linkage.pipeline import LinkageOptions, run_linkage
from pipelines.runner import run_job
from pipelines.sandbox.server import RunningSandbox, Sandbox
from pipelines.sandbox.systems import build_world
from pipelines.warehouse import Warehouse

SOURCES = ("itglue", "autotask", "datto_rmm", "ninjaone")
SEED = 101  # a tuning seed (benchmarks/README.md)
MARTS = {
    "entity_clusters": "SELECT entity_type, cluster_id, source, source_id, cluster_size FROM marts.entity_clusters",
    "duplicates": "SELECT * FROM marts.duplicates",
    "orphans": "SELECT * FROM marts.orphans",
}
ACTIONS = ("SELECT * EXCLUDE (action_id, batch_id) FROM cleanup.actions WHERE batch_id = "
           "(SELECT max(batch_id) FROM cleanup.actions)")
PAIRS = "SELECT unique_id_l, unique_id_r, match_probability, match_weight, is_certain FROM marts.match_pairs_{}"


@pytest.fixture
def instance():
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


def _rows(warehouse: Warehouse, sql: str) -> list[tuple]:
    with warehouse.connect() as con:
        columns = [c for c in con.sql(sql).columns]
        return sorted(con.sql(sql).fetchall(), key=repr), columns


def _snapshot(warehouse: Warehouse, *, actions: bool = False) -> dict:
    queries = dict(MARTS) | {f"pairs_{t}": PAIRS.format(t) for t in ("organizations", "configurations", "contacts")}
    if actions:
        queries["actions"] = ACTIONS
    return {name: _rows(warehouse, sql) for name, sql in queries.items()}


def _linkage_metadata(instance) -> dict:
    event = instance.get_latest_materialization_event(dg.AssetKey(["marts", "entity_clusters"]))
    metadata = event.asset_materialization.metadata
    return {"scored": metadata["scored_records"].value, "relink": metadata["relink"].value,
            "records": {e: v["records"] for e, v in metadata["records_and_clusters"].value.items()}}


def _weekly(world, warehouse: Warehouse, instance, run_config: dict | None = None) -> None:
    with RunningSandbox(Sandbox(world)) as running:
        outcome = run_job("weekly_reconciliation", env=running.env(SOURCES), warehouse=str(warehouse.path),
                          instance=instance, isolated=True, run_config=run_config)
    assert outcome.success, outcome.failures


def test_an_unchanged_tenant_is_not_scored_again_and_gives_the_same_marts_and_batch(tmp_path, instance):
    warehouse = Warehouse(tmp_path / "w.duckdb")
    world = build_world(seed=SEED, scale=20)
    _weekly(copy.deepcopy(world), warehouse, instance)
    first, first_meta = _snapshot(warehouse, actions=True), _linkage_metadata(instance)
    assert first_meta["scored"] == first_meta["records"] and min(first_meta["records"].values()) > 0
    assert first["actions"][0], "the tenant should give a cleanup batch to compare"

    _weekly(copy.deepcopy(world), warehouse, instance)
    second = _linkage_metadata(instance)
    assert second["scored"] == {"organization": 0, "configuration": 0, "contact": 0}
    assert set(second["relink"].values()) == {"incremental"}
    assert _snapshot(warehouse, actions=True) == first


def _change(world) -> None:
    """Between two weeks in IT Glue: a device renamed, a serial corrected, a contact deleted, a contact entered
    twice (a new record copying another)."""
    configs, contacts = world.itglue["configurations"], world.itglue["contacts"]
    configs[0]["attributes"].update(name="WS-RENAMED-01", hostname="WS-RENAMED-01")
    configs[5]["attributes"]["serial-number"] = "CORRECTED9"
    del contacts[3]
    twin = copy.deepcopy(contacts[0])
    twin["id"] = "99990001"
    contacts.append(twin)


def test_a_changed_tenant_links_as_a_full_relink_of_the_same_data_does(tmp_path, instance):
    warehouse = Warehouse(tmp_path / "w.duckdb")
    # last week's run on the PSA as it stood then (records deleted since still there), then this week's, edited
    _weekly(build_world(seed=SEED, scale=20, weeks_ago=1), warehouse, instance)
    this_week = build_world(seed=SEED, scale=20)
    _change(this_week)
    _weekly(this_week, warehouse, instance)
    meta = _linkage_metadata(instance)
    assert set(meta["relink"].values()) == {"incremental"}
    assert all(0 < meta["scored"][e] < meta["records"][e] for e in meta["records"]), meta
    incremental = _snapshot(warehouse)

    # the switch: the same run config a user's `msp-recon run --full-relink` gives
    result = run_linkage(warehouse, options=LinkageOptions(charts=False, full_relink=True))
    assert result.metrics["scored_records"] == meta["records"]
    assert set(result.metrics["relink"].values()) == {"full relink asked for"}
    full = _snapshot(warehouse)
    for name in full:
        assert incremental[name] == full[name], name


def test_full_relink_from_the_weekly_job_scores_every_record(tmp_path, instance):
    warehouse = Warehouse(tmp_path / "w.duckdb")
    world = build_world(seed=SEED, scale=20)
    _weekly(copy.deepcopy(world), warehouse, instance)
    first = _snapshot(warehouse)
    _weekly(copy.deepcopy(world), warehouse, instance,
            run_config={"ops": {"linkage_marts": {"config": {"full_relink": True}}}})
    meta = _linkage_metadata(instance)
    assert meta["scored"] == meta["records"]
    assert set(meta["relink"].values()) == {"full relink asked for"}
    assert _snapshot(warehouse) == first
