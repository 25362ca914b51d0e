"""The reviewer's week through the command line, on the sandbox: find one client's actions, see why each was
proposed, dismiss one, approve the rest as a manager, apply, restore one; next week's run proposes neither the
dismissed nor the restored record again, and the dismissed pair is kept apart when linking."""

import re

import pytest
from review_week import cli, client_to_review, query, review_env

pytestmark = pytest.mark.slow  # two weekly runs and a dozen fresh processes that import Dagster


def test_a_week_of_review_through_the_command_line(sandbox, tmp_path):
    env, warehouse = review_env(sandbox, tmp_path)
    first = cli(["run"], env)
    assert first.returncode == 0, first.stderr
    batch_id = query(warehouse, "SELECT max(batch_id) FROM cleanup.batches")[0][0]
    assert f"Review it: msp-recon review {batch_id}" in first.stdout  # the run's last lines name the batch

    # a client with deletes of duplicate configurations and of orphans (a manager's to approve)
    client = client_to_review(warehouse, batch_id)
    theirs = {r[0]: r[1:] for r in query(
        warehouse, "SELECT action_id, action, source_id, survivor_source_id, subject, reason FROM cleanup.actions "
                   "WHERE batch_id = ? AND organization_name = ?", [batch_id, client])}
    shown = cli(["show", batch_id, "--client", client], env)
    assert shown.returncode == 0, shown.stderr
    listed = re.findall(rf"^({batch_id}-\d+)  ", shown.stdout, re.M)
    assert set(listed) == set(theirs) and f"showing {len(theirs)} of" in shown.stdout
    for action_id, (_, _, _, subject, reason) in theirs.items():  # why each was proposed, in words
        block = shown.stdout.split(action_id, 1)[1].split("\n\n", 1)[0]
        assert subject in block and f"why:       {reason}" in block and client in subject

    pair = next(a for a, (act, _, survivor, _, _) in sorted(theirs.items()) if act == "delete" and survivor)
    dismissed_id, dismissed_partner = theirs[pair][1], theirs[pair][2]
    dismissed = cli(["dismiss", pair, "--by", "ana", "--reason", "not a duplicate"], env)
    assert dismissed.returncode == 0 and "D0001" in dismissed.stdout, dismissed.stderr

    if any(a == "delete" and not s for a, _, s, _, _ in theirs.values()):  # deleting orphans needs a manager
        too_low = cli(["approve", batch_id, "--by", "bo", "--client", client], env)
        assert too_low.returncode == 1 and "ana may approve this" in too_low.stderr
    approved = cli(["approve", batch_id, "--by", "ana", "--client", client], env)
    assert approved.returncode == 0, approved.stderr
    assert f"Approved {len(theirs) - 1} of" in approved.stdout and "(manager;" in approved.stdout

    applied = cli(["apply", batch_id], env)
    assert applied.returncode == 0, applied.stderr
    assert "done" in applied.stdout.split("applied batch")[1] and "why:" not in applied.stdout
    deleted = [a for a, (act, _, _, _, _) in sorted(theirs.items()) if act == "delete" and a != pair
               and query(warehouse, "SELECT entity_type FROM cleanup.actions WHERE action_id = ?", [a])[0][0]
               != "organization"]
    restored_action = deleted[0]
    restored = cli(["restore", restored_action], env)
    assert restored.returncode == 0, restored.stderr
    new_id = re.search(r"new record with id (\d+)", restored.stdout).group(1)
    decisions = cli(["decisions"], env)
    assert "D0001" in decisions.stdout and "D0002" in decisions.stdout and "restored" in decisions.stdout

    second = cli(["run"], env)  # next week
    assert second.returncode == 0, second.stderr
    next_batch = query(warehouse, "SELECT max(batch_id) FROM cleanup.batches")[0][0]
    assert next_batch != batch_id
    proposed = {(r[0], r[1]) for r in query(warehouse, "SELECT source_id, action FROM cleanup.actions "
                                                       "WHERE batch_id = ?", [next_batch])}
    assert (dismissed_id, "delete") not in proposed
    assert (new_id, "delete") not in proposed
    # ... though linkage still finds the re-created record a duplicate: the decision is what keeps it out
    assert query(warehouse, "SELECT role FROM marts.duplicates WHERE source = 'itglue' AND source_id = ?",
                 [new_id]) == [("duplicate",)]
    clusters = dict(query(warehouse, "SELECT source_id, cluster_id FROM marts.entity_clusters "
                                     "WHERE entity_type = 'configuration' AND source = 'itglue' AND "
                                     "source_id IN (?, ?)", [dismissed_id, dismissed_partner]))
    assert clusters[dismissed_id] != clusters[dismissed_partner]  # kept apart

    # week over week: what the apply resolved, what is still open, per client
    changes = query(warehouse, "SELECT sum(new), sum(resolved), sum(still_open) FROM marts.weekly_changes "
                               "WHERE organization_name = ?", [client])[0]
    assert changes[1] >= len(theirs) - 2 and changes[0] >= 1, changes  # applied ones resolved; the re-created one new
    assert query(warehouse, "SELECT sum(still_open) FROM marts.weekly_changes")[0][0] > 0  # other clients untouched
    cookbook = cli(["sql", "sql/queries/weekly_changes.sql"], env)
    assert cookbook.returncode == 0 and client in cookbook.stdout and "still_open" in cookbook.stdout
    report = warehouse.parent / "review" / f"{next_batch}.html"
    assert report.exists() and f"Batch {next_batch}" in report.read_text()
    import dagster as dg

    with dg.DagsterInstance.from_config(str(tmp_path / "dh")) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey("cleanup_batch"))
        metadata = event.asset_materialization.metadata
    assert isinstance(metadata["week resolved"], dg.IntMetadataValue) and metadata["week resolved"].value > 0
    assert any(k.startswith("cause ") and isinstance(v, dg.IntMetadataValue) for k, v in metadata.items())
    assert metadata["review report"].value == str(report)
    for chart in (warehouse.parent / "linkage_charts").glob("*.html"):  # Splink's charts render offline
        html = chart.read_text()
        assert not re.search(r'<script[^>]*src="https?:', html), chart.name
        assert "cdn.jsdelivr.net/npm/vega" not in html, chart.name
