"""Benchmark: how long generating a sandbox tenant takes and how much memory it holds, per scale and difficulty.

Each tenant is built in its own process, so the peak resident memory is that tenant's alone.

    .venv/bin/python benchmarks/sandbox_world.py --scales 300 2000 --difficulties standard hard
"""

import argparse
import json
import resource
import subprocess
import sys
import time


def build(seed: int, scale: int, difficulty: str, rmm: str) -> dict:
    from pipelines.sandbox.world import build_world

    started = time.perf_counter()
    world = build_world(seed=seed, scale=scale, difficulty=difficulty, rmm=rmm)
    seconds = time.perf_counter() - started
    return {"seed": seed, "scale": scale, "difficulty": difficulty, "rmm": rmm, "seconds": round(seconds, 1),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
            "itglue_records": sum(len(v) for v in world.itglue.values()),
            "truth_rows": world.truth.entities.height}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", type=int, nargs="+", default=[300, 2000])
    parser.add_argument("--difficulties", nargs="+", default=["standard", "hard"])
    parser.add_argument("--rmm", default="both")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--one", nargs=2, metavar=("SCALE", "DIFFICULTY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(build(args.seed, int(args.one[0]), args.one[1], args.rmm)))
        return
    print("| clients | difficulty | seconds | peak RSS | IT Glue records | truth rows |")
    print("| --- | --- | --- | --- | --- | --- |")
    for scale in args.scales:
        for difficulty in args.difficulties:
            out = subprocess.run([sys.executable, __file__, "--one", str(scale), difficulty, "--rmm", args.rmm,
                                  "--seed", str(args.seed)], capture_output=True, text=True, check=True)
            r = json.loads(out.stdout)
            print(f"| {scale:,} | {difficulty} | {r['seconds']} | {r['peak_rss_mb']:,} MB | {r['itglue_records']:,} | "
                  f"{r['truth_rows']:,} |", flush=True)


if __name__ == "__main__":
    main()
