"""The linkage asset as Dagster materializes it: a small sandbox tenant extracted over HTTP, staged and linked."""

import copy

import dagster as dg
import pytest

from pipelines.assets.extract import EXTRACT_ASSETS
from pipelines.assets.linkage import LINKAGE_ASSETS
from pipelines.assets.staging import staging
from pipelines.resources import SourcesResource, WarehouseResource
from pipelines.sandbox.server import RunningSandbox, Sandbox
from pipelines.warehouse import Warehouse

SOURCES = ("itglue", "autotask", "datto_rmm", "ninjaone")
ORPHAN_REASONS = {"psa_orphaned", "psa_record_deleted", "rmm_device_deleted", "unlinked"}
CAUSES = {"pre_sync_existing", "csv_double_import", "sync_method_change", "source_duplicate", "unknown"}


@pytest.fixture(scope="module")
def linked(small_world, tmp_path_factory):
    """Materialize extract, staging and linkage once for the module (the tenant is only read); returns the result,
    the warehouse and its folder."""
    folder = tmp_path_factory.mktemp("linkage_asset")
    path = folder / "w.duckdb"
    with RunningSandbox(Sandbox(copy.deepcopy(small_world))) as running, dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(
            [*EXTRACT_ASSETS, staging, *LINKAGE_ASSETS], instance=instance,
            resources={"sources": SourcesResource(env=running.env(SOURCES), read_environment=False),
                       "warehouse": WarehouseResource(path=str(path))},
            run_config={"ops": {"linkage_marts": {"config": {"charts": False}}}},
            raise_on_error=False)
    return result, Warehouse(path), folder


def test_linkage_asset_writes_every_mart_with_its_row_count(linked):
    result, warehouse, folder = linked
    assert result.success
    marts = warehouse.row_counts("marts")
    staged = warehouse.row_counts("staging")
    # every staged record has exactly one row in entity_clusters, singletons included
    assert marts["entity_clusters"] == sum(staged.values())
    for table in ("duplicates", "orphans", "match_pairs_organizations", "match_pairs_configurations",
                  "match_pairs_contacts"):
        assert marts[table] > 0, table
    # the row counts the UI shows are the tables' own
    materializations = [e.event_specific_data.materialization for e in result.get_asset_materialization_events()]
    reported = {m.asset_key.path[-1]: m.metadata["dagster/row_count"].value for m in materializations
                if m.asset_key.path[0] == "marts"}
    assert len(reported) == 6 and reported == {name: marts[name] for name in reported}
    # the weekly run trains the models on its first run and saves them beside the warehouse
    assert {p.name for p in (folder / "linkage_models").iterdir()} >= {
        "organization.json", "configuration.json", "contact.json"}


def test_no_record_sits_in_two_clusters_and_each_duplicate_group_keeps_one(linked):
    result, warehouse, _ = linked
    assert result.success
    with warehouse.connect() as con:
        twice = con.sql("""SELECT entity_type, source, source_id FROM marts.entity_clusters
                           GROUP BY ALL HAVING count(*) > 1""").fetchall()
        assert twice == []
        # a duplicate's cluster is the one entity_clusters gives it
        stray = con.sql("""SELECT d.* FROM marts.duplicates d ANTI JOIN marts.entity_clusters c
                           USING (entity_type, cluster_id, source, source_id)""").fetchall()
        assert stray == []
        keeps = con.sql("""SELECT count(*) FILTER (WHERE role = 'keep') FROM marts.duplicates
                           GROUP BY entity_type, cluster_id, source""").fetchall()
        assert keeps and all(n == 1 for (n,) in keeps)
        assert {c for (c,) in con.sql("SELECT DISTINCT cause FROM marts.duplicates").fetchall()} <= CAUSES
        reasons = {r for (r,) in con.sql("SELECT DISTINCT reason FROM marts.orphans").fetchall()}
        assert reasons and reasons <= ORPHAN_REASONS
        # orphans are IT Glue records, and each is a record that was staged
        assert con.sql("""SELECT count(*) FROM marts.orphans o ANTI JOIN marts.entity_clusters c
                          ON c.source = 'itglue' AND c.entity_type = o.entity_type
                          AND c.source_id = o.source_id""").fetchall() == [(0,)]
