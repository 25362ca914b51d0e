"""Link every staged record: organizations first, then configurations and contacts inside linked organizations, then
the marts (clusters, duplicates with cause and keep, orphans, pair tables with match weights) and run history.

`link_staging` is the whole step as a plain function over staging frames (tests and benchmarks call it directly);
`run_linkage` reads a warehouse and writes its results back in one transaction; `train_models` retrains the models.
"""

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import pyarrow as pa
from splink import Linker

from pipelines.linkage import charts as charts_mod
from pipelines.linkage import incremental, kept_apart
from pipelines.linkage.backend import Backend, LinkageEngine, create_engine
from pipelines.linkage.dialect import settings_in
from pipelines.linkage.models import (
    ModelMismatch,
    ModelStore,
    OnMismatch,
    settings_for,
    train,
    with_link_type,
)
from pipelines.linkage.settings import ENTITY_TYPES, SOURCE_ROLES, SPECS, EntitySpec
from pipelines.sources.base import ENTITY_TABLES
from pipelines.warehouse import SQL_DIR, Warehouse, table_exists

log = logging.getLogger(__name__)

STAGING_TABLES = ENTITY_TABLES
# "priors": score with the domain priors of settings.py, neither loading nor training (tiny tenants, tests)
TrainMode = Literal["if_missing", "always", "never", "priors"]


@dataclass
class LinkageOptions:
    """How a run links. Defaults are the weekly run's."""

    backend: Backend = "duckdb"
    train: TrainMode = "if_missing"        # "never": a missing model is an error; "always": retrain every run
    on_model_mismatch: OnMismatch = "retrain"
    charts: bool = True
    threads: int | None = None
    memory_limit: str | None = None
    max_u_pairs: float = 2e6
    max_orgs_per_anchor: int | None = None  # default: two per source present
    max_first_token_block: int = 60          # organizations sharing a first name word beyond this are not blocked on it
    max_machines_per_block: int = 8          # a serial or MAC more machines of one system carry is not blocked on
    burst_min_records: int = 4               # manual records within burst_seconds either side: an import burst
    burst_seconds: int = 180                 # records made this close together were made in "the same minutes"
    pair_floor: float = 0.01                 # pairs below this probability are not kept in the pair tables
    # a full prediction scores the records in chunks of this many (Splink's num_chunks_right): at 10M configurations
    # one pass held ~100M blocked pairs with both records' columns and spilled past 45 GB; chunks are scored,
    # narrowed and dropped one at a time, and a tenant up to this size is one chunk
    predict_chunk_records: int = 1_000_000
    fresh_hours: int = 12                    # a source extracted this long before IT Glue is still this run's
    thresholds: dict[str, float] = field(default_factory=dict)  # per entity type, else the spec's
    full_relink: bool = False                # score every record, not only those new or changed since the last run


@dataclass
class LinkageResult:
    """What a run produced: tables by schema-qualified name, metadata, chart paths, stage timings."""

    tables: dict[str, pa.Table]  # empty when link_staging wrote them to a warehouse (run_linkage)
    metrics: dict
    charts: dict[str, str]
    models: dict[str, dict]
    timings: dict[str, float]


def _sql(relative: str, **params: object) -> str:
    text = (SQL_DIR / "marts" / relative).read_text()
    for key, value in params.items():
        text = text.replace("{" + key + "}", str(int(value)))  # numeric parameters only
    return text


