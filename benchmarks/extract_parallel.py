"""Benchmark: the extract steps of a run, each source alone and all at once, at the vendors' real rate limits.

    .venv/bin/python benchmarks/extract_parallel.py --scale 100 --psa autotask

The sandbox runs in its own process with the vendors' limits (Datto 600 reads a minute, IT Glue 3,000 per 5 minutes,
Autotask's and NinjaOne's as the sandbox has them) and every connector keeps to its default budget, so a source's time
is mostly its own API's pacing. Each source is extracted alone through its Dagster asset into a fresh warehouse, then
all of them together (`EXTRACT_ASSETS`, as the weekly job runs them); the target is the together-time within 10% of the
slowest source alone.
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from sandbox_child import start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--psa", default="autotask")
    parser.add_argument("--sources", nargs="+", default=["itglue", "autotask", "datto_rmm", "ninjaone"])
    args = parser.parse_args()

    import dagster as dg

    from pipelines.assets.extract import EXTRACT_ASSETS
    from pipelines.resources import SourcesResource, WarehouseResource
    from pipelines.sandbox.server import env_for

    child, url = start(args.scale, args.seed, args.psa, lifted=False)
    try:
        env_of = {name: env_for(url, (name,)) for name in args.sources}
        assets = {a.node_def.name: a for a in EXTRACT_ASSETS}

        def extract(names: list[str]) -> tuple[float, dict]:
            work = Path(tempfile.mkdtemp(prefix="extract-parallel-"))
            env = {k: v for name in names for k, v in env_of[name].items()}
            resources = {"warehouse": WarehouseResource(path=str(work / "warehouse.duckdb")),
                         "sources": SourcesResource(env=env, read_environment=False)}
            with dg.DagsterInstance.ephemeral() as instance:
                started = time.monotonic()
                result = dg.materialize([assets[f"extract_{n}"] for n in names], resources=resources,
                                        instance=instance, raise_on_error=False)
                seconds = time.monotonic() - started
            if not result.success:
                raise SystemExit(f"extraction of {names} failed")
            rows = {m.asset_key.path[-1]: m.metadata["dagster/row_count"].value
                    for n in names for m in result.asset_materializations_for_node(f"extract_{n}")}
            return seconds, rows

        alone = {}
        for name in args.sources:
            seconds, rows = extract([name])
            alone[name] = {"seconds": round(seconds, 1), "rows": rows}
            print(f"{name} alone: {seconds:.1f} s", file=sys.stderr, flush=True)
        together, _ = extract(args.sources)
        slowest = max(v["seconds"] for v in alone.values())
        print(json.dumps({
            "scale": args.scale, "psa": args.psa, "alone": alone,
            "sum_of_alone_seconds": round(sum(v["seconds"] for v in alone.values()), 1),
            "together_seconds": round(together, 1), "slowest_alone_seconds": slowest,
            "together_over_slowest": round(together / slowest, 3),
        }, indent=2))
    finally:
        child.kill()


if __name__ == "__main__":
    main()
