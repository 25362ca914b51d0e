"""The SQL cookbook (sql/queries/) run as-is against the published copy of a real sandbox run: the weekly job over
HTTP, an approved batch applied through the apply_cleanup job, then the publish_copy job."""

import copy
from pathlib import Path

import dagster as dg
import pytest

from pipelines.assets.cleanup import apply_run_config
from pipelines.cleanup.approval import approve
from pipelines.read_only import readonly_connect
from pipelines.runner import run_job
from pipelines.sandbox.server import RunningSandbox, Sandbox
from pipelines.warehouse import Warehouse

pytestmark = pytest.mark.slow
QUERIES = Path(__file__).resolve().parent.parent / "sql" / "queries"
PSA = ("connectwise", "autotask")


@pytest.fixture(scope="module")
def published(small_world, tmp_path_factory):
    """The published copy after one weekly run and one apply of its (approved) batch."""
    folder = tmp_path_factory.mktemp("cookbook")
    store = Warehouse(folder / "warehouse.duckdb")
    world = copy.deepcopy(small_world)
    with RunningSandbox(Sandbox(world)) as sandbox, dg.DagsterInstance.ephemeral() as instance:
        env = sandbox.env(("itglue", world.psa, "datto_rmm", "ninjaone"))
        outcome = run_job("weekly_reconciliation", env=env, warehouse=str(store.path), instance=instance)
        assert outcome.success, outcome.failures
        with store.connect() as con:
            batch_id = con.execute("SELECT max(batch_id) FROM cleanup.batches").fetchall()[0][0]
            approve(con, batch_id, "ana", accept_large_batch=True)
        outcome = run_job("apply_cleanup", env=env, warehouse=str(store.path), instance=instance,
                          run_config=apply_run_config(batch_id))
        assert outcome.success, outcome.failures
        outcome = run_job("publish_copy", env=env, warehouse=str(store.path), instance=instance)
        assert outcome.success, outcome.failures
    return folder / "published.duckdb", batch_id


@pytest.fixture
def con(published):
    """The locked read-only session `msp-recon sql` opens: the cookbook must run as-is within it."""
    with readonly_connect(published[0]) as con:
        yield con


def query(con, name: str) -> list[dict]:
    rel = con.sql((QUERIES / name).read_text())
    return [dict(zip(rel.columns, row, strict=True)) for row in rel.fetchall()]


def scalar(con, sql: str):
    return con.execute(sql).fetchall()[0][0]


def test_every_query_in_the_cookbook_is_tested():
    tested = {"duplicates_per_organization.sql", "why_matched.sql", "orphans_per_organization.sql",
              "psa_records_missing_from_itglue.sql", "last_apply_changes.sql",
              "weekly_changes.sql"}  # run by tests/test_review_cli_week.py over two weekly runs
    assert {p.name for p in QUERIES.glob("*.sql")} == tested


def test_duplicates_per_organization(con):
    rows = query(con, "duplicates_per_organization.sql")
    assert rows, "the sandbox plants duplicates"
    assert sum(r["duplicates"] for r in rows) == scalar(con, "SELECT count(*) FROM marts.duplicates "
                                                             "WHERE role = 'duplicate'")
    for r in rows:
        assert r["duplicates"] == r["duplicate_organizations"] + r["duplicate_configurations"] + \
            r["duplicate_contacts"]
        assert set(r["causes"]) <= {"pre_sync_existing", "csv_double_import", "sync_method_change",
                                    "source_duplicate", "unknown"}
    itglue = [r for r in rows if r["source"] == "itglue"]
    assert itglue and all(r["organization"] != "(unknown organization)" for r in itglue)
    assert [r["duplicates"] for r in rows] == sorted((r["duplicates"] for r in rows), reverse=True)


def test_why_two_records_were_matched(con):
    rows = query(con, "why_matched.sql")
    assert rows and all(r["comparison"] and r["match_weight"] is not None for r in rows)
    # Splink's total match weight is the prior plus each comparison's weight: the same prior for every pair of
    # an entity type shows the rows are the pair's whole explanation
    priors: dict[str, set] = {}
    pairs: dict[tuple, list] = {}
    for r in rows:
        pairs.setdefault((r["entity_type"], r["record_l"], r["record_r"]), []).append(r)
    for (entity, _, _), comparisons in pairs.items():
        prior = comparisons[0]["total_match_weight"] - sum(c["match_weight"] for c in comparisons)
        priors.setdefault(entity, set()).add(round(prior, 1))
    assert all(max(p) - min(p) <= 0.2 for p in priors.values()), priors

    duplicate = scalar(con, "SELECT source || ':' || source_id FROM marts.duplicates WHERE role = 'duplicate' "
                            "AND entity_type = 'configuration' ORDER BY cluster_id LIMIT 1")
    con.execute("SET VARIABLE record = ?", [duplicate])
    one = query(con, "why_matched.sql")
    assert one and all(duplicate in (r["record_l"], r["record_r"]) for r in one)
    assert any(r["match_weight"] > 0 for r in one)  # something agreed, or they would not be one cluster


def test_orphans_per_organization_and_reason(con):
    rows = query(con, "orphans_per_organization.sql")
    assert rows, "the sandbox plants orphans"
    assert sum(r["orphans"] for r in rows) == scalar(con, "SELECT count(*) FROM marts.orphans")
    assert {r["reason"] for r in rows} <= {"psa_orphaned", "psa_record_deleted", "rmm_device_deleted", "unlinked"}
    assert all(r["organization"] != "(unknown organization)" for r in rows)


def test_psa_records_missing_from_itglue(con):
    rows = query(con, "psa_records_missing_from_itglue.sql")
    clusters = con.execute("SELECT entity_type, cluster_id, list(source) FROM marts.entity_clusters "
                           "GROUP BY ALL").fetchall()
    expected = scalar(con, "SELECT count(*) FROM marts.entity_clusters c WHERE c.source IN ('connectwise', 'autotask') "
                           "AND NOT EXISTS (SELECT 1 FROM marts.entity_clusters i WHERE i.source = 'itglue' AND "
                           "i.entity_type = c.entity_type AND i.cluster_id = c.cluster_id)")
    assert len(rows) == expected > 0
    undocumented = {(e, s) for e, _, sources in clusters if "itglue" not in sources for s in sources}
    assert all(r["source"] in PSA and (r["entity_type"], r["source"]) in undocumented for r in rows)
    assert all(r["name"] for r in rows)


def test_what_the_last_apply_changed(con, published):
    _, batch_id = published
    rows = query(con, "last_apply_changes.sql")
    approved = scalar(con, f"SELECT count(*) FROM cleanup.actions WHERE batch_id = '{batch_id}'")
    assert len(rows) == approved and {r["batch_id"] for r in rows} == {batch_id}
    outcomes = {r["outcome"] for r in rows}
    assert "done" in outcomes and outcomes <= {"done", "already_gone", "skipped_changed", "rejected", "manual_step"}
    for r in rows:
        if r["outcome"] == "done":
            assert r["action"] in ("delete", "archive") and r["http_method"] in ("DELETE", "PATCH")
            assert r["can_restore"]
        if r["outcome"] == "manual_step":
            assert r["action"] in ("disable_sync_then_delete", "fix_in_psa", "merge_organizations")
