"""Linkage speed: staging-shaped tenants of 100k and 1M configurations across three sources (IT Glue, Autotask,
Datto RMM), generated column-wise (no HTTP), linked twice: once training the models, once with the saved models
(the weekly run). Reports stage times and peak memory (ru_maxrss of this process).

    .venv/bin/python benchmarks/linkage_speed.py --configurations 100000 1000000 --threads 2
"""

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

from pipelines.linkage.models import ModelStore
from pipelines.linkage.pipeline import LinkageOptions, link_staging
from pipelines.linkage.synthetic import synthetic_tenant


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(n_configurations: int, threads: int, memory_limit: str) -> None:
    # about 3 records per device across the three systems (PSA, RMM, IT Glue, plus planted copies)
    devices_per_client = 50
    clients = max(4, round(n_configurations / 2.95 / devices_per_client))
    started = time.perf_counter()
    tenant = synthetic_tenant(clients, devices_per_client, seed=1)
    sizes = {k: v.height for k, v in tenant.staging.items()}
    print(f"\n## {n_configurations:,} configurations requested: generated {sizes} in "
          f"{time.perf_counter() - started:.1f} s (peak so far {peak_mb():,.0f} MB)", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        store = ModelStore(Path(tmp) / "models")
        for label, train in (("train + link", "always"), ("saved models", "if_missing")):
            options = LinkageOptions(train=train, charts=False, threads=threads, memory_limit=memory_limit)
            started = time.perf_counter()
            result = link_staging(tenant.staging, store, options=options)
            total = time.perf_counter() - started
            stages = ", ".join(f"{k} {v:.1f}s" for k, v in result.timings.items())
            print(f"{label}: {total:.1f} s total; peak RSS {peak_mb():,.0f} MB\n  {stages}", flush=True)
            print(f"  outputs: {result.metrics['row_counts']}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configurations", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory-limit", default="5GB")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, DuckDB threads {args.threads}, memory limit {args.memory_limit}")
    for n in args.configurations:
        run(n, args.threads, args.memory_limit)


if __name__ == "__main__":
    main()
