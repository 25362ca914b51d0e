"""The IT Glue connector against the sandbox over real HTTP: paging, counts, retries, errors, atomic replacement."""

import asyncio
import time

import pytest

from pipelines.sandbox.server import CREDENTIALS
from pipelines.sources.http import AuthError, MalformedResponse, RateBudget, RetryPolicy, SourceError
from pipelines.sources.itglue import extract_itglue

FAST_RETRY = RetryPolicy(max_attempts=6, initial_wait=0.01, max_wait=0.1, throttled_floor=0.05)
KEY = CREDENTIALS["ITGLUE_API_KEY"]


def extract(sandbox, **kwargs):
    kwargs.setdefault("retry", FAST_RETRY)
    return asyncio.run(extract_itglue(f"{sandbox.url}/itglue", kwargs.pop("key", KEY), **kwargs))


def page_requests(sandbox, resource="configurations"):
    return sandbox.sandbox.requests.get(f"itglue GET /{resource}", 0)


def test_full_extraction_matches_the_tenant(sandbox):
    result = extract(sandbox)
    expected = sandbox.sandbox.world.expected_counts()
    for table in ("itglue_organizations", "itglue_configurations", "itglue_contacts"):
        assert result.frames[table].height == expected[table], table
    configs = result.frames["itglue_configurations"]
    assert configs["id"].n_unique() == configs.height
    # include=rmm_records: RMM-synced copies are recognisable, and their raw JSON carries the RMM data
    with_rmm = configs.filter(configs["rmm_record_count"] > 0)
    assert with_rmm.height > 0
    assert '"rmm_records"' in with_rmm["raw_json"][0]
    assert set(result.frames) == {"itglue_organizations", "itglue_configurations", "itglue_contacts"}


def test_pages_are_followed_and_page_size_is_capped(sandbox):
    total = sandbox.sandbox.world.expected_counts()["itglue_configurations"]
    result = extract(sandbox, page_size=40)
    assert result.frames["itglue_configurations"].height == total
    assert page_requests(sandbox) == -(-total // 40)  # one request per page, no more
    # asking for more than IT Glue's maximum still works: the client never sends page[size] over 1000
    assert extract(sandbox, page_size=5000).frames["itglue_configurations"].height == total


@pytest.mark.parametrize("quirk", ["itglue.lying_total", "itglue.drop_record"])
def test_total_count_mismatch_is_an_error(sandbox, quirk):
    sandbox.sandbox.quirks[quirk] = ("configurations", 2) if quirk == "itglue.drop_record" else ("configurations", 3)
    with pytest.raises(MalformedResponse, match="total-count"):
        extract(sandbox, page_size=50)


def test_a_malformed_page_is_a_clear_error(sandbox):
    sandbox.sandbox.quirks["itglue.malformed_page"] = ("contacts", 1)
    with pytest.raises(MalformedResponse, match="not JSON"):
        extract(sandbox)


def test_429_with_retry_after_is_waited_out(sandbox):
    faults = sandbox.sandbox.faults
    faults.throttle_first, faults.retry_after = 3, "1"
    started = time.monotonic()
    result = extract(sandbox)
    assert result.stats["throttled_429"] == 3
    assert time.monotonic() - started >= 1.0  # Retry-After was honoured, not the tiny backoff
    assert result.frames["itglue_contacts"].height == sandbox.sandbox.world.expected_counts()["itglue_contacts"]


def test_429_without_retry_after_backs_off_and_finishes(sandbox):
    faults = sandbox.sandbox.faults
    faults.throttle_first, faults.throttle_every, faults.retry_after = 4, 3, None
    result = extract(sandbox, page_size=50)
    assert result.stats["throttled_429"] >= 4
    assert result.frames["itglue_configurations"].height == sandbox.sandbox.world.expected_counts()[
        "itglue_configurations"]


def test_a_429_storm_longer_than_the_retry_budget_fails_clearly(sandbox):
    sandbox.sandbox.faults.throttle_first = 10_000
    with pytest.raises(SourceError, match="kept throttling"):
        extract(sandbox, retry=RetryPolicy(max_elapsed=1.5, initial_wait=0.01, max_wait=0.02, throttled_floor=0.01))


def test_5xx_is_retried(sandbox):
    sandbox.sandbox.faults.fail_first = 2
    result = extract(sandbox)
    assert result.stats["server_errors_5xx"] == 2
    assert result.frames["itglue_organizations"].height == sandbox.sandbox.world.expected_counts()[
        "itglue_organizations"]


def test_a_request_that_times_out_is_retried(sandbox):
    faults = sandbox.sandbox.faults
    faults.hang_first, faults.hang_seconds = 1, 2.0
    result = extract(sandbox, timeout=0.5)
    assert result.stats["timeouts"] == 1
    assert result.frames["itglue_organizations"].height == sandbox.sandbox.world.expected_counts()[
        "itglue_organizations"]


def test_a_page_that_took_too_long_is_fetched_in_smaller_pages(sandbox):
    sandbox.sandbox.quirks["itglue.slow_page_size_above"] = 100
    result = extract(sandbox, page_size=1000)
    assert result.frames["itglue_configurations"].height == sandbox.sandbox.world.expected_counts()[
        "itglue_configurations"]


def test_a_wrong_key_names_the_variable_and_host(sandbox):
    with pytest.raises(AuthError) as err:
        extract(sandbox, key="not-the-key")
    message = str(err.value)
    assert "ITGLUE_API_KEY" in message and sandbox.url in message and "403" in message
    assert "\n" not in message


def test_the_client_side_budget_spaces_requests(sandbox):
    # 5 requests per second after a burst of 5: N page requests cannot finish in under (N - 5) / 5 seconds.
    started = time.monotonic()
    result = extract(sandbox, page_size=30, budget=RateBudget(requests=5, per_seconds=1.0, concurrency=4))
    assert result.stats["requests"] >= 15
    assert time.monotonic() - started >= (result.stats["requests"] - 5) / 5 - 0.2
