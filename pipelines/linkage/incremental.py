"""Incremental weekly linkage: score only the records that are new or changed since the last run.

A record's score against another depends only on the two model input rows (which hold the derived features: the
organization cluster a device sits in, how many machines share its serial, the devices two organizations share),
the term frequencies of their values, and the model. So each record gets a fingerprint of its input row and its
term frequencies, and each entity type one of its model, its input SQL and the pair floor; both are stored in
`linkage.record_fingerprints` beside the marts. The next run:

- a record whose fingerprint is unchanged keeps its pairs with other unchanged records, read back from the previous
  run's `marts.match_pairs_*` (every scored pair above the floor, with probability, is_certain, gamma_ and mw_);
- new and changed records are scored against every current record with Splink's `predict_between` (the model's
  own blocking rules, term frequencies and link type), in Splink's own pair orientation, so the pairs are the ones
  a full `predict` gives (tests/test_linkage_incremental.py checks this against a full relink);
- pairs touching a removed or changed record are dropped with it;
- a model that was retrained, or whose settings, input SQL or pair floor changed, relinks the entity in full, as
  does `full_relink`.

Clustering then runs on all edges, as before: it is a connected-components pass over the edge list, a small share of
the run (benchmarks/README.md, issue 13), and cluster ids stay the smallest member id, so stable for every cluster
whose members did not change.
"""

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from splink import Linker

from pipelines.linkage.backend import LinkageEngine
from pipelines.linkage.settings import EntitySpec
from pipelines.sources.base import ENTITY_TABLES

# Bump when how pairs are scored or kept changes in code (not in SQL files or settings, which are fingerprinted):
# every entity then relinks in full once.
SCORING_VERSION = 2  # 2: the model fingerprinted in its saved form, not the backend's (portable_model)
FINGERPRINTS = "record_fingerprints"  # linkage.record_fingerprints


@dataclass
class Plan:
    """What this run does for one entity type."""

    full: bool
    reason: str
    scored_records: int
    model_fingerprint: str


def previous_table_names() -> list[tuple[str, str]]:
    """(schema, table) of the previous run's fingerprints and scored pairs in the warehouse, for `history`."""
    return [("linkage", FINGERPRINTS), *(("marts", f"match_pairs_{t}") for t in ENTITY_TABLES.values())]


def load_previous(engine: LinkageEngine, history: Mapping[str, object] | None) -> None:
    """prev_fingerprints and prev_pairs_<entity> in the engine's connection (absent: no such temp table). A value is
    a frame or a table name the engine reads (link_staging's `history`)."""
    con = engine.con
    history = history or {}
    for e, table in ENTITY_TABLES.items():
        con.execute(f"DROP TABLE IF EXISTS prev_pairs_{e}")
        frame = history.get(f"match_pairs_{table}")
        if frame is not None:
            with engine.scan(frame, "_prev") as prev:
                con.execute(f"CREATE OR REPLACE TEMP TABLE prev_pairs_{e} AS SELECT * EXCLUDE (entity_type) FROM {prev}")
    con.execute("DROP TABLE IF EXISTS prev_fingerprints")
    frame = history.get(FINGERPRINTS)
    if frame is not None:
        with engine.scan(frame, "_prev") as prev:
            con.execute(f"CREATE OR REPLACE TEMP TABLE prev_fingerprints AS SELECT * FROM {prev}")


def portable_model(settings) -> dict:
    """The model in the form it is saved in, whatever backend scores it: a saved or trained model's JSON (DuckDB's
    SQL), or the domain priors' settings as DuckDB would run them. The Spark linker's own JSON holds the same model
    with its conditions translated (pipelines/linkage/dialect.py), so it would fingerprint differently, and a week
    linked on Spark after one on DuckDB (or back) would relink in full for nothing."""
    if isinstance(settings, dict):
        return settings
    return settings.get_settings("duckdb").as_dict()


def model_fingerprint(model: dict, input_sql: str, pair_floor: float, certain_sql: str) -> str:
    """The model as it scores (Splink's model JSON: comparisons, m/u, prior, blocking rules, link type; see
    `portable_model`), the input SQL as run (parameters filled in), the pair floor and the certain-link rule."""
    doc = {"model": model, "input_sql": input_sql,
           "pair_floor": pair_floor, "certain": certain_sql, "version": SCORING_VERSION}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


def _fingerprint_records(con, spec: EntitySpec, tf_columns: list[str]) -> None:
    """fp_<entity> (unique_id, fingerprint): the input row with its term frequencies. Lists and maps are sorted first:
    they come from aggregates whose order varies from run to run, and no comparison reads them in order."""
    e, table = spec.entity_type, spec.input_table
    parts = []
    for name, dtype, *_ in con.execute(f"DESCRIBE {table}").fetchall():
        col = f'i."{name}"'
        if dtype.startswith("MAP("):
            parts.append(f"'{name}': list_sort(map_entries({col}))")
        elif dtype.endswith("[]"):
            parts.append(f"'{name}': list_sort({col})")
        else:
            parts.append(f"'{name}': {col}")
    joins = []
    for n, col in enumerate(tf_columns):
        parts.append(f"'tf_{col}': t{n}.\"tf_{col}\"")
        joins.append(f'LEFT JOIN tf_{e}_{col} t{n} ON t{n}."{col}" = i."{col}"')
    con.execute(f"""CREATE OR REPLACE TEMP TABLE fp_{e} AS
        SELECT i.unique_id, md5(CAST({{{', '.join(parts)}}} AS VARCHAR)) AS fingerprint
        FROM {table} i {' '.join(joins)}""")


