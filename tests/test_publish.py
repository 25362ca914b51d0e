"""The published copy: what it holds, that a bad copy never replaces a good one, and that a reader holding the file
open neither blocks a weekly run nor sees half a copy."""

import subprocess
import sys

import dagster as dg
import duckdb
import pytest

from pipelines.definitions import defs
from pipelines.publish import PublishError, publish, published_path
from pipelines.runner import run_job
from pipelines.warehouse import Warehouse


def _warehouse(path, organizations: int = 3) -> Warehouse:
    """A warehouse with a table in every schema, a view over cleanup, and `organizations` staged organizations."""
    store = Warehouse(path)
    with store.connect() as con:
        con.execute("CREATE OR REPLACE TABLE raw.itglue_organizations AS SELECT 1 AS id, '{}' AS raw_json")
        con.execute("CREATE OR REPLACE TABLE staging.organizations AS "
                    "SELECT 'itglue' AS source, i::VARCHAR AS source_id FROM range(?) t(i)", [organizations])
        con.execute("CREATE OR REPLACE TABLE marts.duplicates AS SELECT 'organization' AS entity_type, 'itglue:1' AS "
                    "cluster_id, 'itglue' AS source, '1' AS source_id, 'keep' AS role")
        con.execute("CREATE OR REPLACE TABLE cleanup.actions AS SELECT 'B0001-0001' AS action_id, 'delete' AS action")
        con.execute("CREATE OR REPLACE TABLE audit.action_log AS SELECT 'B0001-0001' AS action_id, 'done' AS outcome")
        con.execute("CREATE OR REPLACE VIEW cleanup.action_status AS "
                    "SELECT a.*, l.outcome FROM cleanup.actions a LEFT JOIN audit.action_log l USING (action_id)")
        con.execute("CREATE OR REPLACE TABLE linkage.record_history AS SELECT 1 AS x")
    return store


def test_publish_copies_the_schemas_users_query_with_their_views(tmp_path):
    store = _warehouse(tmp_path / "warehouse.duckdb")
    target = published_path(store, {})
    assert target == tmp_path / "published.duckdb"
    assert published_path(store, {"RECON_PUBLISHED": str(tmp_path / "x" / "copy.duckdb")}) == \
        tmp_path / "x" / "copy.duckdb"

    publication = publish(store, target, run_id="run-1")
    assert publication.tables == {"staging.organizations": 3, "marts.duplicates": 1, "cleanup.actions": 1,
                                  "audit.action_log": 1}
    with duckdb.connect(str(target), read_only=True) as con:
        schemas = {r[0] for r in con.execute("SELECT DISTINCT schema_name FROM duckdb_tables()").fetchall()}
        assert schemas == {"staging", "marts", "cleanup", "audit", "about"}  # no raw JSON, no linkage state
        assert con.sql("SELECT action_id, outcome FROM cleanup.action_status").fetchall() == [("B0001-0001", "done")]
        assert con.sql("SELECT dagster_run_id, tables, views FROM about.publication").fetchall() == [("run-1", 4, 1)]
        assert con.sql("SELECT row_count FROM about.tables WHERE table_name = 'organizations'").fetchall() == [(3,)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["published.duckdb", "warehouse.duckdb"]  # no scratch left


def test_a_copy_that_fails_its_audit_leaves_the_previous_copy(tmp_path):
    store = _warehouse(tmp_path / "warehouse.duckdb")
    target = tmp_path / "published.duckdb"
    publish(store, target, run_id="good")
    # A view over a schema that is not published cannot bind in the copy: the copy is incomplete.
    with store.connect() as con:
        con.execute("CREATE VIEW staging.raw_ids AS SELECT id FROM raw.itglue_organizations")
    with pytest.raises(PublishError, match="staging.raw_ids do not bind in the copy"):
        publish(store, target, run_id="bad")
    with duckdb.connect(str(target), read_only=True) as con:
        assert con.sql("SELECT dagster_run_id FROM about.publication").fetchall() == [("good",)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["published.duckdb", "warehouse.duckdb"]


READER = """
import duckdb, sys
con = duckdb.connect(sys.argv[1], read_only=True)
count = lambda: con.sql("SELECT count(*) FROM staging.organizations").fetchall()[0][0]
print(count(), flush=True)
sys.stdin.readline()  # hold the file open until the test says the run is over
print(count(), con.sql("SELECT dagster_run_id FROM about.publication").fetchall()[0][0], flush=True)
"""


@pytest.mark.slow
def test_a_reader_holding_the_copy_open_does_not_block_the_weekly_run(sandbox, tmp_path):
    published = tmp_path / "copy" / "published.duckdb"
    publish(_warehouse(tmp_path / "old.duckdb", organizations=2), published, run_id="last-week")
    reader = subprocess.Popen([sys.executable, "-c", READER, str(published)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout.readline().split() == ["2"]
        with dg.DagsterInstance.ephemeral() as instance:
            outcome = run_job("weekly_reconciliation", env={**sandbox.env(("itglue",)),
                                                            "RECON_PUBLISHED": str(published)},
                              warehouse=str(tmp_path / "warehouse.duckdb"), instance=instance)
            assert outcome.success, outcome.failures
            checks = {(e.asset_check_evaluation_data.asset_key.to_user_string(),
                       e.asset_check_evaluation_data.check_name): e.asset_check_evaluation_data
                      for e in instance.all_logs(outcome.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
                      for e in [e.dagster_event]}
        # the reader still reads the copy it opened, whole: its inode outlives the rename
        out, _ = reader.communicate("\n", timeout=30)
        assert out.split() == ["2", "last-week"]
    finally:
        reader.kill()
        reader.wait()
    organizations = sandbox.sandbox.world.expected_counts()["itglue_organizations"]
    with duckdb.connect(str(published), read_only=True) as con:  # a new reader sees this run's copy
        assert con.sql("SELECT dagster_run_id FROM about.publication").fetchall() == [(outcome.run_id,)]
        assert con.sql("SELECT count(*) FROM staging.organizations").fetchall() == [(organizations,)]
        assert con.sql("SELECT count(*) FROM marts.entity_clusters").fetchall()[0][0] > organizations
    assert [p.name for p in published.parent.iterdir()] == ["published.duckdb"]

    # the run's checks: every IT Glue table matched its extraction, no record in two clusters
    for table in ("itglue_organizations", "itglue_configurations", "itglue_contacts"):
        assert checks[(f"raw/{table}", "matches_api_total")].passed
    assert checks[("marts/entity_clusters", "one_cluster_per_record")].passed
    # the sandbox plants more duplicates than the default caps allow: flagged for a second look, a warning
    caps = checks[("cleanup_batch", "batch_within_caps")]
    assert not caps.passed and caps.severity == dg.AssetCheckSeverity.WARN


def test_the_asset_graph_reads_like_the_data_flow():
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.group_name != "default" and node.description and node.owners, key
    job = defs.resolve_job_def("weekly_reconciliation")
    assert dg.AssetKey("published_copy") in job.asset_layer.asset_graph.get_all_asset_keys()
    # the published copy comes last: after the marts and the cleanup batch it copies
    assert {dg.AssetKey("cleanup_batch"), dg.AssetKey(["marts", "duplicates"])} <= \
        graph.get(dg.AssetKey("published_copy")).parent_keys
    check_names = {key.name for key in graph.asset_check_keys}
    assert {"matches_api_total", "one_cluster_per_record", "batch_within_caps", "duplicate_counts_steady"} <= \
        check_names
    assert defs.resolve_sensor_def("publish_after_apply").default_status == dg.DefaultSensorStatus.RUNNING
