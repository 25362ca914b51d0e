"""Shared fixtures: a small seeded sandbox tenant served over real HTTP on 127.0.0.1, and a scratch warehouse.

Every test runs isolated from real accounts (`no_real_credentials`): whatever the machine's environment or the
project's `.env` configure is invisible to the test and to every process it starts.
"""

import copy
import os
import subprocess

import pytest

from pipelines.sandbox.server import RunningSandbox, Sandbox
from pipelines.sandbox.world import build_world
from pipelines.settings import ENV_FILE_VARIABLE, is_contract_variable


@pytest.fixture(autouse=True)
def no_real_credentials(monkeypatch, tmp_path_factory):
    """Removes every contract variable (RECON_*, each source's <SOURCE>_*, DAGSTER_HOME) from the environment,
    points the `.env` lookup (RECON_ENV_FILE) at a file that does not exist and DAGSTER_HOME at a fresh folder.

    Subprocesses inherit this environment; one started with an `env` of its own that leaves RECON_ENV_FILE out
    (tests filter RECON_* when building one) still gets it, so no test's process reads the project's `.env`.
    """
    for name in [name for name in os.environ if is_contract_variable(name)]:
        monkeypatch.delenv(name)
    isolated = tmp_path_factory.mktemp("isolated")
    no_env_file = str(isolated / "no.env")
    monkeypatch.setenv(ENV_FILE_VARIABLE, no_env_file)
    (isolated / "dagster_home").mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(isolated / "dagster_home"))

    original_init = subprocess.Popen.__init__

    def popen_without_env_file(self, args, *rest, **kwargs):
        env = kwargs.get("env")
        if env is not None and not env.get(ENV_FILE_VARIABLE):
            kwargs["env"] = {**env, ENV_FILE_VARIABLE: no_env_file}
        original_init(self, args, *rest, **kwargs)

    monkeypatch.setattr(subprocess.Popen, "__init__", popen_without_env_file)
    return no_env_file


@pytest.fixture(scope="session")
def small_world():
    """A tenant of 15 clients; shared read-only, so tests that write take a copy (see `sandbox`)."""
    return build_world(seed=11, scale=15)


@pytest.fixture
def sandbox(small_world):
    """The small tenant served on a free port; writes and faults stay within the test."""
    with RunningSandbox(Sandbox(copy.deepcopy(small_world))) as running:
        yield running


@pytest.fixture
def warehouse_path(tmp_path):
    return tmp_path / "warehouse.duckdb"
