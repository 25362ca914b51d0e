"""The reference for benchmarks/linkage_speed.py: plain Splink, one generic model per entity type, no domain features.

What a team would write from Splink's tutorials: the staged records of every source in one dedupe model per entity type,
comparisons from `splink.comparison_library` on the staged match fields, blocking on each strong identifier, u by
random sampling, m by EM on two blocks, predict, cluster at 0.9. No organizations first, no term frequencies by
system, no certain links, no marts: less than msp-recon does, on the same staged tables.
"""

import logging
import time

import polars as pl
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on
from splink.internals.exceptions import EMTrainingException

MODELS = {
    "organizations": {
        "columns": ["name_norm", "domain", "phone_digits"],
        "comparisons": lambda: [cl.JaroWinklerAtThresholds("name_norm", [0.95, 0.85]), cl.ExactMatch("domain"),
                                cl.ExactMatch("phone_digits")],
        "blocking": lambda: [block_on("name_norm"), block_on("domain"), block_on("phone_digits")],
        "training": lambda: [block_on("name_norm"), block_on("phone_digits")],
    },
    "configurations": {
        "columns": ["name_norm", "hostname_norm", "serial_norm", "mac_norm", "ip"],
        "comparisons": lambda: [cl.JaroWinklerAtThresholds("hostname_norm", [0.95, 0.85]),
                                cl.ExactMatch("serial_norm"), cl.ExactMatch("mac_norm"), cl.ExactMatch("ip"),
                                cl.ExactMatch("name_norm")],
        # not on the hostname alone: DC01 and WS-001 exist at every client, a block of thousands
        "blocking": lambda: [block_on("serial_norm"), block_on("mac_norm"), block_on("hostname_norm", "ip")],
        "training": lambda: [block_on("serial_norm"), block_on("mac_norm")],
    },
    "contacts": {
        "columns": ["first_name_norm", "last_name_norm", "email_norm", "phone_digits"],
        "comparisons": lambda: [cl.JaroWinklerAtThresholds("first_name_norm", [0.9]),
                                cl.JaroWinklerAtThresholds("last_name_norm", [0.9]), cl.ExactMatch("email_norm"),
                                cl.ExactMatch("phone_digits")],
        "blocking": lambda: [block_on("email_norm"), block_on("last_name_norm", "first_name_norm"),
                             block_on("phone_digits")],
        "training": lambda: [block_on("email_norm"), block_on("last_name_norm")],
    },
}


def link_plain(staging: dict[str, pl.DataFrame], threads: int, memory_limit: str) -> dict:
    """Train, predict and cluster each entity type; returns seconds per stage and output sizes."""
    timings, sizes = {}, {}
    for table, model in MODELS.items():
        frame = staging[table]
        db_api = DuckDBAPI()
        db_api.duckdb_con.execute(f"SET threads = {threads}")
        db_api.duckdb_con.execute(f"SET memory_limit = '{memory_limit}'")
        records = frame.select(
            (pl.col("source") + ":" + pl.col("source_id")).alias("unique_id"), *model["columns"]).to_arrow()
        db_api.duckdb_con.register("records_arrow", records)
        db_api.duckdb_con.execute("CREATE TABLE records AS SELECT * FROM records_arrow")
        sdf = db_api.register("records")
        settings = SettingsCreator(link_type="dedupe_only", comparisons=model["comparisons"](),
                                   blocking_rules_to_generate_predictions=model["blocking"]())
        started = time.perf_counter()
        linker = Linker(sdf, settings, log_level=logging.ERROR)
        linker.training.estimate_u_using_random_sampling(max_pairs=2e6)
        for rule in model["training"]():
            try:
                linker.training.estimate_parameters_using_expectation_maximisation(rule)
            except EMTrainingException:  # a block with no pairs in this tenant: train on the others
                continue
        timings[f"{table}.train"] = time.perf_counter() - started
        started = time.perf_counter()
        predictions = linker.inference.predict(threshold_match_probability=0.01)
        timings[f"{table}.predict"] = time.perf_counter() - started
        started = time.perf_counter()
        clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, 0.9)
        sizes[table] = db_api.duckdb_con.execute(
            f"SELECT count(*), count(DISTINCT cluster_id) FROM {clusters.physical_name}").fetchall()[0]
        timings[f"{table}.cluster"] = time.perf_counter() - started
        db_api.duckdb_con.close()
    return {"timings": timings, "records_and_clusters": sizes}
