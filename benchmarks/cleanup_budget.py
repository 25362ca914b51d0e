"""Benchmark: IT Glue requests spent by cleanup planning and apply on a large sandbox tenant, counted by the server.

    .venv/bin/python benchmarks/cleanup_budget.py --scale 2000 --psa autotask --rmm ninjaone

The sandbox runs in its own process with every vendor's rate limit lifted (so the figures are requests, not waits).
The weekly job runs once end to end (extract, stage, link, propose); then planning runs again alone against the same
warehouse, and its batch is approved and applied, each step with the server's request counts read before and after.
IT Glue's budget is 3,000 requests per 5 minutes; the target is planning within 5% of one window (150 requests).
"""

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

LIFTED = 10**6
WINDOW = 3000


def serve(scale: int, seed: int, psa: str) -> None:
    from pipelines.sandbox.server import RunningSandbox, Sandbox
    from pipelines.sandbox.world import build_world

    world = build_world(seed=seed, scale=scale, psa=psa)
    limits = {name: LIFTED for name in ("itglue", "autotask", "connectwise", "datto_rmm", "ninjaone")}
    running = RunningSandbox(Sandbox(world, rate_limits=limits))
    print(json.dumps({"url": running.url, "env": running.env()}), flush=True)
    while True:
        time.sleep(3600)


def itglue_counts(url: str) -> dict[str, int]:
    counts = httpx.get(f"{url}/_sandbox/requests", timeout=30).json()
    return {k: n for k, n in counts.items() if k.startswith("itglue ")}


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: after[k] - before.get(k, 0) for k in sorted(after) if after[k] != before.get(k, 0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--psa", default="autotask")
    parser.add_argument("--rmm", default="ninjaone")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.scale, args.seed, args.psa)
        return

    import dagster as dg

    from pipelines.cleanup import approval
    from pipelines.cleanup.apply import apply_batch
    from pipelines.cleanup.guard import GuardRails
    from pipelines.cleanup.itglue_api import client_from
    from pipelines.cleanup.plan import propose
    from pipelines.runner import run_job
    from pipelines.warehouse import Warehouse

    child = subprocess.Popen([sys.executable, __file__, "--serve", "--scale", str(args.scale), "--seed",
                              str(args.seed), "--psa", args.psa], stdout=subprocess.PIPE, text=True)
    try:
        served = json.loads(child.stdout.readline())
        url = served["url"]
        env = {k: v for k, v in served["env"].items()
               if k.startswith(("ITGLUE", args.psa.upper(), args.rmm.upper()))}
        env["ITGLUE_RATE_LIMIT"] = str(LIFTED)
        work = Path(tempfile.mkdtemp(prefix="cleanup-budget-"))
        store = Warehouse(work / "warehouse.duckdb")
        with dg.DagsterInstance.ephemeral() as instance:
            started = time.monotonic()
            outcome = run_job("weekly_reconciliation", env=env, warehouse=str(store.path), instance=instance,
                              isolated=True)
            job_seconds = time.monotonic() - started
        if not outcome.success:
            raise SystemExit(f"the weekly job failed: {outcome.failures}")
        config = {**env}
        guard = GuardRails(max_share=1.0, max_actions=10**9)

        async def plan(con):
            async with client_from(config) as api:
                return await propose(con, api, guard)

        before = itglue_counts(url)
        started = time.monotonic()
        with store.connect() as con:
            batch_id, proposals, _ = asyncio.run(plan(con))
        plan_seconds = time.monotonic() - started
        planning = delta(before, itglue_counts(url))
        with store.connect() as con:
            approval.approve(con, batch_id, "benchmark", accept_large_batch=True)
            candidates = con.execute("SELECT count(DISTINCT entity_type || source_id) FROM ("
                                     "SELECT entity_type, source_id FROM marts.duplicates WHERE source = 'itglue' "
                                     "UNION SELECT entity_type, source_id FROM marts.orphans)").fetchall()[0][0]

        async def apply(con):
            async with client_from(config) as api:
                return await apply_batch(con, api, batch_id)

        before = itglue_counts(url)
        started = time.monotonic()
        with store.connect() as con:
            report = asyncio.run(apply(con))
        apply_seconds = time.monotonic() - started
        applying = delta(before, itglue_counts(url))
        by_action: dict[str, int] = {}
        for p in proposals:
            by_action[p.action] = by_action.get(p.action, 0) + 1
        executable = sum(n for a, n in by_action.items() if a in ("delete", "archive"))
        print(json.dumps({
            "scale": args.scale, "psa": args.psa, "rmm": args.rmm, "weekly_job_seconds": round(job_seconds, 1),
            "candidates": candidates, "actions": by_action,
            "planning": {"seconds": round(plan_seconds, 1), "requests": sum(planning.values()),
                         "share_of_5_minute_window": round(sum(planning.values()) / WINDOW, 4),
                         "by_endpoint": planning},
            "apply": {"seconds": round(apply_seconds, 1), "requests": sum(applying.values()),
                      "executable_actions": executable, "outcomes": report.counts(), "by_endpoint": applying},
        }, indent=2))
    finally:
        child.kill()


if __name__ == "__main__":
    main()
