"""Linkage speed: staging-shaped tenants of 100k and 1M configurations across three sources (IT Glue, Autotask,
Datto RMM), generated column-wise (no HTTP), linked twice: once training the models, once with the saved models
(the weekly run); then the same staged tables by the plain-Splink reference (benchmarks/plain_splink.py: one generic
model per entity type, trained every time). Each run is its own process, so the peak memory reported (ru_maxrss) is
that run's alone.

msp-recon's runs are the weekly step itself (`run_linkage`): a separate process writes the generated tenant into a
warehouse file's staging tables once, each run links a fresh copy of that file (no history: every record scored)
and writes its marts into it. The tenant is read where it is, so its memory is DuckDB's, inside the memory limit.
The reference holds the tenant as frames (it is in its peak) and writes nothing.

    .venv/bin/python benchmarks/linkage_speed.py --configurations 100000 1000000 --threads 2 --memory-limit 1GB
    .venv/bin/python benchmarks/linkage_speed.py --configurations 1000000 --runs always --model-dir /tmp/models
    .venv/bin/python benchmarks/linkage_speed.py --configurations 10000000 --runs if_missing --memory-limit 8GB --model-dir /tmp/models
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pipelines.linkage.pipeline import LinkageOptions
from pipelines.linkage.synthetic import synthetic_tenant

DEVICES_PER_CLIENT = 50


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def tenant_for(n_configurations: int):
    # about 3 records per device across the three systems (PSA, RMM, IT Glue, plus planted copies)
    clients = max(4, round(n_configurations / 2.95 / DEVICES_PER_CLIENT))
    return synthetic_tenant(clients, DEVICES_PER_CLIENT, seed=1)


def write_warehouse(n_configurations: int, path: Path) -> None:
    """The generated tenant as a warehouse's staging tables (what extraction and staging leave for linkage)."""
    from pipelines.warehouse import Warehouse

    Warehouse(path).replace_tables("staging", tenant_for(n_configurations).staging)


def link_once(train: str, model_dir: Path, threads: int, memory_limit: str | None, tenant: Path) -> dict:
    """One weekly linkage step in this process on a copy of the tenant's warehouse: times and this process's peak."""
    from pipelines.linkage.pipeline import run_linkage
    from pipelines.warehouse import Warehouse

    options = LinkageOptions(train=train, charts=False, threads=threads, memory_limit=memory_limit)
    with tempfile.TemporaryDirectory() as tmp:
        warehouse = Warehouse(Path(tmp) / "warehouse.duckdb")
        shutil.copyfile(tenant, warehouse.path)
        with warehouse.connect() as con:
            sizes = {t: con.execute(f"SELECT count(*) FROM staging.{t}").fetchall()[0][0]
                     for t in ("organizations", "configurations", "contacts")}
        peak_before = peak_mb()
        started = time.perf_counter()
        result = run_linkage(warehouse, options=options, model_dir=model_dir)
        total = time.perf_counter() - started
    return {"sizes": sizes, "generate_s": 0.0, "total_s": total, "timings": result.timings,
            "peak_mb": peak_mb(), "peak_before_link_mb": peak_before, "row_counts": result.metrics["row_counts"],
            "models": {e: m.get("mismatch") or m.get("source") for e, m in result.models.items()}}


def reference_once(n_configurations: int, threads: int, memory_limit: str | None) -> dict:
    from plain_splink import link_plain

    from pipelines.linkage.backend import default_memory_limit

    tenant = tenant_for(n_configurations)
    peak_before = peak_mb()
    started = time.perf_counter()
    result = link_plain(tenant.staging, threads, memory_limit or default_memory_limit())
    return {"sizes": {k: v.height for k, v in tenant.staging.items()}, "generate_s": 0.0,
            "total_s": time.perf_counter() - started, "timings": result["timings"], "peak_mb": peak_mb(),
            "peak_before_link_mb": peak_before, "row_counts": result["records_and_clusters"]}


def run(n_configurations: int, threads: int, memory_limit: str, runs: list[str],
        model_dir: Path | None = None) -> None:
    labels = {"always": "train + link", "if_missing": "saved models", "reference": "plain Splink reference"}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = str(model_dir or tmp)  # saved models from an earlier run (--runs if_missing), else trained here
        tenant = Path(tempfile.mkdtemp(prefix="linkage-speed-tenant-"))
        try:
            started = time.perf_counter()
            subprocess.run([sys.executable, __file__, "--write-warehouse", str(n_configurations), "--tenant",
                            str(tenant / "tenant.duckdb")], check=True)
            print(f"\n## {n_configurations:,} configurations requested (tenant generated and staged in "
                  f"{time.perf_counter() - started:.1f} s)", flush=True)
            for train in runs:
                label = labels[train]
                print(f"[{time.strftime('%H:%M:%S')}] {label}, load average {os.getloadavg()[0]:.1f}", flush=True)
                out = subprocess.run(
                    [sys.executable, __file__, "--one", str(n_configurations), "--train", train, "--model-dir", tmp,
                     "--threads", str(threads), "--memory-limit", memory_limit, "--tenant",
                     str(tenant / "tenant.duckdb")],
                    capture_output=True, text=True)
                if out.returncode:  # the run's own error, not only its exit status
                    sys.exit(f"{label} failed (exit {out.returncode}):\n{out.stderr[-4000:]}")
                r = json.loads(out.stdout.strip().splitlines()[-1])
                stages = ", ".join(f"{k} {v:.1f}s" for k, v in r["timings"].items())
                held = (f"{r['peak_before_link_mb']:,.0f} MB of it the generated tenant" if train == "reference"
                        else f"{r['peak_before_link_mb']:,.0f} MB before linking")
                print(f"{label}: {r['total_s']:.1f} s; peak RSS {r['peak_mb']:,.0f} MB ({held}); "
                      f"records {r['sizes']}\n  {stages}", flush=True)
                print(f"  outputs: {r['row_counts']}" + (f"\n  models: {r['models']}" if r.get("models") else ""),
                      flush=True)
        finally:
            shutil.rmtree(tenant, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configurations", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory-limit", default="",
                        help="DuckDB's memory_limit (default: the engine's, RECON_LINKAGE_MEMORY_LIMIT or a tenth "
                             "of the machine's memory between 1 and 4 GB)")
    parser.add_argument("--runs", nargs="+", default=["always", "if_missing", "reference"],
                        choices=["always", "if_missing", "reference"],
                        help="train first, saved models, plain Splink (saved models need a train run first)")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--write-warehouse", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--tenant", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--train", default="always", help=argparse.SUPPRESS)
    parser.add_argument("--model-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    memory_limit = args.memory_limit or None
    if args.write_warehouse:
        write_warehouse(args.write_warehouse, args.tenant)
        return
    if args.one and args.train == "reference":
        print(json.dumps(reference_once(args.one, args.threads, memory_limit)))
        return
    if args.one:
        print(json.dumps(link_once(args.train, args.model_dir, args.threads, memory_limit, args.tenant)))
        return
    from pipelines.linkage.backend import default_memory_limit

    print(f"python {sys.version.split()[0]}, DuckDB threads {args.threads}, "
          f"memory limit {memory_limit or default_memory_limit() + ' (default)'}")
    for n in args.configurations:
        run(n, args.threads, args.memory_limit, args.runs, args.model_dir)


if __name__ == "__main__":
    main()
