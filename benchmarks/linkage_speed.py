"""Linkage speed: staging-shaped tenants of 100k and 1M configurations across three sources (IT Glue, Autotask,
Datto RMM), generated column-wise (no HTTP), linked twice: once training the models, once with the saved models
(the weekly run); then the same staged tables by the plain-Splink reference (benchmarks/plain_splink.py: one generic
model per entity type, trained every time). Each run is its own process, so the peak memory reported (ru_maxrss) is
that run's alone.

    .venv/bin/python benchmarks/linkage_speed.py --configurations 100000 1000000 --threads 2
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pipelines.linkage.models import ModelStore
from pipelines.linkage.pipeline import LinkageOptions, link_staging
from pipelines.linkage.synthetic import synthetic_tenant

DEVICES_PER_CLIENT = 50


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def link_once(n_configurations: int, train: str, model_dir: Path, threads: int, memory_limit: str) -> dict:
    """One linkage run in this process: generate the tenant, link it, report times and this process's peak."""
    # about 3 records per device across the three systems (PSA, RMM, IT Glue, plus planted copies)
    clients = max(4, round(n_configurations / 2.95 / DEVICES_PER_CLIENT))
    started = time.perf_counter()
    tenant = synthetic_tenant(clients, DEVICES_PER_CLIENT, seed=1)
    generated = time.perf_counter() - started
    peak_before = peak_mb()
    options = LinkageOptions(train=train, charts=False, threads=threads, memory_limit=memory_limit)
    started = time.perf_counter()
    result = link_staging(tenant.staging, ModelStore(model_dir), options=options)
    return {"sizes": {k: v.height for k, v in tenant.staging.items()}, "generate_s": generated,
            "total_s": time.perf_counter() - started, "timings": result.timings, "peak_mb": peak_mb(),
            "peak_before_link_mb": peak_before, "row_counts": result.metrics["row_counts"],
            "models": {e: m.get("mismatch") or m.get("source") for e, m in result.models.items()}}


def reference_once(n_configurations: int, threads: int, memory_limit: str) -> dict:
    from plain_splink import link_plain

    clients = max(4, round(n_configurations / 2.95 / DEVICES_PER_CLIENT))
    tenant = synthetic_tenant(clients, DEVICES_PER_CLIENT, seed=1)
    peak_before = peak_mb()
    started = time.perf_counter()
    result = link_plain(tenant.staging, threads, memory_limit)
    return {"sizes": {k: v.height for k, v in tenant.staging.items()}, "generate_s": 0.0,
            "total_s": time.perf_counter() - started, "timings": result["timings"], "peak_mb": peak_mb(),
            "peak_before_link_mb": peak_before, "row_counts": result["records_and_clusters"]}


def run(n_configurations: int, threads: int, memory_limit: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for label, train in (("train + link", "always"), ("saved models", "if_missing"),
                             ("plain Splink reference", "reference")):
            out = subprocess.run(
                [sys.executable, __file__, "--one", str(n_configurations), "--train", train, "--model-dir", tmp,
                 "--threads", str(threads), "--memory-limit", memory_limit],
                check=True, capture_output=True, text=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            if train == "always":
                print(f"\n## {n_configurations:,} configurations requested: {r['sizes']} "
                      f"(generated in {r['generate_s']:.1f} s)", flush=True)
            stages = ", ".join(f"{k} {v:.1f}s" for k, v in r["timings"].items())
            print(f"{label}: {r['total_s']:.1f} s; peak RSS {r['peak_mb']:,.0f} MB "
                  f"({r['peak_before_link_mb']:,.0f} MB of it the generated tenant)\n  {stages}", flush=True)
            print(f"  outputs: {r['row_counts']}" + (f"\n  models: {r['models']}" if r.get("models") else ""),
                  flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configurations", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory-limit", default="4GB")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--train", default="always", help=argparse.SUPPRESS)
    parser.add_argument("--model-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one and args.train == "reference":
        print(json.dumps(reference_once(args.one, args.threads, args.memory_limit)))
        return
    if args.one:
        print(json.dumps(link_once(args.one, args.train, args.model_dir, args.threads, args.memory_limit)))
        return
    print(f"python {sys.version.split()[0]}, DuckDB threads {args.threads}, memory limit {args.memory_limit}")
    for n in args.configurations:
        run(n, args.threads, args.memory_limit)


if __name__ == "__main__":
    main()
