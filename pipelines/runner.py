"""Launching jobs as real Dagster runs recorded in DAGSTER_HOME (so they show in the UI), and reading their outcome."""

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from pipelines.dead_runs import busy_pools, process_tags, release_dead_runs
from pipelines.resources import SourcesResource, WarehouseResource
from pipelines.settings import ensure_dagster_home, warehouse_path
from pipelines.warehouse_lock import hold_warehouse


@dataclass
class RunOutcome:
    run_id: str
    success: bool
    failures: list[tuple[str, str]] = field(default_factory=list)  # (step, one-line reason)
    warnings: list[str] = field(default_factory=list)  # asset checks that did not pass, one line each


def run_job(job_name: str, env: dict[str, str] | None = None, warehouse: str = "",
            instance: dg.DagsterInstance | None = None, run_config: dict | None = None,
            tags: dict[str, str] | None = None, log_level: str = "CRITICAL",
            on_step: Callable[[str, str], None] | None = None, isolated: bool = False,
            say: Callable[[str], None] = lambda line: None, stop: threading.Event | None = None) -> RunOutcome:
    """Execute a job of pipelines.definitions in this process; `env` overrides source settings for this run,
    `run_config` and `tags` are passed to the run (apply_cleanup takes its batch id as config).

    The run's event log goes to DAGSTER_HOME (the UI shows it); the terminal only gets `log_level` and above, so
    that the command's own summary and one-line errors are what a user reads. `on_step(step, status)` is called as
    steps start and end (status "started", "succeeded", "failed" or "skipped"), for a progress display.
    `isolated`: only `env` configures sources, not the machine's variables or `.env` (the demo must never reach a
    real account configured on the same machine).

    Before the first step: the warehouse's run lock is taken (another run on it: WarehouseBusy, nothing done), runs
    of this instance whose process is gone are released, and a run that must wait for a concurrency slot held by a
    live run says so through `say` (one line) and waits here, where Ctrl-C and SIGTERM stop it.
    """
    from pipelines.definitions import defs

    ensure_dagster_home()
    own_instance = instance is None
    instance = instance or dg.DagsterInstance.get()
    try:
        job = defs.resolve_job_def(job_name)
        run_id = str(uuid.uuid4())
        with hold_warehouse(Path(warehouse) if warehouse else warehouse_path(), job_name):
            release_dead_runs(instance, say)
            wait_for_pools(instance, say, stop or threading.Event())
            follower = _StepFollower(instance, run_id, on_step) if on_step else None
            try:
                result = job.execute_in_process(
                    instance=instance, run_id=run_id,
                    resources={"sources": SourcesResource(env=env or {}, read_environment=not isolated),
                               "warehouse": WarehouseResource(path=warehouse)},
                    raise_on_error=False,
                    run_config={**(run_config or {}), "loggers": {"console": {"config": {"log_level": log_level}}}},
                    tags={**process_tags(), **(tags or {})},
                )
            finally:
                if follower:
                    follower.stop()
        failures = [(event.step_key or "run", one_line_reason(event.step_failure_data.error))
                    for event in result.all_events if event.event_type == dg.DagsterEventType.STEP_FAILURE]
        return RunOutcome(result.run_id, result.success, failures, check_warnings(result.all_events))
    finally:
        if own_instance:
            instance.dispose()


def wait_for_pools(instance: dg.DagsterInstance, say: Callable[[str], None], stop: threading.Event,
                   poll_seconds: float = 1.0) -> None:
    """Return once no Dagster pool is full; meanwhile say once what the run waits for. The wait happens here, before
    the run starts, because Dagster's own wait for a slot holds off SIGINT and SIGTERM until a slot frees up.
    `stop` set ends the wait with KeyboardInterrupt: a signal handler sets it besides raising KeyboardInterrupt,
    because Python drops an exception a handler raises inside a garbage-collection callback (SQLAlchemy has some)."""
    announced = None
    while lines := busy_pools(instance):
        if lines != announced:
            say(f"waiting: {'; '.join(lines)} (Ctrl-C stops waiting)")
            announced = lines
        if stop.wait(poll_seconds):
            raise KeyboardInterrupt
        release_dead_runs(instance, say)  # the holder may die while we wait


