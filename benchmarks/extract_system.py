"""Benchmark: extract any registered system from a large sandbox tenant over HTTP; time, requests, budget.

The sandbox runs in its own process, as a real API would, serving a tenant built for the system (HaloPSA as the PSA,
N-central or Automate as the RMM, ...; `pipelines.sandbox.systems`). The client's and the server's rate limits are
lifted, so the time is the work (server, network stack, parsing); the time a run takes under the system's default
budget is its requests at that budget's steady rate. Row counts are checked against the tenant's.

    .venv/bin/python benchmarks/extract_system.py halopsa ncentral automate --scale 2850
"""

import argparse
import asyncio
import json
import subprocess
import sys
import time

from pipelines.sources import get_source

LIFTED = 10**9


def serve(system: str, scale: int, seed: int) -> None:
    """Child process: build the tenant for `system`, serve it with limits lifted, print URL and counts, block."""
    from pipelines.sandbox.server import RunningSandbox, Sandbox, env_for, protocols
    from pipelines.sandbox.systems import build_world, expected_counts

    kind = get_source(system).kind
    world = build_world(seed=seed, scale=scale, **({"psa": system} if kind == "psa" else {"rmms": (system,)}))
    running = RunningSandbox(Sandbox(world, rate_limits=dict.fromkeys(protocols(), LIFTED)))
    print(json.dumps({"env": env_for(running.url, (system,)), "counts": expected_counts(world)}), flush=True)
    while True:
        time.sleep(3600)


def measure(system: str, scale: int, seed: int) -> None:
    source = get_source(system)
    built = time.perf_counter()
    child = subprocess.Popen([sys.executable, __file__, system, "--serve", "--scale", str(scale), "--seed", str(seed)],
                             stdout=subprocess.PIPE, text=True)
    try:
        line = child.stdout.readline()
        if not line:
            raise SystemExit("the sandbox did not start")
        served = json.loads(line)
        print(f"{system}: tenant of {scale} clients built and served in {time.perf_counter() - built:.0f} s")
        env = served["env"] | ({source.rate_limit.env: str(LIFTED)} if source.rate_limit else {})
        started = time.perf_counter()
        extraction = asyncio.run(source.extract(source.config_from(env), lambda table: None))
        seconds = time.perf_counter() - started
        rows = {t: f.height for t, f in extraction.frames.items() if t in served["counts"]}
        ok = all(served["counts"][t] == n for t, n in rows.items())
        stats = extraction.stats
        budget = source.default_budget
        steady = budget.requests / budget.per_seconds
        print(f"  {seconds:.1f} s, {stats['requests']:,} requests, {stats['bytes_received'] / 1e6:.1f} MB; rows {rows} "
              f"({'= sandbox' if ok else 'MISMATCH'}); under the default budget (~{steady * 60:.0f} per minute, "
              f"{budget.concurrency} in flight) ~{stats['requests'] / steady / 60:.1f} min")
        print(f"  requests by endpoint: {stats.get('requests_by_endpoint')}")
    finally:
        child.kill()
        child.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("systems", nargs="+", help="registered source names (psa or rmm)")
    parser.add_argument("--scale", type=int, default=2500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.systems[0], args.scale, args.seed)
        return
    for system in args.systems:
        measure(system, args.scale, args.seed)


if __name__ == "__main__":
    main()
