"""Runs that die, runs that overlap, runs that wait: real `msp-recon run` processes against the sandbox over HTTP,
real kill -9 and SIGTERM, and the Dagster instance they record in (DAGSTER_HOME)."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipelines.dead_runs import PID_TAG, process_tags
from pipelines.settings import DEFAULT_DAGSTER_HOME

pytestmark = pytest.mark.slow  # each run is a fresh process that imports Dagster


@pytest.fixture
def run_env(tmp_path, sandbox):
    env = {**os.environ, **sandbox.env(("itglue", "autotask")),
           "RECON_WAREHOUSE": str(tmp_path / "w.duckdb"), "DAGSTER_HOME": str(tmp_path / "dagster_home")}
    return env


def start_run(env) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pipelines.cli", "run"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_until(condition, process, seconds=120):
    deadline = time.monotonic() + seconds
    while not condition():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def extraction_started(sandbox):
    return lambda: any(key.startswith("itglue") for key in sandbox.sandbox.requests)


def duckdb_slots(home) -> set[str]:
    with dg.DagsterInstance.from_config(home) as instance:
        return instance.event_log_storage.get_concurrency_info("duckdb").active_run_ids


def test_a_run_killed_during_extraction_does_not_block_the_next(run_env, sandbox):
    sandbox.sandbox.faults.only, sandbox.sandbox.faults.delay_seconds = "/itglue", 0.3
    first = start_run(run_env)
    home = run_env["DAGSTER_HOME"]
    # killed while extracting AND holding the warehouse's slot: the first request to the sandbox can come before
    # the slot is recorded (sources extract in parallel), and a run killed before it holds nothing to release
    wait_until(lambda: extraction_started(sandbox)() and duckdb_slots(home), first)
    first.send_signal(signal.SIGKILL)
    first.wait()
    with dg.DagsterInstance.from_config(home) as instance:
        (dead,) = instance.get_runs()
        assert dead.status == dg.DagsterRunStatus.STARTED and dead.tags[PID_TAG] == str(first.pid)
    assert duckdb_slots(home) == {dead.run_id}  # what blocked every later run

    sandbox.sandbox.faults.reset()
    second = subprocess.run([sys.executable, "-m", "pipelines.cli", "run"], env=run_env, capture_output=True,
                            text=True, timeout=180)
    assert second.returncode == 0, second.stderr
    assert f"released run {dead.run_id} (weekly_reconciliation, pid {first.pid}" in second.stderr
    with dg.DagsterInstance.from_config(home) as instance:
        assert instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.FAILURE
        assert [r.status for r in instance.get_runs()][0] == dg.DagsterRunStatus.SUCCESS
    assert duckdb_slots(home) == set()


def test_a_second_run_refuses_in_one_line_and_the_first_stays_whole(run_env, sandbox, tmp_path):
    sandbox.sandbox.faults.only, sandbox.sandbox.faults.delay_seconds = "/autotask", 0.2
    first = start_run(run_env)
    wait_until(extraction_started(sandbox), first)
    second = subprocess.run([sys.executable, "-m", "pipelines.cli", "run"], env=run_env, capture_output=True,
                            text=True, timeout=120)
    assert second.returncode == 1 and "Traceback" not in second.stderr
    (line,) = second.stderr.strip().splitlines()
    assert line.startswith(f"msp-recon: another run is using the warehouse {run_env['RECON_WAREHOUSE']}: "
                           f"process {first.pid} on {socket.gethostname()} (weekly_reconciliation"), line
    assert "this one changed nothing" in line

    out, err = first.communicate(timeout=240)
    assert first.returncode == 0, err
    expected = sandbox.sandbox.world.expected_counts()
    with duckdb.connect(run_env["RECON_WAREHOUSE"], read_only=True) as con:
        for table in ("itglue_configurations", "autotask_configuration_items", "autotask_companies"):
            rows, swaps = con.sql(f"SELECT count(*), count(DISTINCT extracted_at) FROM raw.{table}").fetchall()[0]
            assert (rows, swaps) == (expected[table], 1), table
    with dg.DagsterInstance.from_config(run_env["DAGSTER_HOME"]) as instance:
        assert [r.status for r in instance.get_runs()] == [dg.DagsterRunStatus.SUCCESS]  # the refused one never ran


def test_a_waiting_run_says_what_it_waits_for_and_obeys_sigterm(run_env):
    # a live run of the same instance (this test's own process) holds the one slot of pool duckdb
    holder_id = str(uuid.uuid4())
    home = Path(run_env["DAGSTER_HOME"])
    home.mkdir()
    shutil.copyfile(DEFAULT_DAGSTER_HOME / "dagster.yaml", home / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.add_run(dg.DagsterRun(job_name="weekly_reconciliation", run_id=holder_id,
                                       status=dg.DagsterRunStatus.STARTED, tags=process_tags()))
        instance.event_log_storage.initialize_concurrency_limit_to_default("duckdb")
        assert instance.event_log_storage.claim_concurrency_slot("duckdb", holder_id, "extract_itglue").is_claimed
    waiting = start_run(run_env)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(iter(waiting.stderr.readline, "")), daemon=True).start()
    wait_until(lambda: lines, waiting, seconds=60)
    line = lines[0]
    assert line.startswith("msp-recon: waiting: pool duckdb (limit 1) is held by "
                           f"run {holder_id} (weekly_reconciliation, pid {os.getpid()} on {socket.gethostname()})")
    assert "Ctrl-C stops waiting" in line
    time.sleep(1)
    assert waiting.poll() is None  # still waiting: the holder is alive
    sent = time.monotonic()
    waiting.send_signal(signal.SIGTERM)
    waiting.wait(timeout=60)
    assert time.monotonic() - sent < 20, time.monotonic() - sent  # a loaded 2-core machine: seconds, not minutes
    time.sleep(0.2)  # the reader thread takes the last line
    assert waiting.returncode == 1 and not any("Traceback" in line for line in lines)
    assert [line.strip() for line in lines[1:]] == [
        "msp-recon: interrupted: weekly_reconciliation stopped before it changed anything"]
    assert not os.path.exists(run_env["RECON_WAREHOUSE"])


def test_ctrl_c_during_extraction_stops_the_run_promptly(run_env, sandbox):
    sandbox.sandbox.faults.only, sandbox.sandbox.faults.delay_seconds = "/itglue", 0.3
    running = start_run(run_env)
    wait_until(extraction_started(sandbox), running)
    sent = time.monotonic()
    running.send_signal(signal.SIGINT)
    out, err = running.communicate(timeout=60)
    assert time.monotonic() - sent < 15 and running.returncode == 1 and "Traceback" not in err
    assert "interrupted (Ctrl-C or SIGTERM)" in err
    with dg.DagsterInstance.from_config(run_env["DAGSTER_HOME"]) as instance:
        (run,) = instance.get_runs()
        assert run.is_finished and not run.is_success
    assert duckdb_slots(run_env["DAGSTER_HOME"]) == set()


def test_a_run_the_ui_launches_waits_for_the_warehouse_lock(sandbox, tmp_path):
    # runs the daemon launches do not go through msp-recon's runner: the warehouse resource takes the lock
    from pipelines.definitions import defs
    from pipelines.resources import SourcesResource, WarehouseResource

    path = tmp_path / "w.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import time; from pipelines.warehouse_lock import hold_warehouse\n"
        f"with hold_warehouse({str(path)!r}, 'apply_cleanup'):\n"
        "    print('held', flush=True); time.sleep(4)\n")], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    started = time.monotonic()
    with dg.DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("weekly_reconciliation").execute_in_process(
            instance=instance, resources={"sources": SourcesResource(env=sandbox.env(("itglue",)),
                                                                     read_environment=False),
                                          "warehouse": WarehouseResource(path=str(path))})
        assert result.success
        messages = [r.user_message for r in instance.all_logs(result.run_id)]
        run = instance.get_run_by_id(result.run_id)
    holder.wait()
    waited = [m for m in messages if m.startswith("waiting for the warehouse: another run is using the warehouse")]
    assert len(waited) == 1 and f"process {holder.pid}" in waited[0] and "(apply_cleanup" in waited[0]
    assert time.monotonic() - started > 2  # it did wait for the holder to let go
    assert run.tags[PID_TAG] == str(os.getpid())


def test_the_sensor_releases_a_dead_run_that_holds_the_queue(tmp_path):
    # under `make ui` a run killed -9 keeps the queue's one place; the approval sensor's tick releases it
    from pipelines.assets.cleanup import cleanup_approval_sensor
    from pipelines.dead_runs import HOST_TAG, START_TAG
    from pipelines.resources import WarehouseResource

    gone = subprocess.Popen(["true"])
    gone.wait()
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(DEFAULT_DAGSTER_HOME / "dagster.yaml", home / "dagster.yaml")
    dead_id, live_id = str(uuid.uuid4()), str(uuid.uuid4())
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.add_run(dg.DagsterRun(job_name="weekly_reconciliation", run_id=dead_id,
                                       status=dg.DagsterRunStatus.STARTED,
                                       tags={PID_TAG: str(gone.pid), HOST_TAG: socket.gethostname(), START_TAG: ""}))
        instance.add_run(dg.DagsterRun(job_name="weekly_reconciliation", run_id=live_id,
                                       status=dg.DagsterRunStatus.STARTED, tags=process_tags()))
        instance.event_log_storage.initialize_concurrency_limit_to_default("duckdb")
        assert instance.event_log_storage.claim_concurrency_slot("duckdb", dead_id, "extract_itglue").is_claimed
        with dg.build_sensor_context(instance=instance, resources={
                "warehouse": WarehouseResource(path=str(tmp_path / "w.duckdb"))}) as context:
            assert isinstance(cleanup_approval_sensor(context), dg.SkipReason)
        assert instance.get_run_by_id(dead_id).status == dg.DagsterRunStatus.FAILURE
        assert instance.get_run_by_id(live_id).status == dg.DagsterRunStatus.STARTED  # alive: left alone
        assert instance.event_log_storage.get_concurrency_info("duckdb").active_run_ids == set()