def _load_staging(engine: LinkageEngine, staging: Mapping[str, object]) -> None:
    """stg_<table> for each entity: the staged frame on the staging shape (missing columns NULL, types fixed). A value
    is a frame (polars, Arrow, a Parquet dataset, a stream) or the name of a table the engine reads directly."""
    con = engine.con
    con.execute((SQL_DIR / "staging" / "shape.sql").read_text())
    for table in STAGING_TABLES.values():
        frame = staging.get(table)
        if frame is None:
            con.execute(f"CREATE OR REPLACE TEMP TABLE stg_{table} AS SELECT * FROM {table}_shape")
            continue
        with engine.scan(frame) as incoming:
            cols = [r[0] for r in con.execute(f"DESCRIBE {table}_shape").fetchall()]
            present = {r[0] for r in con.execute(f"DESCRIBE {incoming}").fetchall()}
            # BY NAME onto the shape: columns a hand-built or older frame lacks are NULL, types follow the shape
            con.execute(f"CREATE OR REPLACE TEMP TABLE stg_{table} AS SELECT * FROM {table}_shape "
                        f"UNION ALL BY NAME SELECT {', '.join(c for c in cols if c in present)} FROM {incoming}")
    roles = [(s, r, t) for s, (r, t) in SOURCE_ROLES.items()]
    con.execute("CREATE OR REPLACE TEMP TABLE source_roles (source VARCHAR, role VARCHAR, psa_link_target VARCHAR)")
    con.executemany("INSERT INTO source_roles VALUES (?, ?, ?)", roles)


def _load_history(engine: LinkageEngine, history: Mapping[str, object] | None, run_at: datetime) -> None:
    con = engine.con
    con.execute("CREATE OR REPLACE TEMP TABLE run_meta AS SELECT ?::TIMESTAMPTZ AS run_at", [run_at])
    kept_apart.load(con, (history or {}).get("kept_apart"))
    shapes = {
        "record_history": "entity_type VARCHAR, source VARCHAR, source_id VARCHAR, first_seen TIMESTAMPTZ, "
                          "last_seen TIMESTAMPTZ",
        "link_history": "entity_type VARCHAR, source VARCHAR, source_id VARCHAR, partner_source VARCHAR, "
                        "partner_source_id VARCHAR, first_seen TIMESTAMPTZ, last_seen TIMESTAMPTZ",
    }
    for name, shape in shapes.items():
        con.execute(f"CREATE OR REPLACE TEMP TABLE prev_{name} ({shape})")
        frame = (history or {}).get(name)
        if frame is not None:
            with engine.scan(frame, "_hist") as hist:
                con.execute(f"INSERT INTO prev_{name} BY NAME SELECT * FROM {hist}")


def _temp_tables(con) -> set[str]:
    return {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall()}


def _tf_columns(settings) -> list[str]:
    doc = settings if isinstance(settings, dict) else settings.get_settings("duckdb").as_dict()
    return sorted({lvl["tf_adjustment_column"] for c in doc["comparisons"] for lvl in c["comparison_levels"]
                   if lvl.get("tf_adjustment_column")})


def _register_tf_tables(engine: LinkageEngine, linker: Linker, spec: EntitySpec, settings: dict) -> None:
    """Term frequencies relative to a value held once per system. A device is in three or four systems, so a serial
    seen four times across them is one device's; one that forty records of one system carry is a VM clone's. The
    lookup is u x (most records of one system holding the value): a value held once per system keeps the level's
    weight, whatever the tenant's size, and a value held by 40 loses log2(40) bits."""
    con = engine.con
    u_of = {lvl["tf_adjustment_column"]: lvl.get("u_probability") for c in settings["comparisons"]
            for lvl in c["comparison_levels"] if lvl.get("tf_adjustment_column")}
    for col, u in sorted(u_of.items()):
        table = f"tf_{spec.entity_type}_{col}"
        # An organization name IT Glue holds three times is a duplicated organization, not a common name: how
        # common a name is, is counted in the PSA and RMM (one company or site per client), IT Glue only where they
        # do not hold it
        weight = ("CASE WHEN r.role = 'documentation' THEN 0.5 ELSE 1 END"
                  if spec.entity_type == "organization" and col == "name_norm" else "1")
        con.execute(f"""CREATE OR REPLACE TEMP TABLE {table} AS
            SELECT "{col}", least(1.0, {float(u or 1e-4)} * greatest(1, max(n))) AS "tf_{col}" FROM (
                SELECT "{col}", source, count(*)::DOUBLE * {weight} AS n FROM {spec.input_table}
                LEFT JOIN source_roles r USING (source)
                WHERE "{col}" IS NOT NULL GROUP BY "{col}", source, r.role)
            GROUP BY 1""")
        linker.table_management.register_term_frequency_lookup(engine.register(table, table), col)


