"""Dagster resources: the warehouse file and the source settings. Both read the environment at run time."""

import dagster as dg

from pipelines.settings import environment, warehouse_path
from pipelines.sources.base import Source
from pipelines.warehouse import Warehouse


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse; `path` empty means RECON_WAREHOUSE or the project default."""

    path: str = ""

    def get(self) -> Warehouse:
        return Warehouse(self.path or warehouse_path())


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
        base = environment() if self.read_environment else {}
        return {**base, **{k: v for k, v in self.env.items() if v}}

    def config_for(self, source: Source) -> dict[str, str] | None:
        return source.config_from(self.settings())
