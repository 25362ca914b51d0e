"""Linkage quality on the sandbox: pairwise precision/recall/F1 per entity type against the World's ground truth,
IT Glue-PSA and IT Glue-RMM link scores, precision on the pairs a cleanup acts on, cause accuracy, orphan
precision/recall and reason accuracy, destructive proposals on live non-duplicate records, the hard cases, and the
same pairwise scores for IT Glue's own exact-match rules (the baseline).

The real path: each seed's World is served over HTTP by the sandbox (with injected 429s and 503s under --faults),
the PSA, the RMM and IT Glue are extracted by their connectors, staged by sql/staging/, linked by pipelines.linkage
(models trained on that first run, as the weekly job does, marts written to the warehouse), and the cleanup batch is
planned from the marts, fetching each record concerned from IT Glue as the weekly job does.

Seeds (benchmarks/README.md): 101-103 are for tuning; 201-203 (300 clients) and 301-303 (2,000 clients) are reported
and never tuned on.

    .venv/bin/python benchmarks/linkage_quality.py --seeds 201 202 203 --scale 300 --difficulty hard \\
        --psa autotask --rmm datto_rmm --faults --json q.json
"""

import argparse
import asyncio
import gc
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

from pipelines.cleanup.guard import GuardRails
from pipelines.cleanup.itglue_api import client_from
from pipelines.cleanup.plan import propose
from pipelines.linkage import scoring
from pipelines.linkage.pipeline import LinkageOptions, read_staging, run_linkage
from pipelines.sandbox.quality import destructive_on_live, link_scores
from pipelines.sandbox.server import RunningSandbox, Sandbox, env_for, protocols
from pipelines.sandbox.systems import build_world, expected_counts
from pipelines.sources import all_sources, get_source, source_names
from pipelines.staging import build_staging
from pipelines.warehouse import Warehouse

LIFTED = 10**9
# What a new user's first run meets: the first 2 requests and every 19th throttled (Retry-After 1 s), every 23rd a 503.
FAULTS = {"throttle_first": 2, "throttle_every": 19, "fail_every": 23, "retry_after": "1"}
RMMS = {"both": ("datto_rmm", "ninjaone"), **{name: (name,) for name in source_names("rmm")}}


def extract_and_stage(world, sources: tuple[str, ...], url: str, warehouse: Warehouse) -> dict:
    """Extract every source over HTTP into raw, stage; returns whether every raw table holds what the World serves."""
    env = env_for(url, sources) | {s.rate_limit.env: str(LIFTED) for s in all_sources() if s.rate_limit}
    for name in sources:
        source = get_source(name)
        # the warehouse's tables as the weekly job passes them (incremental sources, HaloPSA's link history)
        extraction = asyncio.run(source.extract(source.config_from(env), lambda t: warehouse.table(f"raw.{t}")))
        warehouse.replace_tables("raw", extraction.frames)
    expected = {k: v for k, v in expected_counts(world).items() if k.split("_")[0] in
                {s.split("_")[0] for s in sources}}
    counts = {f"{t}": n for t, n in warehouse.row_counts("raw").items()}
    missing = {t: (counts.get(t), n) for t, n in expected.items() if counts.get(t) != n}
    with warehouse.connect() as con:
        build_staging(con, sources)
    return {"env": env, "complete": not missing, "missing": missing}


async def plan_batch(warehouse: Warehouse, env: dict) -> pl.DataFrame:
    """The cleanup planning of the weekly job: read the marts, fetch each record concerned, store one batch."""
    with warehouse.connect() as con:
        async with client_from(env) as api:
            batch_id, _, _ = await propose(con, api, GuardRails.from_env({}))
        return con.sql("SELECT * FROM cleanup.actions WHERE batch_id = ?", params=[batch_id or ""]).pl()


def hard_case_scores(clusters: pl.DataFrame, truth, sources: set[str]) -> dict:
    """Share of hard negatives kept apart and hard positives put together, per case, among pairs whose two records
    come from extracted `sources`."""
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
        for (case,), g in j.sort("case").group_by(["case"], maintain_order=True):
            out[f"{name}:{case}"] = f"{g['ok'].sum()}/{g.height}"
    return out


def serving(world, faults: bool) -> Sandbox:
    sandbox = Sandbox(world, rate_limits=dict.fromkeys(protocols(), LIFTED))
    if faults:
        for k, v in FAULTS.items():
            setattr(sandbox.faults, k, v)
    return sandbox


