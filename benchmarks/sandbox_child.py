"""A sandbox tenant served in its own process, as a real API would be, for the benchmarks that drive whole steps.

    child, url = start(scale=2000, seed=7, psa="autotask", lifted=True)   # ... then child.kill()
"""

import argparse
import json
import subprocess
import sys
import time

LIFTED = 10**6
SYSTEMS = ("itglue", "autotask", "connectwise", "datto_rmm", "ninjaone")


def start(scale: int, seed: int, psa: str, lifted: bool) -> tuple[subprocess.Popen, str]:
    """Start the child; returns it and the sandbox's base URL. `lifted`: every vendor's rate limit lifted."""
    command = [sys.executable, __file__, "--scale", str(scale), "--seed", str(seed), "--psa", psa]
    child = subprocess.Popen(command + (["--lifted"] if lifted else []), stdout=subprocess.PIPE, text=True)
    line = child.stdout.readline()
    if not line:
        child.kill()
        raise SystemExit("the sandbox did not start")
    return child, json.loads(line)["url"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, required=True)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--psa", default="autotask")
    parser.add_argument("--lifted", action="store_true")
    args = parser.parse_args()
    from pipelines.sandbox.server import RunningSandbox, Sandbox
    from pipelines.sandbox.world import build_world

    limits = {name: LIFTED for name in SYSTEMS} if args.lifted else {}
    running = RunningSandbox(Sandbox(build_world(seed=args.seed, scale=args.scale, psa=args.psa), rate_limits=limits))
    print(json.dumps({"url": running.url}), flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
