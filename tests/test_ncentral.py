"""N-able N-central over real HTTP against the sandbox (the RMM contract, tests/rmm_contract.py), plus its own:
the refresh token, and device assets that are optional."""

import pytest
from rmm_contract import RmmContract

from pipelines.sources import ncentral
from pipelines.sources.http import RetryPolicy, SourceError


def _extract(env, **kwargs):
    return ncentral.extract_ncentral(env["NCENTRAL_URL"], env["NCENTRAL_API_TOKEN"],
                                     **{"budget": ncentral.DEFAULT_BUDGET.lifted(), **kwargs})


CONTRACT = RmmContract("ncentral", _extract, secret_env="NCENTRAL_API_TOKEN", hint="NCENTRAL_API_TOKEN")


@pytest.fixture(scope="module")
def world():
    return CONTRACT.world()


@pytest.fixture
def running(world):
    with CONTRACT.serve(world) as served:
        yield served


def test_rate_limit_429_is_waited_out(running):
    CONTRACT.throttled(running, limit=40)  # a request per device for its assets: a roomier window


def test_expired_token_is_renewed(running):
    CONTRACT.token_renewed(running, uses=20)


@pytest.mark.parametrize("check", ["every_record_from_the_registry_entry",
                                   "bad_credentials", "staged_ids_are_itglue_rmm_ids"])
def test_rmm_contract(running, check):
    getattr(CONTRACT, check)(running)


def test_small_pages(running):
    CONTRACT.small_pages(running, page_size=4)


def test_renewal_uses_the_refresh_token(running):
    running.sandbox.quirks["ncentral.expire_tokens_after"] = 20
    extraction = CONTRACT.run(running, page_size=25)
    counts = running.sandbox.requests
    assert counts.get("ncentral POST /api/auth/refresh", 0) >= 1
    assert counts["ncentral POST /api/auth/authenticate"] == 1  # the JWT was exchanged once
    assert extraction.stats["tokens_issued"] > 1


def test_devices_never_audited_have_no_assets_and_no_error(running):
    devices = running.sandbox.world.systems["ncentral"]["devices"]
    running.sandbox.quirks["ncentral.unaudited"] = [devices[0]["deviceId"], devices[1]["deviceId"]]
    extraction = CONTRACT.run(running)
    assert extraction.frames["ncentral_device_assets"].height == len(devices) - 2
    assert "warnings" not in extraction.stats


def test_assets_refused_leave_serials_empty_with_one_warning(running):
    faults = running.sandbox.faults
    faults.only_containing, faults.fail_first, faults.fail_status = "/assets", 10_000, 403
    extraction = CONTRACT.run(running)
    assert extraction.frames["ncentral_devices"].height == len(running.sandbox.world.systems["ncentral"]["devices"])
    assert extraction.frames["ncentral_device_assets"].height == 0
    assert "could not be read" in extraction.stats["warnings"]


def test_an_asset_outage_midway_fails_the_source_instead_of_emptying_its_serials(running):
    """Assets answered last week: a server outage that outlasts the retries must not replace every device's serials
    and MACs with nothing. Only a refusal (the API user lacks the permission) is forgiven."""
    faults = running.sandbox.faults
    faults.only_containing, faults.fail_after, faults.fail_status = "/assets", 3, 500
    with pytest.raises(SourceError, match="ncentral"):
        CONTRACT.run(running, retry=RetryPolicy(max_attempts=2, max_elapsed=5, initial_wait=0.01, max_wait=0.02,
                                                throttled_floor=0.02))
