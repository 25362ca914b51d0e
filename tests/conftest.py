"""Shared fixtures: a small seeded sandbox tenant served over real HTTP on 127.0.0.1, and a scratch warehouse."""

import copy

import pytest

from pipelines.sandbox.server import RunningSandbox, Sandbox
from pipelines.sandbox.world import build_world


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
