"""Retries ride out a 429 storm within a time budget (RECON_RETRY_BUDGET_SECONDS), honour Retry-After, and a storm
that outlasts the budget ends in one line naming the host and how long it was tried. Storms are the sandbox's
injected 429s, ended by a timer; the budget is seconds so that the tests are quick."""

import asyncio
import os
import re
import subprocess
import sys
import threading
import time

import pytest

from pipelines.sandbox.server import CREDENTIALS
from pipelines.settings import DEFAULT_RETRY_BUDGET_SECONDS
from pipelines.sources.http import RetryPolicy, SourceError
from pipelines.sources.itglue import extract_itglue


def storm(sandbox, seconds: float | None, retry_after: str = "0.2") -> None:
    """Every IT Glue request gets 429 (with Retry-After) from now, for `seconds` (None: until the test ends)."""
    faults = sandbox.sandbox.faults
    faults.only, faults.throttle_first, faults.retry_after = "/itglue", 10**9, retry_after
    if seconds is not None:
        threading.Timer(seconds, faults.reset).start()


def extract(sandbox, retry: RetryPolicy):
    return asyncio.run(extract_itglue(f"{sandbox.url}/itglue", CREDENTIALS["ITGLUE_API_KEY"], retry=retry))


def test_the_budget_is_15_minutes_unless_set(monkeypatch):
    assert RetryPolicy().max_elapsed == DEFAULT_RETRY_BUDGET_SECONDS == 900
    monkeypatch.setenv("RECON_RETRY_BUDGET_SECONDS", "42")
    assert RetryPolicy().max_elapsed == 42


def test_a_storm_shorter_than_the_budget_is_ridden_out(sandbox):
    storm(sandbox, seconds=3)
    started = time.monotonic()
    result = extract(sandbox, RetryPolicy(max_elapsed=10))
    assert time.monotonic() - started >= 3
    expected = sandbox.sandbox.world.expected_counts()
    assert result.frames["itglue_configurations"].height == expected["itglue_configurations"]
    # more tries than the old limit of 8 attempts allowed: the storm was ridden out by time, not by count
    assert result.stats["throttled_429"] > 8 * 3


def test_retry_after_is_honoured(sandbox):
    storm(sandbox, seconds=None, retry_after="2")
    started = time.monotonic()
    with pytest.raises(SourceError, match="kept throttling"):
        extract(sandbox, RetryPolicy(max_elapsed=5))
    # waits of 2 s as the server asked: two waits fit in 5 s, and the third would end past the budget
    assert 4 <= time.monotonic() - started < 6
    assert sandbox.sandbox.faults.seen <= 3 * 8  # three tries of each of the (at most 8) requests in flight


def test_a_storm_longer_than_the_budget_ends_the_run_in_one_line(sandbox, tmp_path):
    storm(sandbox, seconds=None)
    env = {**os.environ, **sandbox.env(("itglue",)), "RECON_RETRY_BUDGET_SECONDS": "3",
           "RECON_WAREHOUSE": str(tmp_path / "w.duckdb"), "DAGSTER_HOME": str(tmp_path / "dh")}
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "pipelines.cli", "run"], env=env, capture_output=True, text=True,
                            timeout=240)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    step, run = result.stderr.strip().splitlines()
    assert re.fullmatch(
        rf"msp-recon: step extract_itglue failed: itglue: {re.escape(sandbox.url)} kept throttling "
        r"\(429 Too Many Requests\) for [23] s \(\d+ tries\), past the retry budget of 3 s; .*"
        "allow longer storms with RECON_RETRY_BUDGET_SECONDS", step), step
    assert "failed; see it in the Dagster UI" in run
    assert time.monotonic() - started < 120