def _model_settings(engine: LinkageEngine, spec: EntitySpec, store: ModelStore, options: LinkageOptions,
                    link_type: str, sdfs: list, n_records: int) -> tuple[dict | object, dict]:
    """Settings to score with: the saved model, or a freshly trained one (saved) when allowed."""
    info: dict = {"path": str(store.path(spec.entity_type))}
    per_source = n_records / max(1, len(sdfs))
    if options.train == "priors":
        return settings_for(spec, link_type, per_source), {"source": "domain priors"}
    if options.train != "always" and store.exists(spec.entity_type):
        try:
            settings = store.load(spec)
            info["source"] = "loaded"
            return with_link_type(settings, link_type), info
        except ModelMismatch as exc:
            if options.on_model_mismatch == "fail":
                raise
            log.warning("%s; retraining", exc)
            info["mismatch"] = str(exc)
    elif options.train == "never":
        raise ModelMismatch(f"no linkage model at {store.path(spec.entity_type)} and training is off: run the "
                            "retrain_linkage_models job first")
    linker = Linker(sdfs, settings_for(spec, link_type, per_source), log_level=logging.ERROR)
    _register_tf_tables(engine, linker, spec, linker._settings_obj.as_dict())
    info["training_log"] = train(linker, spec, n_records, max_pairs=options.max_u_pairs)
    info["source"] = "trained"
    store.save(spec, linker, info["training_log"])
    return linker.misc.save_model_to_json(out_path=None), info


