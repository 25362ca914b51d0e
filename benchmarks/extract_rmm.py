"""Benchmark: extract a large sandbox tenant from Datto RMM and NinjaOne over HTTP; time, requests, budget use.

The sandbox runs in its own process, as a real API would. It serves one world twice: once with the vendors' rate
limits lifted (what is left is server, network stack and parsing) and once with Datto's real 600 reads per rolling
minute, against which the connector's own budget runs for `--budget-seconds` to show how close it keeps to the limit.

    .venv/bin/python benchmarks/extract_rmm.py --scale 2500

Datto runs twice: a first run fetches every audit, a second run against the unchanged tenant (previous tables from
the first) fetches none. The time a run takes under the real budget is its requests at the budget's steady rate.
"""

import argparse
import asyncio
import json
import subprocess
import sys
import time
from collections import deque

import httpx

from pipelines.sandbox.server import CREDENTIALS
from pipelines.sources.datto_rmm import DEFAULT_BUDGET, extract_datto_rmm
from pipelines.sources.ninjaone import extract_ninjaone

LIFTED = 10**9


def serve(scale: int, seed: int) -> None:
    """Child process: build the world, serve it lifted and at vendor limits, print both URLs, block."""
    from pipelines.sandbox.server import RunningSandbox, Sandbox
    from pipelines.sandbox.world import build_world

    world = build_world(seed=seed, scale=scale)
    lifted = RunningSandbox(Sandbox(world, rate_limits={"datto_rmm": LIFTED, "ninjaone": LIFTED}))
    limited = RunningSandbox(Sandbox(world))
    counts = world.expected_counts()
    print(json.dumps({"lifted": lifted.url, "limited": limited.url, "counts": counts}), flush=True)
    while True:
        time.sleep(3600)


def start(scale: int, seed: int) -> tuple[subprocess.Popen, dict]:
    child = subprocess.Popen([sys.executable, __file__, "--serve", "--scale", str(scale), "--seed", str(seed)],
                             stdout=subprocess.PIPE, text=True)
    line = child.stdout.readline()
    if not line:
        child.kill()
        raise SystemExit("the sandbox did not start")
    return child, json.loads(line)


def datto(url: str, previous, budget=DEFAULT_BUDGET.lifted()):
    return extract_datto_rmm(f"{url}/datto", CREDENTIALS["DATTO_RMM_API_KEY"], CREDENTIALS["DATTO_RMM_API_SECRET"],
                             previous, budget=budget)


async def budget_use(url: str, seconds: float) -> dict:
    """Run a full Datto extraction under the default budget against the 600/min sandbox for `seconds`, sampling the
    server's request counts every second; the most requests in any rolling 60 s is how close the run came."""
    samples: deque[tuple[float, int]] = deque()
    peak = 0
    throttled = 0
    task = asyncio.create_task(datto(url, lambda table: None, DEFAULT_BUDGET))
    started = time.monotonic()
    async with httpx.AsyncClient() as http:
        while time.monotonic() - started < seconds and not task.done():
            await asyncio.sleep(1)
            counts = (await http.get(f"{url}/_sandbox/requests")).json()
            served = sum(n for key, n in counts.items() if key.startswith("datto GET"))
            now = time.monotonic()
            samples.append((now, served))
            while samples and samples[0][0] < now - 60:
                samples.popleft()
            if now - started >= 60:
                peak = max(peak, served - samples[0][1])
    if task.done():
        throttled = task.result().stats["throttled_429"]
    task.cancel()
    try:
        await task
    except (asyncio.CancelledError, Exception):
        pass
    return {"seconds": round(time.monotonic() - started), "requests": served, "peak_per_rolling_60s": peak,
            "throttled_429": throttled}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=2500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--budget-seconds", type=float, default=150,
                        help="how long to run Datto under its real budget (0: skip)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.scale, args.seed)
        return

    built = time.perf_counter()
    child, info = start(args.scale, args.seed)
    try:
        counts = info["counts"]
        print(f"sandbox scale {args.scale}: built in {time.perf_counter() - built:.0f} s; Datto "
              f"{counts['datto_rmm_devices']:,} devices in {counts['datto_rmm_sites']:,} sites, NinjaOne "
              f"{counts['ninjaone_devices']:,} devices")
        steady = DEFAULT_BUDGET.requests / DEFAULT_BUDGET.per_seconds
        previous = None
        for label in ("first run", "second run"):
            started = time.perf_counter()
            result = asyncio.run(datto(info["lifted"], previous or (lambda table: None)))
            seconds = time.perf_counter() - started
            stats = result.stats
            print(f"datto_rmm {label}: {seconds:.1f} s, {stats['requests']:,} requests "
                  f"({stats['requests_by_endpoint']}), audits fetched {stats['audits_fetched']:,}, reused "
                  f"{stats['audits_reused']:,}; under the 600/min budget ~{stats['requests'] / steady / 60:.1f} min")
            frames = result.frames
            previous = frames.get
        started = time.perf_counter()
        result = asyncio.run(extract_ninjaone(f"{info['lifted']}/ninjaone", CREDENTIALS["NINJAONE_CLIENT_ID"],
                                              CREDENTIALS["NINJAONE_CLIENT_SECRET"]))
        print(f"ninjaone: {time.perf_counter() - started:.1f} s, {result.stats['requests']:,} requests "
              f"({result.stats['requests_by_endpoint']}), rows "
              f"{ {t: f.height for t, f in result.frames.items()} }")
        if args.budget_seconds:
            use = asyncio.run(budget_use(info["limited"], args.budget_seconds))
            print(f"datto_rmm under its real budget (server enforcing 600 per rolling 60 s) for {use['seconds']} s: "
                  f"{use['requests']:,} requests, at most {use['peak_per_rolling_60s']} in any rolling 60 s")
    finally:
        child.terminate()
        child.wait()


if __name__ == "__main__":
    main()
