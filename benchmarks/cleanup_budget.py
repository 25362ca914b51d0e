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
import tempfile
import time
from pathlib import Path

import httpx
from sandbox_child import LIFTED, start

WINDOW = 3000


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
    args = parser.parse_args()

    import dagster as dg

    from pipelines.cleanup import approval
    from pipelines.cleanup.apply import apply_batch
    from pipelines.cleanup.guard import GuardRails
    from pipelines.cleanup.itglue_api import client_from
    from pipelines.cleanup.plan import propose
    from pipelines.runner import run_job
    from pipelines.sandbox.server import env_for
    from pipelines.warehouse import Warehouse

    child, url = start(args.scale, args.seed, args.psa, lifted=True)
    try:
        env = env_for(url, ("itglue", args.psa, args.rmm))
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
