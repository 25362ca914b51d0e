"""Extraction assets: one per source system, producing its raw.<source>_<resource> tables all at once.

A source whose credentials are not set is off: its step succeeds, says so, and leaves its tables as they are.
A failing source raises, and its previous tables stay: the swap happens only after every page arrived and checked.
"""

import asyncio

import dagster as dg

from pipelines.assets.metadata import preview
from pipelines.resources import SourcesResource, WarehouseResource
from pipelines.sources import all_sources
from pipelines.sources.base import Source


def extract_asset(source: Source) -> dg.AssetsDefinition:
    specs = [
        dg.AssetSpec(
            ["raw", table], group_name="extract", kinds={"duckdb"}, owners=["team:msp-recon"],
            description=f"{source.description}: `{resource.name}` as extracted, typed columns plus raw_json.",
            tags={"source": source.name, "source_kind": source.kind},
        )
        for table, resource in zip(source.tables, source.resources, strict=True)
    ]

    @dg.multi_asset(name=f"extract_{source.name}", specs=specs, pool="duckdb",
                    description=f"Extract {source.name} over its REST API into raw tables, atomically.")
    def _extract(context: dg.AssetExecutionContext, warehouse: WarehouseResource, sources: SourcesResource):
        config = sources.config_for(source)
        store = warehouse.get()
        if config is None:
            context.log.info(f"{source.name} is off: set {', '.join(source.required_env)} to extract it")
            for table in source.tables:
                yield dg.MaterializeResult(asset_key=["raw", table], metadata={
                    "status": "source off (credentials not set); previous table kept"})
            return
        extraction = asyncio.run(source.extract(config, lambda table: store.table(f"raw.{table}")))
        store.replace_tables("raw", extraction.frames)
        for table, frame in extraction.frames.items():
            yield dg.MaterializeResult(asset_key=["raw", table], metadata={
                "dagster/row_count": frame.height,
                "preview": preview(frame),
                **{f"api/{k}": v for k, v in extraction.stats.items() if isinstance(v, int | float | str)},
            })

    return _extract


EXTRACT_ASSETS = [extract_asset(source) for source in all_sources()]
RAW_KEYS = [dg.AssetKey(["raw", table]) for source in all_sources() for table in source.tables]
