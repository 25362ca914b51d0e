"""The same linkage on Splink's Spark backend (pyspark in local mode) as on DuckDB: a sandbox tenant extracted over HTTP
and staged, linked on DuckDB (models trained and saved), then on Spark with those models; the clusters, duplicates and
orphans must be the same, and so must a second week linked incrementally on Spark. Skipped, saying why, where pyspark
or Java is missing (`.ci/run` installs both)."""

import copy
import importlib.util
import shutil

import dagster as dg
import pytest

from pipelines.assets.extract import EXTRACT_ASSETS
from pipelines.assets.staging import staging
from pipelines.linkage.dialect import translate
from pipelines.linkage.models import ModelStore
from pipelines.linkage.pipeline import LinkageOptions, link_staging, read_staging, run_linkage
from pipelines.resources import SourcesResource, WarehouseResource
from pipelines.sandbox.server import RunningSandbox, Sandbox
from pipelines.sandbox.world import build_world
from pipelines.warehouse import Warehouse

needs_spark = pytest.mark.skipif(
    importlib.util.find_spec("pyspark") is None or shutil.which("java") is None,
    reason="the Spark backend needs pyspark (pip install 'msp-recon[spark]') and Java 17 (openjdk-17-jre-headless)")


def test_duckdb_conditions_are_rewritten_into_spark_functions():
    assert translate("list_has_any(macs_l, macs_r)", "spark") == "ARRAYS_OVERLAP(macs_l, macs_r)"
    assert translate("list_has_all(a_l, a_r)", "spark") == "SIZE(ARRAY_EXCEPT(a_r, a_l)) = 0"
    assert translate("jaro_winkler_similarity(a_l, a_r) >= 0.9", "spark") == "JARO_WINKLER(a_l, a_r) >= 0.9"
    assert translate('"ip_l" = "ip_r"', "duckdb") == '"ip_l" = "ip_r"'


def _extract(world, warehouse: Warehouse) -> None:
    with RunningSandbox(Sandbox(world)) as sandbox:
        env = sandbox.env(("itglue", "autotask", "datto_rmm", "ninjaone"))
        resources = {"warehouse": WarehouseResource(path=str(warehouse.path)),
                     "sources": SourcesResource(env=env, read_environment=False)}
        with dg.DagsterInstance.ephemeral() as instance:
            assert dg.materialize([*EXTRACT_ASSETS, staging], resources=resources, instance=instance).success


def _rows(result, table: str, columns: tuple[str, ...]) -> list[tuple]:
    return sorted(tuple(r[c] for c in columns) for r in result.tables[table].to_pylist())


@needs_spark
@pytest.mark.timeout(900)
def test_spark_finds_the_same_clusters_as_duckdb(tmp_path):
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    _extract(build_world(seed=11, scale=6), warehouse)
    staged, _ = read_staging(warehouse)
    models = ModelStore(tmp_path / "models")
    on_duckdb = link_staging(staged, models, options=LinkageOptions(charts=False, train="always"))
    on_spark = link_staging(staged, models, options=LinkageOptions(charts=False, train="never", backend="spark"))
    assert all(m["source"] == "loaded" for m in on_spark.models.values())

    clusters = ("entity_type", "cluster_id", "source", "source_id")
    assert len(_rows(on_duckdb, "marts.entity_clusters", clusters)) > 200
    assert _rows(on_spark, "marts.entity_clusters", clusters) == _rows(on_duckdb, "marts.entity_clusters", clusters)
    dups = ("entity_type", "cluster_id", "source", "source_id", "role", "cause")
    assert _rows(on_duckdb, "marts.duplicates", dups)  # the tenant has duplicates to find
    assert _rows(on_spark, "marts.duplicates", dups) == _rows(on_duckdb, "marts.duplicates", dups)
    orphans = ("entity_type", "source_id", "reason")
    assert _rows(on_spark, "marts.orphans", orphans) == _rows(on_duckdb, "marts.orphans", orphans)


MARTS = {
    "clusters": "SELECT entity_type, cluster_id, source, source_id FROM marts.entity_clusters",
    "duplicates": "SELECT entity_type, cluster_id, source, source_id, role, cause FROM marts.duplicates",
    "orphans": "SELECT entity_type, source_id, reason FROM marts.orphans",
    "pairs": "SELECT unique_id_l, unique_id_r, round(match_probability, 6), is_certain FROM marts.match_pairs_configurations",
}


def _marts(warehouse: Warehouse) -> dict[str, list[tuple]]:
    with warehouse.connect() as con:
        return {name: sorted(con.sql(sql).fetchall(), key=repr) for name, sql in MARTS.items()}


@needs_spark
@pytest.mark.timeout(1200)
def test_spark_links_the_next_week_incrementally_as_duckdb_relinks_it(tmp_path):
    """Incremental scoring (Splink's predict_between against the kept pairs) on Spark: an unchanged week scores
    nothing and keeps every cluster; a changed week gives what a full relink on DuckDB gives."""
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    world = build_world(seed=11, scale=6)
    _extract(copy.deepcopy(world), warehouse)
    run_linkage(warehouse, options=LinkageOptions(charts=False, train="always"))  # trains and saves the models
    on_duckdb = _marts(warehouse)
    assert len(on_duckdb["clusters"]) > 200 and on_duckdb["duplicates"]

    spark = LinkageOptions(charts=False, train="never", backend="spark")
    unchanged = run_linkage(warehouse, options=spark)
    assert unchanged.metrics["scored_records"] == {"organization": 0, "configuration": 0, "contact": 0}, unchanged.metrics["relink"]
    assert set(unchanged.metrics["relink"].values()) == {"incremental"}
    assert _marts(warehouse) == on_duckdb

    # the next week: a device renamed, a serial corrected, a contact deleted and one entered twice
    configs, contacts = world.itglue["configurations"], world.itglue["contacts"]
    configs[0]["attributes"].update(name="WS-RENAMED-01", hostname="WS-RENAMED-01")
    configs[5]["attributes"]["serial-number"] = "CORRECTED9"
    del contacts[3]
    twin = copy.deepcopy(contacts[0])
    twin["id"] = "99990001"
    contacts.append(twin)
    _extract(world, warehouse)
    changed = run_linkage(warehouse, options=spark)
    records = changed.metrics["scored_records"]
    assert set(changed.metrics["relink"].values()) == {"incremental"}
    assert records["configuration"] > 0 and records["contact"] > 0, records
    on_spark = _marts(warehouse)
    run_linkage(warehouse, options=LinkageOptions(charts=False, train="never", full_relink=True))
    assert _marts(warehouse) == on_spark
