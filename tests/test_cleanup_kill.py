"""A cleanup apply killed with SIGKILL in the middle resumes on the next launch and repeats nothing."""

import os
import signal
import subprocess
import sys
import time

from cleanup_world import action_ids, outcomes, plan_batch, store, tenant, writes  # noqa: F401

from pipelines.cleanup import approval

ALL_EXECUTABLE = {  # what the hand-made batch changes through the API when everything is approved
    ("PATCH", "/itglue/configurations/104", ()), ("PATCH", "/itglue/configurations/108", ()),
    ("DELETE", "/itglue/contacts", ("202", "203")), ("DELETE", "/itglue/configurations", ("102", "107", "111")),
    ("DELETE", "/itglue/organizations", ("4",)),
}


def apply_process(store, tenant, tmp_path, batch_id) -> subprocess.Popen:  # noqa: F811
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ITGLUE_", "RECON_", "DAGSTER_"))}
    env |= tenant.env(("itglue",)) | {"RECON_WAREHOUSE": str(store.path), "DAGSTER_HOME": str(tmp_path / "dh")}
    return subprocess.Popen([sys.executable, "-m", "pipelines.cli", "apply", batch_id], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_killed_apply_resumes_without_repeating_a_write(store, tenant, tmp_path):  # noqa: F811
    batch_id = plan_batch(store, tenant)
    with store.connect() as con:
        approval.approve(con, batch_id, by="ana")
    # Slow IT Glue down so the kill lands in the middle of the batch: after the first write, before the last.
    tenant.sandbox.faults.only, tenant.sandbox.faults.delay_seconds = "/itglue", 0.4
    first = apply_process(store, tenant, tmp_path, batch_id)
    deadline = time.monotonic() + 180
    while not writes(tenant) and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    done_before = len(writes(tenant))
    assert 0 < done_before < len(ALL_EXECUTABLE), "the kill should land mid-batch"

    tenant.sandbox.faults.reset()
    second = apply_process(store, tenant, tmp_path, batch_id)
    out, err = second.communicate(timeout=240)
    assert second.returncode == 0, err
    # every approved write happened exactly once across the killed run and the resumed one
    assert sorted(writes(tenant)) == sorted(ALL_EXECUTABLE)
    final = outcomes(store, batch_id)
    ids = action_ids(store, batch_id)
    for key in (("configuration", "102"), ("configuration", "104"), ("contact", "203"), ("organization", "4")):
        assert final[ids[key]] in ("done", "already_gone", "skipped_changed"), (key, final[ids[key]])
