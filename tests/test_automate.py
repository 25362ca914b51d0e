"""ConnectWise Automate over real HTTP against the sandbox (the RMM contract, tests/rmm_contract.py), plus its own:
the ClientId header on every call."""

import asyncio

import pytest
from rmm_contract import FAST_RETRY, RmmContract

from pipelines.sources import automate
from pipelines.sources.http import AuthError


def _extract(env, **kwargs):
    return automate.extract_automate(env["AUTOMATE_URL"], env["AUTOMATE_USERNAME"], env["AUTOMATE_PASSWORD"],
                                     env["AUTOMATE_CLIENT_ID"], **{"budget": automate.DEFAULT_BUDGET.lifted(),
                                                                   **kwargs})


CONTRACT = RmmContract("automate", _extract, secret_env="AUTOMATE_PASSWORD",
                       hint="AUTOMATE_USERNAME/AUTOMATE_PASSWORD (with AUTOMATE_CLIENT_ID)")


@pytest.fixture(scope="module")
def world():
    return CONTRACT.world()


@pytest.fixture
def running(world):
    with CONTRACT.serve(world) as served:
        yield served


@pytest.mark.parametrize("check", ["every_record_from_the_registry_entry", "throttled", "token_renewed",
                                   "bad_credentials", "staged_ids_are_itglue_rmm_ids"])
def test_rmm_contract(running, check):
    getattr(CONTRACT, check)(running)


def test_small_pages(running):
    CONTRACT.small_pages(running, page_size=7)


def test_a_wrong_client_id_is_named(running):
    env = {**CONTRACT.env(running), "AUTOMATE_CLIENT_ID": "not-ours"}
    with pytest.raises(AuthError, match="AUTOMATE_CLIENT_ID is the client id"):
        asyncio.run(_extract(env, retry=FAST_RETRY))