def check_warnings(events) -> list[str]:
    """`asset / check: description` for each asset check of the run that did not pass (a WARN is not a failed run,
    so it would otherwise be seen only by someone who opens the UI)."""
    lines = []
    for event in events:
        if event.event_type != dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            continue
        evaluation = event.event_specific_data
        if evaluation.passed:
            continue
        description = evaluation.description or ", ".join(
            f"{k}: {v.value}" for k, v in evaluation.metadata.items() if isinstance(v.value, str | int | float))
        lines.append(f"{evaluation.asset_key.to_user_string()} / {evaluation.check_name} "
                     f"({evaluation.severity.value.lower()}): {description or 'did not pass'}")
    return lines


def one_line_reason(error) -> str:
    """The innermost cause of a step failure, as the user-facing message our code raised (no stack trace)."""
    while error is not None and error.cause is not None:
        error = error.cause
    if error is None:
        return "unknown error"
    if error.cls_name in ("DagsterExecutionInterruptedError", "KeyboardInterrupt"):
        return "interrupted (Ctrl-C or SIGTERM); what it had not swapped in yet was left out"
    message = error.message.strip()
    prefix = f"{error.cls_name}: " if error.cls_name else ""
    # SourceError and WarehouseLocked messages already say what to do; drop the module path in front of them.
    for line in message.splitlines():
        if line.strip():
            text = line.strip()
            break
    else:
        text = message
    if ": " in text and text.split(": ", 1)[0].split(".")[-1] == (error.cls_name or ""):
        text = text.split(": ", 1)[1]
    return text if text else prefix.strip()


_STEP_STATUS = {dg.DagsterEventType.STEP_START: "started", dg.DagsterEventType.STEP_SUCCESS: "succeeded",
                dg.DagsterEventType.STEP_FAILURE: "failed", dg.DagsterEventType.STEP_SKIPPED: "skipped"}


class _StepFollower:
    """Reads the run's event log back from the instance while the run executes in the calling thread, and reports
    each step's start and end once, plus its progress messages (pipelines/progress.py) as `on_step(step, "progress:
    ...")`: the same event log the UI shows, polled twice a second (steps last seconds to minutes). A step whose
    materializations say "skipped" (a source that is off) ends as "skipped", not "succeeded"."""

    def __init__(self, instance: dg.DagsterInstance, run_id: str, on_step: Callable[[str, str], None]):
        from pipelines.assets.extract import SKIPPED
        from pipelines.progress import PREFIX

        self._instance, self._run_id, self._on_step = instance, run_id, on_step
        self._skipped_key, self._progress_prefix = SKIPPED, PREFIX
        self._cursor: str | None = None
        self._skipped: set[str] = set()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._follow, name="step-follower", daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        while not self._done.wait(0.5):
            self._report()

    def _report(self) -> None:
        while True:
            try:
                page = self._instance.get_records_for_run(self._run_id, cursor=self._cursor, limit=1000)
            except Exception:  # storage busy or the run not stored yet: the next poll reads it
                return
            for record in page.records:
                self._one(record.event_log_entry)
            self._cursor = page.cursor
            if not page.has_more:
                return

    def _one(self, entry) -> None:
        event, step = entry.dagster_event, entry.step_key or "run"
        if event is None:
            if entry.user_message.startswith(self._progress_prefix):
                self._on_step(step, entry.user_message)
            return
        if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            if self._skipped_key in event.event_specific_data.materialization.metadata:
                self._skipped.add(step)
        elif event.event_type in _STEP_STATUS:
            status = _STEP_STATUS[event.event_type]
            self._on_step(step, "skipped" if status == "succeeded" and step in self._skipped else status)

    def stop(self) -> None:
        self._done.set()
        self._thread.join()
        self._report()  # the steps that ended after the last poll
