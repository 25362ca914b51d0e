"""Optional lookups degrade: a picklist or enrichment the API refuses (403) leaves its fields empty with one warning
in the run's metadata; a server outage fails the source instead (the lookup's fields from last week are kept); the
records themselves are always required."""

import asyncio

import pytest

from pipelines.sources import autotask, ninjaone
from pipelines.sources.http import RetryPolicy, SourceError

FAST_RETRY = RetryPolicy(max_attempts=3, max_elapsed=10, initial_wait=0.01, max_wait=0.05, throttled_floor=0.05)


def _autotask(sandbox):
    env = sandbox.env(("autotask",))
    return asyncio.run(autotask.extract_autotask(
        env["AUTOTASK_URL"], env["AUTOTASK_USERNAME"], env["AUTOTASK_SECRET"], env["AUTOTASK_INTEGRATION_CODE"],
        retry=FAST_RETRY))


def test_autotask_without_category_names_still_extracts_every_item(sandbox):
    status = 403
    faults = sandbox.sandbox.faults
    faults.only_containing, faults.fail_first, faults.fail_status = "ConfigurationItemCategories", 100, status
    extraction = _autotask(sandbox)

    items = extraction.frames["autotask_configuration_items"]
    assert items.height == sandbox.sandbox.world.expected_counts()["autotask_configuration_items"]
    assert items["configuration_item_category_name"].null_count() == items.height
    assert items["configuration_item_category_id"].null_count() < items.height  # the ids themselves are kept
    warning = extraction.stats["warnings"]
    assert warning.count("could not be read") == 1
    assert "ConfigurationItemCategories" in warning and str(status) in warning


@pytest.mark.parametrize("status", [500, 503])
def test_autotask_category_outage_fails_the_source_rather_than_emptying_names(sandbox, status):
    faults = sandbox.sandbox.faults
    faults.only_containing, faults.fail_first, faults.fail_status = "ConfigurationItemCategories", 100, status
    with pytest.raises(SourceError, match="kept failing"):
        _autotask(sandbox)


def test_ninjaone_serial_outage_fails_the_source(sandbox):
    faults = sandbox.sandbox.faults
    faults.only, faults.fail_first, faults.fail_status = "/ninjaone/v2/queries", 100, 500
    env = sandbox.env(("ninjaone",))
    with pytest.raises(SourceError, match="kept failing"):
        asyncio.run(ninjaone.extract_ninjaone(
            env["NINJAONE_URL"], env["NINJAONE_CLIENT_ID"], env["NINJAONE_CLIENT_SECRET"],
            budget=ninjaone.DEFAULT_BUDGET.lifted(), retry=FAST_RETRY))


def test_autotask_names_categories_when_the_picklist_answers(sandbox):
    extraction = _autotask(sandbox)
    items = extraction.frames["autotask_configuration_items"]
    assert items["configuration_item_category_name"].null_count() < items.height
    assert "warnings" not in extraction.stats


def test_autotask_records_are_still_required(sandbox):
    faults = sandbox.sandbox.faults
    faults.only_containing, faults.fail_first, faults.fail_status = "ConfigurationItems/query", 100, 500
    with pytest.raises(SourceError, match="kept failing"):
        _autotask(sandbox)


def test_ninjaone_without_serials_still_extracts_devices(sandbox):
    faults = sandbox.sandbox.faults
    faults.only, faults.fail_first, faults.fail_status = "/ninjaone/v2/queries", 100, 403
    env = sandbox.env(("ninjaone",))
    extraction = asyncio.run(ninjaone.extract_ninjaone(
        env["NINJAONE_URL"], env["NINJAONE_CLIENT_ID"], env["NINJAONE_CLIENT_SECRET"],
        budget=ninjaone.DEFAULT_BUDGET.lifted(), retry=FAST_RETRY))
    counts = sandbox.sandbox.world.expected_counts()
    assert extraction.frames["ninjaone_devices"].height == counts["ninjaone_devices"]
    assert extraction.frames["ninjaone_computer_systems"].height == 0
    assert "computer-systems" in extraction.stats["warnings"] and "403" in extraction.stats["warnings"]
