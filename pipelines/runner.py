"""Launching jobs as real Dagster runs recorded in DAGSTER_HOME (so they show in the UI), and reading their outcome."""

from dataclasses import dataclass, field

import dagster as dg

from pipelines.resources import SourcesResource, WarehouseResource
from pipelines.settings import ensure_dagster_home


@dataclass
class RunOutcome:
    run_id: str
    success: bool
    failures: list[tuple[str, str]] = field(default_factory=list)  # (step, one-line reason)


def run_job(job_name: str, env: dict[str, str] | None = None, warehouse: str = "",
            instance: dg.DagsterInstance | None = None, run_config: dict | None = None,
            tags: dict[str, str] | None = None, log_level: str = "CRITICAL") -> RunOutcome:
    """Execute a job of pipelines.definitions in this process; `env` overrides source settings for this run,
    `run_config` and `tags` are passed to the run (apply_cleanup takes its batch id as config).

    The run's event log goes to DAGSTER_HOME (the UI shows it); the terminal only gets `log_level` and above, so
    that the command's own summary and one-line errors are what a user reads.
    """
    from pipelines.definitions import defs

    ensure_dagster_home()
    own_instance = instance is None
    instance = instance or dg.DagsterInstance.get()
    try:
        job = defs.resolve_job_def(job_name)
        result = job.execute_in_process(
            instance=instance,
            resources={"sources": SourcesResource(env=env or {}), "warehouse": WarehouseResource(path=warehouse)},
            raise_on_error=False,
            run_config={**(run_config or {}), "loggers": {"console": {"config": {"log_level": log_level}}}},
            tags=tags,
        )
        failures = [(event.step_key or "run", one_line_reason(event.step_failure_data.error))
                    for event in result.all_events if event.event_type == dg.DagsterEventType.STEP_FAILURE]
        return RunOutcome(result.run_id, result.success, failures)
    finally:
        if own_instance:
            instance.dispose()


def one_line_reason(error) -> str:
    """The innermost cause of a step failure, as the user-facing message our code raised (no stack trace)."""
    while error is not None and error.cause is not None:
        error = error.cause
    if error is None:
        return "unknown error"
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
