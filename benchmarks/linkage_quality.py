"""Linkage quality on the sandbox: pairwise precision/recall/F1 per entity type against the World's ground truth,
precision on the pairs a cleanup acts on, cause accuracy, orphan precision/recall, the hard cases, and the same
pairwise scores for IT Glue's own exact-match rules (the baseline).

The real path: each seed's World is served over HTTP by the sandbox, every source is extracted by its connector,
staged by sql/staging/, linked by pipelines.linkage (model trained on the first run, as the weekly job does).
Tuned on seeds 1-3; report on held-out seeds:

    .venv/bin/python benchmarks/linkage_quality.py --seeds 7 8 9 --scale 40
"""

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

from pipelines.linkage import scoring
from pipelines.linkage.models import ModelStore
from pipelines.linkage.pipeline import LinkageOptions, link_staging, read_staging
from pipelines.sandbox.server import RunningSandbox, Sandbox, env_for
from pipelines.sandbox.world import build_world
from pipelines.sources import get_source
from pipelines.staging import build_staging
from pipelines.warehouse import Warehouse


def stage_world(world, directory: Path) -> dict[str, pl.DataFrame]:
    """Serve the World, extract every source over HTTP, stage; returns the staging frames."""
    sources = ("itglue", world.psa, "datto_rmm", "ninjaone")
    warehouse = Warehouse(directory / "warehouse.duckdb")
    with RunningSandbox(Sandbox(world)) as running:
        env = env_for(running.url, sources)
        for name in sources:
            source = get_source(name)
            extraction = asyncio.run(source.extract(source.config_from(env), lambda table: None))
            warehouse.replace_tables("raw", extraction.frames)
    with warehouse.connect() as con:
        build_staging(con, sources)
    staging, _ = read_staging(warehouse)
    return {k: pl.from_arrow(v) for k, v in staging.items()}


def hard_case_scores(clusters: pl.DataFrame, truth, sources: set[str]) -> dict:
    """Share of hard negatives kept apart and hard positives put together, per case. Only pairs whose two records
    come from extracted `sources`: the World lists each PSA pair in both PSA shapes, and the PSA that is not
    extracted has no records to put anywhere."""
    key = clusters.select("entity_type", "source", "source_id", "cluster_id")
    out = {}
    for name, frame, want_same in (("negative", truth.hard_negatives, False), ("positive", truth.hard_positives, True)):
        if frame is None or frame.height == 0:
            continue
        frame = frame.filter(pl.col("source_a").is_in(sorted(sources)) & pl.col("source_b").is_in(sorted(sources)))
        j = (frame.join(key, left_on=["entity_type", "source_a", "source_id_a"],
                        right_on=["entity_type", "source", "source_id"], how="left")
             .join(key, left_on=["entity_type", "source_b", "source_id_b"],
                   right_on=["entity_type", "source", "source_id"], how="left", suffix="_b"))
        j = j.with_columns(((pl.col("cluster_id") == pl.col("cluster_id_b")).fill_null(False) == want_same)
                           .alias("ok"))
        for (case,), g in j.group_by(["case"]):
            out[f"{name}:{case}"] = f"{g['ok'].sum()}/{g.height}"
    return out


def score_seed(seed: int, scale: int) -> dict:
    world = build_world(seed=seed, scale=scale)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        started = time.perf_counter()
        staging = stage_world(world, tmp)
        staged = time.perf_counter() - started
        started = time.perf_counter()
        result = link_staging(staging, ModelStore(tmp / "models"), options=LinkageOptions(charts=False))
        link_seconds = time.perf_counter() - started
    truth = world.truth
    linked = {k: v for k, v in staging.items()}
    present = pl.concat([f.select("source") for f in linked.values()]).unique()
    truth_entities = truth.entities.join(present, on="source", how="semi")
    truth_dups = truth.duplicates.join(present, on="source", how="semi")
    clusters = pl.from_arrow(result.tables["marts.entity_clusters"])
    duplicates = pl.from_arrow(result.tables["marts.duplicates"])
    orphans = pl.from_arrow(result.tables["marts.orphans"])
    baseline = scoring.exact_match_baseline(staging)
    return {
        "seed": seed, "scale": scale, "stage_s": round(staged, 1), "link_s": round(link_seconds, 1),
        "pairwise": scoring.pairwise_scores(clusters, truth.entities).to_dicts(),
        "baseline": scoring.pairwise_scores(baseline, truth.entities).to_dicts(),
        "cleanup_pairs": scoring.cleanup_pair_scores(duplicates, truth_entities, truth_dups).to_dicts(),
        "cause_accuracy": scoring.cause_accuracy(duplicates, truth_dups),
        "orphans": scoring.orphan_scores(orphans, truth.orphans),
        "hard_cases": hard_case_scores(clusters, truth, set(present["source"].to_list())),
    }


def print_table(results: list[dict]) -> None:
    print("| seed | entity | P | R | F1 | baseline P | baseline R | baseline F1 | cleanup-pair P | cleanup-pair R |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        base = {b["entity_type"]: b for b in r["baseline"]}
        clean = {c["entity_type"]: c for c in r["cleanup_pairs"]}
        for p in r["pairwise"]:
            e = p["entity_type"]
            b, c = base.get(e, {}), clean.get(e, {})
            print(f"| {r['seed']} | {e} | {p['precision']:.3f} | {p['recall']:.3f} | {p['f1']:.3f} | "
                  f"{b.get('precision', 0):.3f} | {b.get('recall', 0):.3f} | {b.get('f1', 0):.3f} | "
                  f"{c.get('precision', 0):.3f} | {c.get('recall', 0):.3f} |")
    print()
    print("| seed | cause accuracy | orphan P | orphan R | orphan reason acc. | hard cases |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in results:
        o, ca = r["orphans"], r["cause_accuracy"]
        print(f"| {r['seed']} | {ca['all']:.3f} (n={ca['n']}) | {o['precision']:.3f} | {o['recall']:.3f} | "
              f"{(o['reason_accuracy'] or 0):.3f} | {', '.join(f'{k} {v}' for k, v in r['hard_cases'].items())} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 8, 9])
    parser.add_argument("--scale", type=int, default=40)
    parser.add_argument("--json", type=Path, help="also write the full results here")
    args = parser.parse_args()
    results = []
    for seed in args.seeds:
        results.append(score_seed(seed, args.scale))
        print(f"seed {seed}: staged in {results[-1]['stage_s']} s, linked in {results[-1]['link_s']} s",
              file=sys.stderr)
    print_table(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
