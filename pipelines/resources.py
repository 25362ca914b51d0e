"""Dagster resources: the warehouse file and the source settings. Both read the environment at run time."""

from contextlib import ExitStack

import dagster as dg
from dagster._utils.interrupts import check_captured_interrupt  # Dagster defers SIGINT/SIGTERM during a run
from pydantic import PrivateAttr

from pipelines.dead_runs import process_tags, release_dead_runs
from pipelines.settings import environment, validate, warehouse_path
from pipelines.sources.base import Source
from pipelines.warehouse import Warehouse
from pipelines.warehouse_lock import hold_warehouse


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse; `path` empty means RECON_WAREHOUSE or the project default.

    In a run (not in a sensor), the resource holds the warehouse's run lock from before the first step to the end, so
    that runs the UI or a sensor launches never interleave with `msp-recon run` or `apply` (which already hold it:
    the lock is re-entrant); such a run waits for the lock, saying once what holds it.
    """

    path: str = ""
    _held: ExitStack = PrivateAttr(default_factory=ExitStack)

    def get(self) -> Warehouse:
        return Warehouse(self.path or warehouse_path())

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        run = context.dagster_run
        if run is None or context.instance is None:  # a sensor or schedule evaluation, not a run
            return
        context.instance.add_run_tags(run.run_id, process_tags())  # the process running it, for dead-run checks
        said = []

        def wait(message: str) -> bool:
            if not said:
                context.log.warning(f"waiting for the warehouse: {message}")
                said.append(message)
            return not check_captured_interrupt()

        self._held.enter_context(hold_warehouse(self.get().path, run.job_name, wait=wait))
        release_dead_runs(context.instance, context.log.warning)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        self._held.close()


class SourcesResource(dg.ConfigurableResource):
    """Which sources are on, and their settings, from the contract's env vars (and `.env`).

    `env` overrides the environment (tests and the demo point sources at a sandbox this way).
    `read_environment` false: only `env` counts (runs isolated from the machine's variables and `.env`).
    """

    env: dict[str, str] = {}
    # Also keeps the resource's config from being the one key "env", which Dagster 1.13.28 mistakes for an
    # EnvVar reference ({"env": ...}) and fails to load the definitions.
    read_environment: bool = True

    def settings(self) -> dict[str, str]:
        """The settings, validated (SettingsError: one line per bad value, as `msp-recon run` prints them)."""
        base = environment() if self.read_environment else {}
        settings = {**base, **{k: v for k, v in self.env.items() if v}}
        validate(settings)
        return settings

    def config_for(self, source: Source) -> dict[str, str] | None:
        return source.config_from(self.settings())