def score_seed(seed: int, scale: int, difficulty: str, psa: str, rmm: str, faults: bool, history: bool = False
               ) -> dict:
    started = time.perf_counter()
    world = build_world(seed=seed, scale=scale, psa=psa, difficulty=difficulty, rmms=RMMS[rmm])
    built = time.perf_counter() - started
    sources = ("itglue", psa, *RMMS[rmm])
    sandbox = serving(world, faults)
    with tempfile.TemporaryDirectory() as tmp:
        warehouse = Warehouse(Path(tmp) / "warehouse.duckdb")
        if history:
            # Last week's run first, on the PSA as it stood then: the links it records are this run's history.
            before = build_world(seed=seed, scale=scale, psa=psa, difficulty=difficulty, rmms=RMMS[rmm], weeks_ago=1)
            with RunningSandbox(serving(before, faults)) as running:
                extract_and_stage(before, sources, running.url, warehouse)
                run_linkage(warehouse, options=LinkageOptions(charts=False))
            del before
        with RunningSandbox(sandbox) as running:
            started = time.perf_counter()
            extracted = extract_and_stage(world, sources, running.url, warehouse)
            staged = time.perf_counter() - started
            started = time.perf_counter()
            result = run_linkage(warehouse, options=LinkageOptions(charts=False))
            linked = time.perf_counter() - started
            started = time.perf_counter()
            actions = asyncio.run(plan_batch(warehouse, extracted["env"]))
            planned = time.perf_counter() - started
        staging = {k: pl.from_arrow(v) for k, v in read_staging(warehouse)[0].items()}
        clusters, duplicates, orphans = (warehouse.table(f"marts.{t}") for t in ("entity_clusters", "duplicates",
                                                                                  "orphans"))
    requests_seen = sandbox.faults.seen
    truth = world.truth
    present = pl.concat([f.select("source") for f in staging.values()]).unique()
    truth_entities = truth.entities.join(present, on="source", how="semi")
    truth_dups = truth.duplicates.join(present, on="source", how="semi")
    baseline = scoring.exact_match_baseline(staging)
    bad = destructive_on_live(actions, truth)
    # Orphans the linkage found that the truth does not have, by what each record really is.
    found = orphans.filter(pl.col("source") == "itglue") if "source" in orphans.columns else orphans
    wrong = (found.select("entity_type", "source_id", "reason")
             .join(truth.orphans, on=["entity_type", "source_id"], how="anti")
             .join(truth.duplicates.filter(pl.col("source") == "itglue").select("entity_type", "source_id", "cause"),
                   on=["entity_type", "source_id"], how="left")
             .with_columns(pl.col("cause").fill_null("live").alias("truly")))
    del world, result, staging, sandbox
    gc.collect()
    return {
        "seed": seed, "scale": scale, "difficulty": difficulty, "psa": psa, "rmm": rmm, "faults": faults,
        "history": history,
        "seconds": {"build": round(built, 1), "extract_stage": round(staged, 1), "link": round(linked, 1),
                    "plan": round(planned, 1)},
        "requests": requests_seen, "extraction_complete": extracted["complete"], "missing": extracted["missing"],
        "pairwise": scoring.pairwise_scores(clusters, truth_entities).to_dicts(),
        "baseline": scoring.pairwise_scores(baseline, truth_entities).to_dicts(),
        "links_psa": link_scores(clusters, truth_entities, "itglue", [psa]).to_dicts(),
        "links_rmm": link_scores(clusters, truth_entities, "itglue", RMMS[rmm]).to_dicts(),
        "baseline_links_psa": link_scores(baseline, truth_entities, "itglue", [psa]).to_dicts(),
        "baseline_links_rmm": link_scores(baseline, truth_entities, "itglue", RMMS[rmm]).to_dicts(),
        "cleanup_pairs": scoring.cleanup_pair_scores(duplicates, truth_entities, truth_dups).to_dicts(),
        "cause_accuracy": scoring.cause_accuracy(duplicates, truth_dups),
        "orphans": scoring.orphan_scores(orphans, truth.orphans),
        "actions": actions.group_by("action").len().sort("action").rows(),
        "false_orphans": wrong.group_by("entity_type", "reason", "truly").len().sort("len", descending=True).rows(),
        "destructive_on_live": bad.height,
        "destructive_on_live_examples": bad.select("entity_type", "source_id", "action", "reason").head(5).rows(),
        "hard_cases": hard_case_scores(clusters, truth, set(present["source"].to_list())),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    }


def _by(rows: list[dict], etype: str) -> dict:
    return next((r for r in rows if r["entity_type"] == etype), {})