def _link_entity(engine: LinkageEngine, spec: EntitySpec, store: ModelStore, options: LinkageOptions,
                 charts_dir: Path | None, timings: dict) -> dict:
    """Predict, keep the pair table, cluster. Leaves pairs_<e>, edges_<e>, clusters_<e> in the engine's connection."""
    con, e = engine.con, spec.entity_type
    t0 = time.perf_counter()
    params = {"max_orgs_per_anchor": options.max_orgs_per_anchor or 0,
              "max_first_token_block": options.max_first_token_block,
              "max_machines_per_block": options.max_machines_per_block}
    if e == "organization" and not options.max_orgs_per_anchor:
        n_sources = con.execute("SELECT count(DISTINCT source) FROM stg_organizations").fetchall()[0][0]
        params["max_orgs_per_anchor"] = max(2, 2 * n_sources)
    before = _temp_tables(con)
    input_sql = _sql(spec.input_sql, **params)
    con.execute(input_sql)
    for table in _temp_tables(con) - before - {spec.input_table}:
        con.execute(f"DROP TABLE {table}")  # the input SQL's own steps (organizations: the anchors), consumed
    sources = [r[0] for r in con.execute(
        f"SELECT source FROM {spec.input_table} GROUP BY 1 ORDER BY 1").fetchall()]
    n_records = con.execute(f"SELECT count(*) FROM {spec.input_table}").fetchall()[0][0]
    timings[f"{e}.prepare"] = time.perf_counter() - t0
    info: dict = {"records": n_records, "sources": sources}
    threshold = options.thresholds.get(e, spec.threshold)

    empty_pairs = "unique_id_l VARCHAR, unique_id_r VARCHAR, match_probability DOUBLE, match_weight DOUBLE"
    if n_records < 2:
        # nothing to compare: every record (if any) is its own cluster, and no model is needed
        con.execute(f"CREATE OR REPLACE TEMP TABLE pairs_{e} ({empty_pairs}, source_l VARCHAR, source_id_l VARCHAR, "
                    "source_r VARCHAR, source_id_r VARCHAR, is_certain BOOLEAN)")
        con.execute(f"CREATE OR REPLACE TEMP TABLE edges_{e} ({empty_pairs})")
        con.execute(f"CREATE OR REPLACE TEMP TABLE clusters_{e} AS "
                    f"SELECT unique_id, unique_id AS cluster_id FROM {spec.input_table}")
        info["model"] = {"source": "not needed"}
        return info

    link_type = "link_and_dedupe" if len(sources) > 1 else "dedupe_only"
    sdfs = []
    for source in sources:
        con.execute(f"CREATE OR REPLACE TEMP TABLE in_{e}_{source} AS "
                    f"SELECT * FROM {spec.input_table} WHERE source = '{source}'")
        sdfs.append(engine.register(f"in_{e}_{source}", source))
    if link_type == "dedupe_only":
        sdfs = sdfs[0]
    t0 = time.perf_counter()
    settings, info["model"] = _model_settings(engine, spec, store, options, link_type, sdfs if isinstance(sdfs, list)
                                              else [sdfs], n_records)
    timings[f"{e}.train"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    linker = Linker(sdfs, settings_in(settings, engine.backend), log_level=logging.ERROR)
    settings_doc = linker._settings_obj.as_dict()
    _register_tf_tables(engine, linker, spec, settings_doc)
    certain = " OR ".join([f'coalesce("{c}_l" = "{c}_r", FALSE)' for c in spec.certain_columns]
                          + [f'coalesce(list_has_any("{c}_l", "{c}_r"), FALSE)' for c in spec.certain_lists]) or "FALSE"

    def fetch_pairs(scored, table: str) -> None:
        # what the pair table keeps: every comparison's values, agreement level (gamma_*) and match weight (mw_*),
        # not Splink's Bayes factors and term frequencies (bf_*, tf_*: the weights say it), the source dataset names
        # (absent when deduping one source) or the organizations' shared pair keys (long lists, read only by the
        # certain rule)
        kept = [n for n in (c.unquote().name for c in scored.columns)
                if n not in ("source_dataset_l", "source_dataset_r")
                and not n.startswith(("bf_", "tf_", "shared_pair_keys"))]
        engine.fetch(scored, table, columns=", ".join(f'"{n}"' for n in kept) + f", ({certain}) AS is_certain")

    # only the records new or changed since the last run are scored, unless the model or the code changed
    plan = incremental.plan(engine, spec, incremental.portable_model(settings), _tf_columns(settings_doc),
                            input_sql=input_sql,
                            pair_floor=options.pair_floor, certain_sql=certain, n_records=n_records,
                            full_relink=options.full_relink, trained=info["model"].get("source") == "trained")
    info.update(plan=plan, scored_records=plan.scored_records, relink=plan.reason)
    predictions = None
    if plan.full:
        chunks = max(1, math.ceil(n_records / max(1, options.predict_chunk_records)))
        info["predict_chunks"] = chunks
        if chunks == 1:
            predictions = linker.inference.predict(threshold_match_probability=options.pair_floor)
            fetch_pairs(predictions, f"pairs_{e}")
        else:
            # each chunk narrowed to the pair table's columns as soon as it is scored, then dropped (the first is
            # kept for the charts): Splink's own chunked predict keeps every chunk whole with all its columns and
            # copies them into one more table, 61 GB spilled at 10M configurations
            for n in range(1, chunks + 1):
                scored = linker.inference.predict_chunk(left_chunk=(1, 1), right_chunk=(n, chunks),
                                                        threshold_match_probability=options.pair_floor,
                                                        warning_mode="never")
                fetch_pairs(scored, f"pairs_{e}" if n == 1 else f"pairs_{e}_chunk")
                if n == 1:
                    predictions = scored
                    continue
                con.execute(f"INSERT INTO pairs_{e} SELECT * FROM pairs_{e}_chunk")
                con.execute(f"DROP TABLE pairs_{e}_chunk")
                scored.drop_table_from_database_and_remove_from_cache()
    else:
        incremental.score_changed(engine, spec, linker, sources, fetch_pairs, options.pair_floor)
    timings[f"{e}.predict"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    # certain links (a PSA company id an RMM site names, an RMM device uid a PSA item names) join whatever the
    # weights say; the pair table keeps Splink's own probability so the reason stays visible
    con.execute(f"""CREATE OR REPLACE TEMP TABLE edges_{e} AS
        SELECT unique_id_l, unique_id_r, source AS source_dataset_l, source_r AS source_dataset_r,
               CASE WHEN is_certain THEN 1.0 ELSE match_probability END AS match_probability, match_weight
        FROM (SELECT *, source_l AS source FROM pairs_{e})
        WHERE match_probability >= {threshold} OR is_certain""")
    if link_type == "dedupe_only":
        con.execute(f"UPDATE edges_{e} SET source_dataset_l = '{sources[0]}', source_dataset_r = '{sources[0]}'")
    kept_apart.drop_edges(con, e)  # pairs a person dismissed stay apart
    edges = engine.register(f"edges_{e}", f"edges_{e}")
    clustered = linker.clustering.cluster_pairwise_predictions_at_threshold(edges, threshold_match_probability=0.0)
    # cluster ids as the smallest member id: stable across runs while the cluster keeps that member
    engine.fetch(clustered, f"clusters_{e}_raw", columns="unique_id, cluster_id AS splink_cluster_id")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE clusters_{e} AS
        SELECT unique_id, min(unique_id) OVER (PARTITION BY splink_cluster_id) AS cluster_id FROM clusters_{e}_raw""")
    timings[f"{e}.cluster"] = time.perf_counter() - t0

    if charts_dir is not None and options.charts and engine.backend == "duckdb":
        t0 = time.perf_counter()
        if predictions is not None:
            info["charts"] = charts_mod.save_charts(engine, linker, spec, predictions, clustered, charts_dir)
        else:
            # an incremental run has the model of the run that drew them: those charts still describe it
            info["charts"] = charts_mod.existing_charts(spec, charts_dir)
        timings[f"{e}.charts"] = time.perf_counter() - t0
    # Splink's scratch tables (blocked pairs, comparison vectors, predictions, clusters with their input) and this
    # entity's inputs are all consumed by now: dropped, they no longer hold memory (or spill) for the rest of the run
    linker.table_management.delete_tables_created_by_splink_from_db()
    # term frequencies, and the incremental run's scratch (its fp_<entity> stays: the fingerprints are written last)
    scratch = (f"tf_{e}_", f"changed_in_{e}_", f"unchanged_in_{e}_", f"scored_{e}_")
    for table in [*(f"in_{e}_{s}" for s in sources), f"clusters_{e}_raw", spec.input_table,
                  *sorted(t for t in _temp_tables(con) if t.startswith(scratch)),
                  f"changed_{e}", f"unchanged_{e}", f"prev_pairs_{e}"]:
        con.execute(f"DROP TABLE IF EXISTS {table}")
    return info


def link_staging(staging: Mapping[str, object], store: ModelStore, *, history: Mapping[str, object] | None = None,
                 run_at: datetime | None = None, options: LinkageOptions | None = None,
                 charts_dir: Path | None = None, entity_types: tuple[str, ...] = ENTITY_TYPES,
                 write_to: Warehouse | None = None, read_from: Warehouse | None = None) -> LinkageResult:
    """Link staged records of every source and build the marts.

    `staging` maps "organizations"/"configurations"/"contacts" to polars or Arrow frames in the staging shape
    (sql/staging/README.md); a missing or empty one is an empty table. `history` holds the previous run's
    "record_history"/"link_history". Returns tables named like their warehouse tables ("marts.duplicates", ...);
    with `write_to`, the tables are instead written to that warehouse in one transaction as they are read (a
    tenant's pair tables are far larger than anything else the run holds) and `result.tables` is empty. With
    `read_from`, staging and history are read from that warehouse, attached to the engine: no copy in Python (the
    weekly run; `staging` and `history` then add to or replace what it holds, e.g. the dismissed pairs).
    """
    options = options or LinkageOptions()
    run_at = run_at or datetime.now(UTC)
    timings: dict[str, float] = {}
    engine = create_engine(options.backend, threads=options.threads, memory_limit=options.memory_limit)
    try:
        con = engine.con
        t0 = time.perf_counter()
        if read_from is None:
            _load_inputs(engine, staging, history, run_at)
        else:
            with read_from.attached(con, "staged", read_only=True) as alias:
                held = _warehouse_inputs(con, alias)
                _load_inputs(engine, {**held["staging"], **staging}, {**held["history"], **(history or {})}, run_at)
        timings["load"] = time.perf_counter() - t0
        infos: dict[str, dict] = {}
        for e in ENTITY_TYPES:
            spec = SPECS[e]
            if e in entity_types:
                infos[e] = _link_entity(engine, spec, store, options, charts_dir, timings)
            else:
                con.execute(f"CREATE OR REPLACE TEMP TABLE clusters_{e} (unique_id VARCHAR, cluster_id VARCHAR)")
                con.execute(f"CREATE OR REPLACE TEMP TABLE edges_{e} (unique_id_l VARCHAR, unique_id_r VARCHAR, "
                            "match_probability DOUBLE)")
            if e == "organization":
                con.execute("CREATE OR REPLACE TEMP TABLE org_clusters AS SELECT * FROM clusters_organization")
        t0 = time.perf_counter()
        queries = _build_marts(engine, entity_types, options)
        plans = {e: i["plan"] for e, i in infos.items() if "plan" in i}
        queries[f"linkage.{incremental.FINGERPRINTS}"] = incremental.fingerprint_query(con, plans)
        timings["marts"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        if write_to is None:
            tables = {name: con.sql(query).to_arrow_table() for name, query in queries.items()}
            row_counts = {name: t.num_rows for name, t in tables.items()}
        else:
            tables, row_counts = {}, _write_marts(engine, queries, write_to)
        timings["write"] = time.perf_counter() - t0
        metrics = _metrics(engine, row_counts)
        # how much of the run was scored: 0 records on a tenant unchanged since the last run
        metrics["scored_records"] = {e: i.get("scored_records", i["records"]) for e, i in infos.items()}
        metrics["relink"] = {e: i.get("relink", "nothing to compare") for e, i in infos.items()}
        charts = {f"{e}_{k}": v for e, i in infos.items() for k, v in i.get("charts", {}).items()}
        models = {e: i.get("model", {}) for e, i in infos.items()}
        return LinkageResult(tables=tables, metrics=metrics, charts=charts, models=models, timings=timings)
    finally:
        engine.close()


def _load_inputs(engine: LinkageEngine, staging: Mapping[str, object], history: Mapping[str, object] | None,
                 run_at: datetime) -> None:
    _load_staging(engine, staging)
    _load_history(engine, history, run_at)
    incremental.load_previous(engine, history)


def _warehouse_inputs(con, alias: str) -> dict[str, dict[str, str]]:
    """The names of the staging tables and the previous run's history in a warehouse attached as `alias` (absent
    ones left out), for link_staging's `staging` and `history`."""
    held = {(s, t) for s, t in con.execute(
        "SELECT table_schema, table_name FROM information_schema.tables WHERE table_catalog = ?", [alias]).fetchall()}
    staging = {t: f'{alias}.staging."{t}"' for t in STAGING_TABLES.values() if ("staging", t) in held}
    history = {n: f'{alias}.linkage."{n}"' for n in ("record_history", "link_history") if ("linkage", n) in held}
    history.update({name: f'{alias}.{schema}."{name}"' for schema, name in incremental.previous_table_names()
                    if (schema, name) in held})
    return {"staging": staging, "history": history}


def _build_marts(engine: LinkageEngine, entity_types: tuple[str, ...], options: LinkageOptions) -> dict[str, str]:
    """Build the marts in the engine's connection; returns the query that reads each output table."""
    con = engine.con
    con.execute(_sql("linkage/records.sql"))
    con.execute("CREATE OR REPLACE TEMP TABLE linkage_edges AS " + " UNION ALL ".join(
        f"SELECT '{e}' AS entity_type, unique_id_l, unique_id_r, match_probability FROM edges_{e}"
        for e in ENTITY_TYPES))
    # every scored pair (not only those above the threshold): a copy to delete must itself be sure to be the survivor's
    con.execute("CREATE OR REPLACE TEMP TABLE linkage_pairs AS " + " UNION ALL ".join(
        f"SELECT '{e}' AS entity_type, unique_id_l, unique_id_r, "
        f"CASE WHEN is_certain THEN 1.0 ELSE match_probability END AS match_probability FROM pairs_{e}"
        if e in entity_types else
        f"SELECT '{e}' AS entity_type, NULL::VARCHAR AS unique_id_l, NULL::VARCHAR AS unique_id_r, "
        "NULL::DOUBLE AS match_probability WHERE FALSE"
        for e in ENTITY_TYPES))
    con.execute(_sql("duplicates.sql", burst_min_records=options.burst_min_records,
                     burst_seconds=options.burst_seconds))
    con.execute(_sql("orphans.sql", fresh_hours=options.fresh_hours))
    con.execute(_sql("organization_names.sql"))  # organization_name on duplicates and orphans
    con.execute(_sql("history.sql"))
    queries = {
        "marts.entity_clusters": "SELECT entity_type, cluster_id, source, source_id, cluster_size "
                                 "FROM entity_clusters ORDER BY entity_type, cluster_id, source, source_id",
        "marts.duplicates": "SELECT * FROM duplicates ORDER BY entity_type, cluster_id, source, role DESC, source_id",
        "marts.orphans": "SELECT * FROM orphans ORDER BY entity_type, reason, source_id",
        "linkage.record_history": "SELECT * FROM record_history",
        "linkage.link_history": "SELECT * FROM link_history",
    }
    for e in entity_types:
        # why two records are one thing: every comparison's agreement level (gamma_*) and match weight (mw_*); the
        # pair table was fetched with only those columns (_link_entity). Not sorted: a million wide pairs sorted by
        # weight under the memory limit took 9 of a run's 63 s, and whoever reads them says the order they want
        queries[f"marts.match_pairs_{STAGING_TABLES[e]}"] = f"SELECT '{e}' AS entity_type, * FROM pairs_{e}"
    return queries


def _write_marts(engine: LinkageEngine, queries: dict[str, str], warehouse: Warehouse) -> dict[str, int]:
    """Swap every output table in one transaction (a failed run leaves the previous marts whole). The warehouse is
    attached to the engine's own connection, so each table is written by DuckDB from the engine's tables in parallel
    and within the engine's one memory limit: nothing passes through Python. Returns the row counts."""
    counts: dict[str, int] = {}
    con = engine.con
    with warehouse.attached(con, "warehouse") as wh:
        con.execute("BEGIN TRANSACTION")
        try:
            for qualified, query in queries.items():
                schema, name = qualified.split(".")
                con.execute(f'CREATE OR REPLACE TABLE {wh}.{schema}."{name}" AS {query}')
                counts[qualified] = con.execute(f'SELECT count(*) FROM {wh}.{schema}."{name}"').fetchall()[0][0]
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return counts


def _metrics(engine: LinkageEngine, row_counts: dict[str, int]) -> dict:
    con = engine.con
    by_cause = con.execute("SELECT entity_type, cause, count(*) FILTER (WHERE role = 'duplicate') "
                           "FROM duplicates GROUP BY ALL ORDER BY ALL").fetchall()
    by_reason = con.execute("SELECT entity_type, reason, count(*) FROM orphans GROUP BY ALL ORDER BY ALL").fetchall()
    clusters = con.execute("SELECT entity_type, count(*), count(DISTINCT cluster_id) FROM entity_clusters "
                           "GROUP BY ALL ORDER BY ALL").fetchall()
    return {
        "row_counts": row_counts,
        "records_and_clusters": {e: {"records": n, "clusters": c} for e, n, c in clusters},
        "duplicates_by_cause": {f"{e}.{c}": n for e, c, n in by_cause},
        "orphans_by_reason": {f"{e}.{r}": n for e, r, n in by_reason},
    }


def default_model_dir(warehouse: Warehouse) -> Path:
    """Models live beside the tenant's warehouse file (see pipelines.linkage.models)."""
    return warehouse.path.parent / "linkage_models"


def default_charts_dir(warehouse: Warehouse) -> Path:
    return warehouse.path.parent / "linkage_charts"


def read_staging(warehouse: Warehouse) -> tuple[dict[str, pa.Table], dict[str, pa.Table]]:
    """Staging tables and the previous run's history from the warehouse as Arrow (absent tables are left out): for
    tests and benchmarks that link them by hand; the weekly run reads them in place (`run_linkage`)."""
    staging, history = {}, {}
    with warehouse.connect() as con:
        for table in STAGING_TABLES.values():
            if table_exists(con, "staging", table):
                staging[table] = con.sql(f"SELECT * FROM staging.{table}").to_arrow_table()
        for name in ("record_history", "link_history"):
            if table_exists(con, "linkage", name):
                history[name] = con.sql(f"SELECT * FROM linkage.{name}").to_arrow_table()
        history.update(_dismissed(con))
        for schema, name in incremental.previous_table_names():  # what the last run scored
            if table_exists(con, schema, name):
                history[name] = con.sql(f'SELECT * FROM {schema}."{name}"').to_arrow_table()
    return staging, history


def _dismissed(con) -> dict[str, pa.Table]:
    """The pairs a person dismissed, for `history` (their signatures are checked in Python, so read here)."""
    dismissed = kept_apart.read(con)
    return {} if dismissed is None else {"kept_apart": dismissed}


def write_results(warehouse: Warehouse, result: LinkageResult) -> None:
    """Swap every output table in one transaction: a failed run leaves the previous marts whole."""
    with warehouse.connect() as con:
        con.execute("BEGIN TRANSACTION")
        try:
            for qualified, table in result.tables.items():
                schema, name = qualified.split(".")
                con.register("_out", table)
                con.execute(f'CREATE OR REPLACE TABLE {schema}."{name}" AS SELECT * FROM _out')
                con.unregister("_out")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise


def run_linkage(warehouse: Warehouse, *, options: LinkageOptions | None = None,
                model_dir: Path | None = None, charts_dir: Path | None = None) -> LinkageResult:
    """The weekly step: link the warehouse's staging tables with the saved models (trained if missing), write the
    marts and history back. Returns the result (metrics, chart paths) for the asset's metadata."""
    with warehouse.connect(read_only=True) as con:
        dismissed = _dismissed(con)
    store = ModelStore(model_dir or default_model_dir(warehouse))
    # staging and last week's pairs are read where they are (a weekly run's largest inputs), not copied through Python
    return link_staging({}, store, history=dismissed, options=options,
                        charts_dir=charts_dir or default_charts_dir(warehouse), read_from=warehouse, write_to=warehouse)


def train_models(warehouse: Warehouse, *, model_dir: Path | None = None,
                 options: LinkageOptions | None = None) -> dict[str, dict]:
    """Retrain all three models on the warehouse's current staging data and save them (the
    retrain_linkage_models job). Configurations and contacts are trained inside the organization clusters the new
    organization model finds, exactly as the weekly run will use them. Marts are not written."""
    options = options or LinkageOptions()
    options = LinkageOptions(**{**options.__dict__, "train": "always", "charts": False})
    staging, history = read_staging(warehouse)
    store = ModelStore(model_dir or default_model_dir(warehouse))
    result = link_staging(staging, store, history=history, options=options)
    return result.models
