"""Benchmark: the weekly job run twice on an unchanged sandbox tenant; time per stage, records scored, requests.

    nice -n 10 .venv/bin/python benchmarks/weekly_runs.py --scale 2000 --seed 101 --json weekly-2000.json

The sandbox runs in its own process with every vendor's rate limit lifted, so the time is the work, and counts the
requests it answers per source. The weekly job (extract, stage, link, propose) runs end to end as a Dagster run,
twice on the same warehouse: the first trains the models and scores every record, the second finds nothing new;
then a third time with `full_relink` (saved models, every record scored), to show what incremental scoring saves
beside the models already trained and the audits already cached.
For each run: wall time per step, the records linkage scored, requests per source and how many minutes of the
vendor's published budget (the sources' default budgets) they take, Datto RMM audits fetched, and whether the
clusters, duplicates, orphans and proposed cleanup actions are the first run's.
"""

import argparse
import hashlib
import json
import os
import tempfile
import time
from pathlib import Path

import httpx
from sandbox_child import LIFTED, start

MARTS = {
    "clusters": "SELECT entity_type, cluster_id, source, source_id FROM marts.entity_clusters",
    "duplicates": "SELECT * FROM marts.duplicates",
    "orphans": "SELECT * FROM marts.orphans",
    "proposals": "SELECT * EXCLUDE (action_id, batch_id) FROM cleanup.actions "
                 "WHERE batch_id = (SELECT max(batch_id) FROM cleanup.actions)",
}


def counts(url: str) -> dict[str, int]:
    return httpx.get(f"{url}/_sandbox/requests", timeout=60).json()


def digest(warehouse) -> dict[str, str]:
    """A hash of each table's rows, in a fixed order."""
    out = {}
    with warehouse.connect() as con:
        for name, sql in MARTS.items():
            rows = sorted(con.sql(sql).fetchall(), key=repr)
            out[name] = hashlib.sha256(repr(rows).encode()).hexdigest()[:16]
    return out


def one_run(env: dict, warehouse, instance, url: str, sources: tuple[str, ...], run_config: dict | None = None
            ) -> dict:
    import dagster as dg

    from pipelines.runner import run_job
    from pipelines.sources import get_source

    before = counts(url)
    started = time.monotonic()
    outcome = run_job("weekly_reconciliation", env=env, warehouse=str(warehouse.path), instance=instance,
                      isolated=True, run_config=run_config)
    seconds = time.monotonic() - started
    if not outcome.success:
        raise SystemExit(f"the weekly job failed: {outcome.failures}")
    after = counts(url)
    spent = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    per_source: dict[str, dict] = {}
    for name in sources:
        # the sandbox counts under each system's mount, the last part of the URL a source is given
        mount = next(v for k, v in env.items() if k in get_source(name).env and k.endswith("_URL")).rsplit("/", 1)[1]
        n = sum(v for k, v in spent.items() if k.split(" ")[0] == mount)
        budget = get_source(name).default_budget
        per_minute = budget.requests / budget.per_seconds * 60
        per_source[name] = {"requests": n, "budget_minutes": round(n / per_minute, 2),
                            "rate_per_minute": round(per_minute)}
    audits = sum(v for k, v in spent.items() if k.startswith("datto ") and "audit" in k)
    steps = {s.step_key: round(s.end_time - s.start_time, 1) for s in instance.get_run_step_stats(outcome.run_id)
             if s.end_time and s.start_time}
    event = instance.get_latest_materialization_event(dg.AssetKey(["marts", "entity_clusters"]))
    metadata = event.asset_materialization.metadata
    return {
        "seconds": round(seconds, 1), "steps": steps,
        "scored_records": metadata["scored_records"].value, "relink": metadata["relink"].value,
        "linkage_stages": metadata["stage_seconds"].value,
        "records": {e: v["records"] for e, v in metadata["records_and_clusters"].value.items()},
        "requests": per_source,
        "datto_audits": audits,
        "digest": digest(warehouse),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=101)  # a tuning seed: this is not a quality report
    parser.add_argument("--psa", default="autotask")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--no-full-relink", action="store_true", help="skip the third run (large tenants)")
    parser.add_argument("--work", type=Path, help="keep the warehouse in this folder (default: a new temp folder)")
    args = parser.parse_args()

    import dagster as dg

    import pipelines.definitions  # noqa: F401  (imported before the clock starts, as a long-lived process has it)
    from pipelines.sandbox.server import env_for
    from pipelines.sources import all_sources
    from pipelines.warehouse import Warehouse

    sources = ("itglue", args.psa, "datto_rmm", "ninjaone")
    built = time.monotonic()
    child, url = start(args.scale, args.seed, args.psa, lifted=True)
    try:
        built = time.monotonic() - built
        env = env_for(url, sources) | {s.rate_limit.env: str(LIFTED) for s in all_sources() if s.rate_limit}
        work = args.work or Path(tempfile.mkdtemp(prefix="weekly-runs-"))
        work.mkdir(parents=True, exist_ok=True)
        warehouse = Warehouse(work / "warehouse.duckdb")
        runs = []
        with dg.DagsterInstance.ephemeral() as instance:
            for _ in range(2):
                runs.append(one_run(env, warehouse, instance, url, sources))
            if not args.no_full_relink:
                # the same second run relinking in full with the saved models: what incremental scoring saves alone
                runs.append(one_run(env, warehouse, instance, url, sources,
                                    {"ops": {"linkage_marts": {"config": {"full_relink": True}}}}))
        first, second = runs[:2]
        result = {
            "scale": args.scale, "seed": args.seed, "psa": args.psa, "tenant_built_seconds": round(built, 1),
            "load_average": [round(x, 2) for x in os.getloadavg()], "runs": runs,
            "second_over_first": round(second["seconds"] / first["seconds"], 3),
            "identical": {k: first["digest"][k] == second["digest"][k] for k in MARTS},
        }
        text = json.dumps(result, indent=2)
        print(text)
        if args.json:
            args.json.write_text(text)
    finally:
        child.kill()


if __name__ == "__main__":
    main()
