"""Runs whose process is gone: found at the start of every run and released, so that a kill -9 never blocks the next.

A run killed mid-step stays "started" in DAGSTER_HOME and keeps the concurrency slot of pool `duckdb` it claimed, and
every later run then waits for that slot forever. Each run records the process that executes it in its tags
(`msp-recon/pid`, `msp-recon/host`, `msp-recon/process_start`); a run of this host whose process no longer exists is
marked failed and its slots are freed. Slots held by runs that already ended are freed too. A run on another host
cannot be checked from here: it is named in the wait message instead.
"""

import os
import socket
from collections.abc import Callable
from pathlib import Path

import dagster as dg

PID_TAG, HOST_TAG, START_TAG = "msp-recon/pid", "msp-recon/host", "msp-recon/process_start"
_UNFINISHED = [dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED,
               dg.DagsterRunStatus.CANCELING]


def process_tags() -> dict[str, str]:
    """The tags naming the process that executes a run (this one)."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname(), START_TAG: _start_time(os.getpid()) or ""}


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), which tells a reused pid from the original."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def process_alive(tags) -> bool | None:
    """True or False for a run of this host; None when the run names no process or another host's."""
    if not tags.get(PID_TAG) or tags.get(HOST_TAG) != socket.gethostname():
        return None
    pid = int(tags[PID_TAG])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, another user's
    recorded = tags.get(START_TAG)
    return not (recorded and _start_time(pid) not in (None, recorded))


def describe(run: dg.DagsterRun) -> str:
    where = f"pid {run.tags[PID_TAG]} on {run.tags.get(HOST_TAG, '?')}" if run.tags.get(PID_TAG) else "no process recorded"
    return f"run {run.run_id} ({run.job_name}, {where})"


def release_dead_runs(instance: dg.DagsterInstance, say: Callable[[str], None] = lambda line: None) -> list[str]:
    """Mark failed every unfinished run of this host whose process is gone, and free the concurrency slots held by
    runs that are not running. Returns the ids of the runs released; `say` gets one line per release."""
    released = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=_UNFINISHED)):
        if process_alive(run.tags) is not False:
            continue
        instance.report_run_failed(run, f"marked failed by msp-recon: the process that ran it "
                                        f"(pid {run.tags[PID_TAG]}) is gone (killed or crashed)")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        say(f"released {describe(run)}: its process is gone; marked failed, its concurrency slot freed")
        released.append(run.run_id)
    storage = instance.event_log_storage
    if storage.supports_global_concurrency_limits:
        for pool in storage.get_concurrency_keys():
            for run_id in storage.get_concurrency_info(pool).active_run_ids:
                run = instance.get_run_by_id(run_id)
                if run is None or run.is_finished:
                    storage.free_concurrency_slots_for_run(run_id)
                    say(f"freed the slot of pool {pool} that finished run {run_id} still held")
    return released


def busy_pools(instance: dg.DagsterInstance) -> list[str]:
    """One line per pool whose slots are all held by other runs: which runs hold them."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return []
    lines = []
    for pool in sorted(storage.get_concurrency_keys()):
        info = storage.get_concurrency_info(pool)
        if info.limit is not None and info.active_slot_count >= info.limit:
            holders = [instance.get_run_by_id(run_id) for run_id in sorted(info.active_run_ids)]
            lines.append(f"pool {pool} (limit {info.limit}) is held by "
                         + ", ".join(describe(r) for r in holders if r is not None))
    return lines
