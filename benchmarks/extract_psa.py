"""Benchmark: extract a large sandbox tenant from ConnectWise and from Autotask over HTTP; time, requests, budget use.

The sandbox runs in its own process, as a real API would, with the vendors' limits on (ConnectWise ~1000 requests a
minute, Autotask 10,000 an hour and 3 threads per entity); the connectors run with their default budgets.

    .venv/bin/python benchmarks/extract_psa.py --scale 2500
"""

import argparse
import asyncio
import json
import subprocess
import sys
import time

from pipelines.sandbox.server import CREDENTIALS
from pipelines.sources.autotask import extract_autotask
from pipelines.sources.connectwise import extract_connectwise


def serve(scale: int, seed: int) -> None:
    """Child process: build the world, serve it, print its URL and expected counts, block."""
    from pipelines.sandbox.server import RunningSandbox, Sandbox
    from pipelines.sandbox.world import build_world

    world = build_world(seed=seed, scale=scale)
    running = RunningSandbox(Sandbox(world))
    print(json.dumps({"url": running.url, "counts": world.expected_counts()}), flush=True)
    while True:
        time.sleep(3600)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, default=2500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.scale, args.seed)
        return

    built = time.monotonic()
    child = subprocess.Popen([sys.executable, __file__, "--serve", "--scale", str(args.scale), "--seed",
                              str(args.seed)], stdout=subprocess.PIPE, text=True)
    try:
        line = child.stdout.readline()
        if not line:
            raise SystemExit("the sandbox did not start")
        served = json.loads(line)
        url, counts = served["url"], served["counts"]
        print(f"sandbox scale {args.scale} built and served in {time.monotonic() - built:.1f} s")
        c = CREDENTIALS
        runs = {
            "connectwise": lambda: extract_connectwise(
                f"{url}/connectwise", c["CONNECTWISE_COMPANY_ID"], c["CONNECTWISE_PUBLIC_KEY"],
                c["CONNECTWISE_PRIVATE_KEY"], c["CONNECTWISE_CLIENT_ID"]),
            "autotask": lambda: extract_autotask(
                f"{url}/autotask", c["AUTOTASK_USERNAME"], c["AUTOTASK_SECRET"], c["AUTOTASK_INTEGRATION_CODE"]),
        }
        for source, run in runs.items():
            started = time.monotonic()
            extraction = asyncio.run(run())
            seconds = time.monotonic() - started
            rows = {table: frame.height for table, frame in extraction.frames.items()}
            ok = all(rows[t] == counts[t] for t in rows)
            stats = extraction.stats
            print(f"{source}: {seconds:.1f} s, {stats['requests']} requests, {stats['throttled_429']} throttled, "
                  f"{stats['bytes_received'] / 1e6:.1f} MB; rows {rows} ({'= sandbox' if ok else 'MISMATCH'})")
            if source == "connectwise":
                print(f"  budget: {stats['requests']} requests in {seconds:.1f} s, against a throttle of ~1000 per "
                      f"rolling minute (the connector's own cap: 900)")
            else:
                print(f"  budget: {stats['budget_used_by_run']} of {stats['budget_threshold']} requests/hour "
                      f"({100 * stats['budget_used_by_run'] / stats['budget_threshold']:.1f}%), "
                      f"{stats['budget_remaining']} left for other integrations")
    finally:
        child.kill()
        child.wait()


if __name__ == "__main__":
    main()