def plan(engine: LinkageEngine, spec: EntitySpec, model: dict, tf_columns: list[str], *, input_sql: str,
         pair_floor: float, certain_sql: str, n_records: int, full_relink: bool, trained: bool) -> Plan:
    """Fingerprint this run's records and decide: full relink, or score only changed_<entity> (the new and changed
    records; unchanged_<entity> the others)."""
    con, e = engine.con, spec.entity_type
    fingerprint = model_fingerprint(model, input_sql, pair_floor, certain_sql)
    _fingerprint_records(con, spec, tf_columns)

    def full(reason: str) -> Plan:
        return Plan(True, reason, n_records, fingerprint)

    if full_relink:
        return full("full relink asked for")
    if trained:
        return full("model trained this run")
    if not _exists(con, "prev_fingerprints") or not _exists(con, f"prev_pairs_{e}"):
        return full("no previous run")
    previous = con.execute("SELECT DISTINCT model_fingerprint FROM prev_fingerprints WHERE entity_type = ?",
                           [e]).fetchall()
    if previous != [(fingerprint,)]:
        return full("no previous run" if not previous else "model, input SQL or pair floor changed")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE unchanged_{e} AS
        SELECT f.unique_id FROM fp_{e} f
        JOIN prev_fingerprints p ON p.entity_type = '{e}' AND p.unique_id = f.unique_id
                                AND p.fingerprint = f.fingerprint""")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE changed_{e} AS
        SELECT unique_id FROM fp_{e} ANTI JOIN unchanged_{e} USING (unique_id)""")
    n_changed = con.execute(f"SELECT count(*) FROM changed_{e}").fetchall()[0][0]
    if n_changed == n_records:
        return full("every record new or changed")
    return Plan(False, "incremental", n_changed, fingerprint)


def score_changed(engine: LinkageEngine, spec: EntitySpec, linker: Linker, sources: list[str],
                  fetch_pairs: Callable[[object, str], None], pair_floor: float) -> None:
    """pairs_<entity>: the unchanged records' pairs among themselves from the previous run, plus every pair a new or
    changed record is in, scored now against all current records."""
    con, e = engine.con, spec.entity_type
    kept = f"""SELECT p.* FROM prev_pairs_{e} p
        SEMI JOIN unchanged_{e} l ON l.unique_id = p.unique_id_l
        SEMI JOIN unchanged_{e} r ON r.unique_id = p.unique_id_r"""
    sides: dict[str, list] = {}
    for side in ("changed", "unchanged"):
        sdfs = []
        for source in sources:
            name = f"{side}_in_{e}_{source}"
            con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT i.* FROM {spec.input_table} i "
                        f"SEMI JOIN {side}_{e} s USING (unique_id) WHERE i.source = '{source}'")
            if con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0]:
                # the full run's display name: Splink's source_dataset, and so its pair orientation
                sdfs.append(engine.register(name, source))
        sides[side] = sdfs
    if not sides["changed"]:
        con.execute(f"CREATE OR REPLACE TEMP TABLE pairs_{e} AS {kept}")
        return
    everything = [engine.register(f"in_{e}_{source}", source) for source in sources]
    # Splink orders a pair's two records by source dataset, then unique id, and predict() keeps the pair once in
    # that order; predict_between keeps its left role on the left. So each call keeps only the pairs already in
    # that order: (all, changed) gives the changed-changed pairs and unchanged-changed ones, (changed, unchanged)
    # the changed-unchanged ones. No pair is then scored with its two records swapped.
    parts = []
    for n, (left, right) in enumerate(((everything, sides["changed"]), (sides["changed"], sides["unchanged"]))):
        if not left or not right:
            continue
        scored = linker.inference.predict_between(left, right, threshold_match_probability=pair_floor,
                                                  warning_mode="never")
        table = f"scored_{e}_{n}"
        fetch_pairs(scored, table)
        parts.append(f"SELECT * FROM {table} "
                     "WHERE source_l || '-__-' || unique_id_l < source_r || '-__-' || unique_id_r")
    con.execute(f"CREATE OR REPLACE TEMP TABLE pairs_{e} AS {' UNION ALL '.join(parts)} UNION ALL BY NAME {kept}")


def fingerprint_query(con, plans: Mapping[str, Plan]) -> str:
    """The query reading this run's linkage.record_fingerprints: what the next run compares against."""
    parts = [f"SELECT '{e}' AS entity_type, unique_id, fingerprint, '{p.model_fingerprint}' AS model_fingerprint "
             f"FROM fp_{e}" for e, p in plans.items() if _exists(con, f"fp_{e}")]
    return (" UNION ALL ".join(parts) if parts else
            "SELECT NULL::VARCHAR AS entity_type, NULL::VARCHAR AS unique_id, NULL::VARCHAR AS fingerprint, "
            "NULL::VARCHAR AS model_fingerprint WHERE FALSE")


def _exists(con, name: str) -> bool:
    return bool(con.execute("SELECT 1 FROM duckdb_tables() WHERE table_name = ?", [name]).fetchall())
