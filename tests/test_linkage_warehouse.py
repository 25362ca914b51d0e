"""The weekly linkage step reads staging and last week's pairs where they are, in the warehouse attached to the
linkage engine, and writes the marts through that attachment in one transaction. Reading in place must link exactly
what the frames read through Python link, a second run must still find last week's pairs, and a failed write must
leave the previous marts whole and the file usable."""

import pytest

from pipelines.linkage import pipeline
from pipelines.linkage.models import ModelStore
from pipelines.linkage.pipeline import LinkageOptions, link_staging, read_staging, run_linkage
from pipelines.linkage.synthetic import synthetic_tenant
from pipelines.warehouse import Warehouse, WarehouseUnreadable

OPTIONS = LinkageOptions(train="priors", charts=False, threads=2)
MARTS = ("marts.entity_clusters", "marts.duplicates", "marts.orphans", "marts.match_pairs_configurations")


def rows(warehouse: Warehouse, table: str) -> list[tuple]:
    with warehouse.connect(read_only=True) as con:
        return sorted(con.execute(f"SELECT * EXCLUDE (entity_type) FROM {table}").fetchall(), key=repr)


@pytest.fixture()
def staged(tmp_path):
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    warehouse.replace_tables("staging", synthetic_tenant(12, 8, seed=3).staging)
    return warehouse


def test_linking_the_warehouse_in_place_gives_what_its_frames_give(staged, tmp_path):
    staging, history = read_staging(staged)
    by_frames = link_staging(staging, ModelStore(tmp_path / "m1"), history=history, options=OPTIONS)
    result = run_linkage(staged, options=OPTIONS, model_dir=tmp_path / "m2")
    assert result.tables == {}  # written to the warehouse, not held
    assert result.metrics["row_counts"]["marts.duplicates"] > 0
    for table in MARTS:
        frames = sorted((tuple(r.values())[1:] for r in by_frames.tables[table].to_pylist()), key=repr)
        assert rows(staged, table) == frames, table


def test_a_second_run_in_place_reads_last_weeks_pairs_and_scores_nothing(staged, tmp_path):
    weekly = LinkageOptions(charts=False, threads=2)  # saved models (the domain priors relink every run)
    run_linkage(staged, options=weekly, model_dir=tmp_path / "models")
    before = {t: rows(staged, t) for t in MARTS}
    again = run_linkage(staged, options=weekly, model_dir=tmp_path / "models")
    assert again.metrics["scored_records"] == {"organization": 0, "configuration": 0, "contact": 0}
    assert {t: rows(staged, t) for t in MARTS} == before


def test_a_write_that_fails_midway_leaves_the_previous_marts_and_a_usable_file(staged, tmp_path, monkeypatch):
    run_linkage(staged, options=OPTIONS, model_dir=tmp_path / "models")
    before = {t: rows(staged, t) for t in MARTS}
    build = pipeline._build_marts

    def failing_last(engine, entity_types, options):
        queries = build(engine, entity_types, options)
        return {**queries, "marts.zz_fails": "SELECT error('the disk filled up')"}  # after every real table

    monkeypatch.setattr(pipeline, "_build_marts", failing_last)
    with staged.connect() as con:  # a changed tenant, so the failed run would have written other marts
        con.execute("DELETE FROM staging.configurations WHERE source = 'itglue' AND source_id IN "
                    "(SELECT source_id FROM staging.configurations WHERE source = 'itglue' LIMIT 5)")
    with pytest.raises(Exception, match="the disk filled up"):
        run_linkage(staged, options=OPTIONS, model_dir=tmp_path / "models")
    assert {t: rows(staged, t) for t in MARTS} == before
    with staged.connect() as con:  # detached: the file opens again in this process, read-write
        assert con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'zz_fails'"
                           ).fetchall() == [(0,)]


def test_a_damaged_warehouse_is_reported_as_such_by_the_linkage_step(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    path.write_bytes(b"8 bytes!")
    with pytest.raises(WarehouseUnreadable, match="is not a DuckDB database"):
        run_linkage(Warehouse(path), options=OPTIONS, model_dir=tmp_path / "models")


def test_scoring_in_chunks_gives_the_pairs_and_clusters_of_one_pass(tmp_path):
    """A tenant larger than `predict_chunk_records` is predicted chunk by chunk (10M configurations do not fit one
    pass); the chunks together must be exactly the one pass: every pair once, the same probabilities."""
    staging = synthetic_tenant(12, 8, seed=3).staging
    one = link_staging(staging, ModelStore(tmp_path / "m1"), options=OPTIONS)
    chunked_options = LinkageOptions(train="priors", charts=False, threads=2, predict_chunk_records=100)
    chunked = link_staging(staging, ModelStore(tmp_path / "m2"), options=chunked_options)
    assert chunked.models["configuration"] == one.models["configuration"]
    for table in MARTS[:3]:
        got, want = (sorted(map(repr, r.tables[table].to_pylist())) for r in (chunked, one))
        assert got == want and len(want) > 0, table
    for table in ("marts.match_pairs_organizations", "marts.match_pairs_configurations", "marts.match_pairs_contacts"):
        # the scores, every agreement level and weight (a map's entries come in no fixed order, so values are not
        # compared as they are)
        def scores(result, table=table):
            return sorted(repr({k: v for k, v in r.items() if k.startswith(("unique_id", "match_", "gamma_", "mw_"))
                                or k == "is_certain"}) for r in result.tables[table].to_pylist())
        assert scores(chunked) == scores(one) and len(scores(one)) > 0, table
