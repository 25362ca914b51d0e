"""Staging assets: every source's raw tables in one schema per entity type (SQL in sql/staging/)."""

import dagster as dg

from pipelines.assets.extract import RAW_KEYS
from pipelines.assets.metadata import preview
from pipelines.resources import SourcesResource, WarehouseResource
from pipelines.sources import all_sources
from pipelines.staging import ENTITY_TABLES, build_staging

STAGING_SPECS = [
    dg.AssetSpec(["staging", table], group_name="staging", kinds={"duckdb", "sql"}, owners=["team:msp-recon"],
                 deps=RAW_KEYS,
                 description=f"Every source's {table} in one shape, with normalized match fields "
                             "(sql/staging/README.md).")
    for table in ENTITY_TABLES.values()
]


@dg.multi_asset(specs=STAGING_SPECS, pool="duckdb", description="Union and normalize the sources that are on.")
def staging(context: dg.AssetExecutionContext, warehouse: WarehouseResource, sources: SourcesResource):
    on = [s.name for s in all_sources() if sources.config_for(s) is not None]
    with warehouse.get().connect() as con:
        counts = build_staging(con, on)
        for table in ENTITY_TABLES.values():
            frame = con.sql(f"SELECT * FROM staging.{table} LIMIT 5").pl()
            yield dg.MaterializeResult(asset_key=["staging", table], metadata={
                "dagster/row_count": sum(counts[table].values()),
                "rows_by_source": dg.MetadataValue.json(counts[table]),
                "preview": preview(frame),
            })