def print_table(results: list[dict]) -> None:
    print("| seed | clients | PSA + RMM | entity | P | R | F1 | IT Glue-PSA link F1 | IT Glue-RMM link F1 | "
          "baseline F1 | baseline PSA / RMM link F1 | cleanup-pair P | cleanup-pair R |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        for p in r["pairwise"]:
            e = p["entity_type"]
            b, c = _by(r["baseline"], e), _by(r["cleanup_pairs"], e)
            lp, lr = _by(r["links_psa"], e), _by(r["links_rmm"], e)
            bp, br = _by(r["baseline_links_psa"], e), _by(r["baseline_links_rmm"], e)
            rmm_f1 = f"{lr['f1']:.3f}" if lr.get("true_links") else "-"
            base_rmm = f"{br['f1']:.3f}" if br.get("true_links") else "-"
            print(f"| {r['seed']} | {r['scale']} | {r['psa']} + {r['rmm']} | {e} | {p['precision']:.3f} | "
                  f"{p['recall']:.3f} | {p['f1']:.3f} | {lp.get('f1', 0):.3f} | {rmm_f1} | {b.get('f1', 0):.3f} | "
                  f"{bp.get('f1', 0):.3f} / {base_rmm} | {c.get('precision', 0):.3f} | {c.get('recall', 0):.3f} |")
    print()
    print("| seed | clients | PSA + RMM | cause accuracy | orphan P | orphan R | orphan reason acc. | unlinked (true "
          "orphans among them) | destructive on live records | actions | extraction complete (requests) | "
          "seconds (build/extract/link/plan) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        o, ca, s = r["orphans"], r["cause_accuracy"], r["seconds"]
        acts = ", ".join(f"{a} {n}" for a, n in r["actions"])
        print(f"| {r['seed']} | {r['scale']} | {r['psa']} + {r['rmm']} | {(ca['all'] or 0):.3f} (n={ca['n']}) | "
              f"{o['precision']:.3f} | {o['recall']:.3f} | {(o['reason_accuracy'] or 0):.3f} | "
              f"{o.get('unlinked', 0)} ({o.get('unlinked_true_orphans', 0)}) | {r['destructive_on_live']} | {acts} | {'yes' if r['extraction_complete'] else 'NO'} "
              f"({r['requests']:,}) | {s['build']}/{s['extract_stage']}/{s['link']}/{s['plan']} |")
    print()
    for r in results:
        print(f"seed {r['seed']} ({r['psa']} + {r['rmm']}) hard cases: "
              + ", ".join(f"{k} {v}" for k, v in r["hard_cases"].items()))


def _span(values: list[float]) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    lo, hi = min(values), max(values)
    return f"{lo:.3f}" if f"{lo:.3f}" == f"{hi:.3f}" else f"{lo:.3f}-{hi:.3f}"


def print_summary(results: list[dict]) -> None:
    """One row per (clients, PSA + RMM): the range over its seeds."""
    groups: dict[tuple, list[dict]] = {}
    for r in results:
        groups.setdefault((r["scale"], r["psa"], r["rmm"], r.get("history", False)), []).append(r)
    print("| clients | PSA + RMM | seeds | organizations F1 (R) | configurations F1 | contacts F1 | IT Glue-PSA link F1 "
          "(orgs / configs) | IT Glue-RMM link F1 (orgs / configs) | orphan P | orphan R | cause accuracy | "
          "destructive on live | baseline F1 (orgs / configs / contacts) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for (scale, psa, rmm, history), rs in groups.items():
        def pw(e, key="f1", field="pairwise", rs=rs):
            return [_by(r[field], e).get(key) for r in rs]

        def link(field, e, rs=rs):
            return [_by(r[field], e).get("f1") if _by(r[field], e).get("true_links") else None for r in rs]

        print(f"| {scale:,} | {psa} + {rmm}{' (2nd week)' if history else ''} | "
              f"{', '.join(str(r['seed']) for r in rs)} | "
              f"{_span(pw('organization'))} ({_span(pw('organization', 'recall'))}) | "
              f"{_span(pw('configuration'))} | {_span(pw('contact'))} | "
              f"{_span(link('links_psa', 'organization'))} / {_span(link('links_psa', 'configuration'))} | "
              f"{_span(link('links_rmm', 'organization'))} / {_span(link('links_rmm', 'configuration'))} | "
              f"{_span([r['orphans']['precision'] for r in rs])} | {_span([r['orphans']['recall'] for r in rs])} | "
              f"{_span([r['cause_accuracy']['all'] for r in rs])} | "
              f"{sum(r['destructive_on_live'] for r in rs)} | "
              f"{_span(pw('organization', field='baseline'))} / {_span(pw('configuration', field='baseline'))} / "
              f"{_span(pw('contact', field='baseline'))} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 8, 9])
    parser.add_argument("--scale", type=int, default=40, help="client organizations per tenant")
    parser.add_argument("--difficulty", default="standard", help="standard, hard, or a number from 0 to 1")
    parser.add_argument("--psa", choices=source_names("psa"), default="autotask")
    parser.add_argument("--rmm", choices=sorted(RMMS), default="both",
                        help="the RMM the tenant runs (and that is extracted); both: Datto RMM and NinjaOne")
    parser.add_argument("--faults", action="store_true", help="inject 429s and 503s while extracting and planning")
    parser.add_argument("--history", action="store_true",
                        help="run last week's extraction and linkage first (the PSA as it stood then), so this run "
                             "has a history to prove deletions with")
    parser.add_argument("--json", type=Path, help="also write the full results here")
    parser.add_argument("--report", type=Path, nargs="+", help="only print the tables of results written by --json")
    args = parser.parse_args()
    if args.report:
        results = [r for path in args.report for r in json.loads(path.read_text())]
        print_summary(results)
        print()
        print_table(results)
        return
    results = []
    for seed in args.seeds:
        results.append(score_seed(seed, args.scale, args.difficulty, args.psa, args.rmm, args.faults, args.history))
        r = results[-1]
        print(f"seed {seed}: {r['seconds']} s, peak RSS {r['peak_rss_mb']} MB", file=sys.stderr)
        if args.json:  # after each seed, so a long run leaves what it has
            args.json.write_text(json.dumps(results, indent=1, default=str))
    print_table(results)


if __name__ == "__main__":
    main()
