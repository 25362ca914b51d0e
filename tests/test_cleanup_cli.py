"""msp-recon batches / show / approve / apply / restore as a user runs them, against the hand-made tenant."""

import os
import subprocess
import sys

import pytest
from cleanup_world import action_ids, plan_batch, store, tenant, writes  # noqa: F401

pytestmark = pytest.mark.slow  # each command is a fresh process that imports Dagster


def cli(args, env):
    return subprocess.run([sys.executable, "-m", "pipelines.cli", *args], env=env, capture_output=True, text=True,
                          timeout=240)


def test_review_approve_apply_restore_from_the_command_line(store, tenant, tmp_path):
    batch_id = plan_batch(store, tenant)
    ids = action_ids(store, batch_id)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ITGLUE_", "RECON_", "DAGSTER_"))}
    env |= tenant.env(("itglue",)) | {"RECON_WAREHOUSE": str(store.path), "DAGSTER_HOME": str(tmp_path / "dh")}

    listed = cli(["batches"], env)
    assert listed.returncode == 0 and batch_id in listed.stdout and "proposed" in listed.stdout
    shown = cli(["show", batch_id], env)
    assert shown.returncode == 0 and "Local admin" in shown.stdout and "Disable sync" in shown.stdout

    refused = cli(["apply", batch_id], env)  # not approved: one line, nothing changed
    last = refused.stderr.strip().splitlines()[-1]  # above it: Dagster's own run log
    assert refused.returncode == 1 and last.startswith("msp-recon: refusing to apply") and "not approved" in last
    assert writes(tenant) == [] and "Traceback" not in refused.stderr

    excluded = ids[("configuration", "107")]
    unconfigured = cli(["approve", batch_id, "--by", "ana", "--exclude", excluded], env)
    assert unconfigured.returncode == 1 and "no approvers file at" in unconfigured.stderr
    approvers = tmp_path / "approvers.toml"
    approvers.write_text('[approvers]\nana = "manager"\nbo = "editor"\n')
    env["RECON_APPROVERS"] = str(approvers)
    too_low = cli(["approve", batch_id, "--by", "bo", "--exclude", excluded], env)
    assert too_low.returncode == 1 and too_low.stderr.count("\n") == 1
    assert "bo is an editor; deleting orphans" in too_low.stderr and "ana may approve this" in too_low.stderr
    approved = cli(["approve", batch_id, "--by", "ana", "--exclude", excluded], env)
    assert approved.returncode == 0 and f"of batch {batch_id}" in approved.stdout and "(manager;" in approved.stdout
    assert "Nothing is applied yet" in approved.stdout and "--dry-run" in approved.stdout

    dry = cli(["apply", batch_id, "--dry-run"], env)
    assert dry.returncode == 0 and "DELETE /configurations  ids [102, 111]" in dry.stdout and writes(tenant) == []

    applied = cli(["apply", batch_id], env)
    assert applied.returncode == 0, applied.stderr
    totals = applied.stdout.split(f"applied batch {batch_id}:")[1]
    assert "done" in totals and "1 excluded by the approval" in totals and "manual_step" in totals
    assert "why:" not in totals  # totals and what was skipped, not the whole batch again
    assert not any("107" in ids_ for _, _, ids_ in writes(tenant))

    restored = cli(["restore", ids[("configuration", "102")]], env)
    assert restored.returncode == 0 and "new record with id" in restored.stdout
