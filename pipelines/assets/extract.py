"""Extraction assets: one per source system, producing its raw.<source>_<resource> tables all at once.

A source whose credentials are not set is off: its step succeeds, says so, and leaves its tables as they are.
A failing source raises, and its previous tables stay: the swap happens only after every page arrived and checked.
The sources of a run are extracted at the same time (pipelines/extraction.py): the first extract step starts them
all, each step waits for its own and swaps its tables in, one write at a time.
"""

import dagster as dg

from pipelines import progress
from pipelines.assets.metadata import preview
from pipelines.extraction import WarehouseTables, checkpointed, swap, take_for_run
from pipelines.resources import SourcesResource, WarehouseResource
from pipelines.sources import all_sources
from pipelines.sources.base import Source

# Metadata key of a materialization that did not happen (the source is off); its value says why.
SKIPPED = "skipped"


def run_extractions(context: dg.AssetExecutionContext, warehouse: WarehouseResource, sources: SourcesResource):
    """Every source this run extracts and that is on, as coroutine functions (for the run's Prefetch)."""
    steps = {node.name for node in context.job_def.graph.nodes}
    if context.run.step_keys_to_execute is not None:
        steps &= set(context.run.step_keys_to_execute)
    store = warehouse.get()
    previous = WarehouseTables(store)
    jobs = {}
    for source in all_sources():
        config = sources.config_for(source)
        if f"extract_{source.name}" in steps and config is not None:
            # under reporting(): the connector's progress reports go to this source's own step (pipelines/progress.py);
            # checkpointed(): pages an earlier failed attempt fetched are not fetched again (pipelines/extraction.py)
            jobs[source.name] = lambda s=source, c=config: progress.reporting(
                context.run_id, s.name, lambda: checkpointed(store, s, c, lambda: s.extract(c, previous)))
    return jobs


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
            # "skipped" (not a success): the CLI reports the step as skipped from this key (pipelines/runner.py)
            skipped = f"source off: set {', '.join(source.required_env)} to extract it; previous table kept"
            for table in source.tables:
                yield dg.MaterializeResult(asset_key=["raw", table], metadata={
                    "status": "source off (credentials not set); previous table kept", SKIPPED: skipped})
            return
        with progress.attached(context.run_id, source.name, context.log.info):
            extraction = take_for_run(context.run_id, source.name,
                                      lambda: run_extractions(context, warehouse, sources))
        swap(store, extraction)
        for table, frame in extraction.frames.items():
            yield dg.MaterializeResult(asset_key=["raw", table], metadata={
                "dagster/row_count": frame.height,
                "preview": preview(frame),
                **{f"api/{k}": v for k, v in extraction.stats.items() if isinstance(v, int | float | str)},
            })

    return _extract


EXTRACT_ASSETS = [extract_asset(source) for source in all_sources()]
RAW_KEYS = [dg.AssetKey(["raw", table]) for source in all_sources() for table in source.tables]
