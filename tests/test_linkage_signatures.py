"""Cause signatures that need more than one cluster to see (import sessions, an organization the RMM made), the
hostname-within-organization evidence for PSA items without identifiers, and training that survives a failed EM
block."""

import json
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from splink.internals.em_training_session import EMTrainingSession
from test_linkage_cases import EARLY, T0, cfg, devices, link, orgs, same_cluster, two_clients

from pipelines.linkage.models import ModelStore
from pipelines.linkage.pipeline import LinkageOptions, link_staging
from pipelines.linkage.settings import CONFIGURATION


def _cause_of(dups: pl.DataFrame, source_id: str) -> str:
    return dups.filter((pl.col("source") == "itglue") & (pl.col("source_id") == source_id))["cause"].item()


def test_a_small_sheet_imported_twice_is_a_csv_double_import_but_two_random_copies_are_not(tmp_path):
    first, second = datetime(2022, 3, 1, 10, 0, tzinfo=UTC), datetime(2022, 3, 20, 16, 30, tzinfo=UTC)
    rows = []
    # a sheet of two switches imported twice: only two records per session, too few for a burst on its own
    for k in range(2):
        for tag, at in (("x", first), ("y", second)):
            rows.append(cfg("itglue", f"csv{tag}{k}", "11", f"switch-{k}", f"SW-{k}", f"00000000CC0{k}",
                            config_type="network", created_at=at + timedelta(seconds=3 * k)))
    # one printer documented twice by hand, months apart: nothing else was made at either moment
    rows += [cfg("itglue", "h1", "12", "printer-hr", "PRN-77", "00000000DD01", config_type="printer",
                 created_at=EARLY),
             cfg("itglue", "h2", "12", "printer-hr", "PRN-77", "00000000DD01", config_type="printer",
                 created_at=EARLY + timedelta(days=40))]
    tables, _ = link({"organizations": two_clients(), "configurations": pl.DataFrame(rows)}, tmp_path)
    dups = tables["marts.duplicates"]
    assert _cause_of(dups, "csvx0") == _cause_of(dups, "csvy1") == "csv_double_import"
    assert _cause_of(dups, "h1") == "unknown"


def test_an_organization_the_rmm_made_is_the_sync_method_change_copy(tmp_path):
    organizations = pl.concat([two_clients(), orgs(
        ("itglue", "13", "Contoso - Main Office", "contoso main office", None, None, EARLY))])
    rows = []
    for k in range(4):
        serial, mac = f"SN-C{k}", f"0000000000C{k}"
        rows += [cfg("autotask", f"a{k}", "1", f"ws-00{k}", serial, mac, rmm=f"dev-{k}"),
                 cfg("itglue", f"i{k}", "11", f"ws-00{k}", serial, mac, psa="enabled"),
                 # the direct RMM sync of 2018 made its own organization and put the devices there
                 cfg("itglue", f"r{k}", "13", f"ws-00{k}", serial, mac, has_rmm=True, rmm=f"dev-{k}",
                     created_at=EARLY),
                 cfg("datto_rmm", f"dev-{k}", "s1", f"ws-00{k}", serial, mac, rmm=f"dev-{k}")]
    tables, _ = link({"organizations": organizations, "configurations": pl.DataFrame(rows)}, tmp_path)
    dups = tables["marts.duplicates"].filter(pl.col("entity_type") == "organization")
    assert set(dups["source_id"]) == {"11", "13"}
    assert set(dups["cause"]) == {"sync_method_change"}
    assert dups.filter(pl.col("role") == "keep")["source_id"].to_list() == ["11"]  # the PSA-synced one


def test_a_psa_item_without_identifiers_joins_its_copy_by_hostname_within_the_client(tmp_path):
    rows = [
        # the PSA holds neither serial nor MAC; the IT Glue copy and the RMM agent know the MAC
        cfg("autotask", "bare", "1", "ws-050", config_type="workstation"),
        cfg("itglue", "bare", "11", "ws-050", None, "AABBCC000050", psa="enabled", config_type="workstation"),
        # WS-050 at the other client is another machine
        cfg("autotask", "other", "2", "ws-050", config_type="workstation"),
    ]
    tables, _ = link({"organizations": two_clients(), "configurations": pl.DataFrame(rows)}, tmp_path)
    clusters = tables["marts.entity_clusters"]
    assert same_cluster(clusters, "configuration", ("autotask", "bare"), ("itglue", "bare"))
    assert not same_cluster(clusters, "configuration", ("autotask", "bare"), ("autotask", "other"))
    assert not same_cluster(clusters, "configuration", ("itglue", "bare"), ("autotask", "other"))
    assert tables["marts.orphans"].height == 0  # its PSA record is there: not "psa_record_deleted"


def test_a_failed_em_block_leaves_every_comparison_in_the_model(tmp_path, monkeypatch):
    staging = {"organizations": two_clients(), "configurations": devices()}
    healthy = ModelStore(tmp_path / "healthy")
    link_staging(staging, healthy, options=LinkageOptions(charts=False))

    def fail(self, *args, **kwargs):
        raise ValueError("m_probability value 0.0 is below the minimum allowed value")

    # Splink drops the block's comparisons from the linker's settings (and swaps in a block-adjusted prior)
    # before it trains; a failure must leave the saved model with all of them and the tenant's own prior
    monkeypatch.setattr(EMTrainingSession, "_train", fail)
    failed = ModelStore(tmp_path / "failed")
    link_staging(staging, failed, options=LinkageOptions(charts=False))
    doc = json.loads(failed.path("configuration").read_text())
    saved = [c["output_column_name"] for c in doc["settings"]["comparisons"]]
    wanted = [c.get_comparison("duckdb").output_column_name for c in CONFIGURATION.comparisons()]
    assert saved == wanted
    assert any("skipped" in step for step in doc["training_log"])
    prior = json.loads(healthy.path("configuration").read_text())["settings"]["probability_two_random_records_match"]
    assert doc["settings"]["probability_two_random_records_match"] == pytest.approx(prior)


def test_synced_copies_made_in_the_same_minute_are_never_a_csv_import(tmp_path):
    # two synced copies made seconds apart are the PSA's doing (it holds the device twice), never an import
    rows = [cfg("autotask", "a", "1", "ws-001", "SN-1", "000000000001"),
            cfg("autotask", "b", "1", "WS-001", "SN-1", None),
            cfg("itglue", "i", "11", "ws-001", "SN-1", "000000000001", psa="enabled", created_at=T0),
            cfg("itglue", "j", "11", "WS-001", "SN-1", None, psa="enabled", created_at=T0 + timedelta(seconds=2))]
    tables, _ = link({"organizations": two_clients(), "configurations": pl.DataFrame(rows)}, tmp_path)
    assert _cause_of(tables["marts.duplicates"], "i") == "source_duplicate"
