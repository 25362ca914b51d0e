"""Benchmark: extract a large sandbox tenant from IT Glue over HTTP and print records/s and requests/s.

The sandbox runs in its own process (`msp-recon sandbox serve`), as a real API would, so the client's parsing and the
server's serialising do not share one interpreter. The client-side rate limit is lifted: what is left is the
server, the network stack and the parsing. Run with concurrency 1 too, to see what paging one request at a time costs.

    .venv/bin/python benchmarks/extract_itglue.py --scale 2500 --concurrency 1 8
"""

import argparse
import asyncio
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from pipelines.sandbox.server import CREDENTIALS
from pipelines.sources.http import RateBudget
from pipelines.sources.itglue import extract_itglue


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_sandbox(scale: int, seed: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    cli = Path(sys.executable).parent / "msp-recon"
    server = subprocess.Popen([str(cli), "sandbox", "serve", "--port", str(port), "--scale", str(scale),
                               "--seed", str(seed)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/_sandbox/faults", timeout=1)
            return server, url
        except httpx.TransportError:
            time.sleep(0.5)
    server.kill()
    raise SystemExit("the sandbox did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=2500, help="client organizations (2500 ~ 50,000 configurations)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--page-size", type=int, default=1000)
    args = parser.parse_args()

    server, url = start_sandbox(args.scale, args.seed)
    try:
        print(f"sandbox at {url}, scale {args.scale}, page size {args.page_size}")
        print(f"{'concurrency':>11} {'seconds':>8} {'records':>9} {'records/s':>10} {'requests':>9} {'requests/s':>10}")
        for concurrency in args.concurrency:
            budget = RateBudget(requests=3000, per_seconds=300, concurrency=concurrency).lifted()
            started = time.perf_counter()
            result = asyncio.run(extract_itglue(f"{url}/itglue", CREDENTIALS["ITGLUE_API_KEY"], budget=budget,
                                                page_size=args.page_size))
            seconds = time.perf_counter() - started
            records = sum(f.height for f in result.frames.values())
            requests = result.stats["requests"]
            print(f"{concurrency:>11} {seconds:>8.2f} {records:>9,} {records / seconds:>10,.0f} {requests:>9} "
                  f"{requests / seconds:>10.1f}")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
