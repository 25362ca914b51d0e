"""The `published_copy` asset: the last stage of the weekly run copies what users query to its own DuckDB file
(pipelines/publish.py), so SQL sessions never block a run and a run never blocks them."""

import dagster as dg

from pipelines.assets.cleanup import apply_cleanup
from pipelines.publish import PUBLISHED_SCHEMAS, publish, published_path
from pipelines.resources import SourcesResource, WarehouseResource

# The latest stages of the weekly run: the marts linkage writes and the batch cleanup proposes from them.
UPSTREAM_KEYS = [dg.AssetKey("cleanup_batch"),
                 *(dg.AssetKey(["marts", t]) for t in ("entity_clusters", "duplicates", "orphans"))]


@dg.asset(name="published_copy", group_name="publish", deps=UPSTREAM_KEYS, pool="duckdb", kinds={"duckdb"},
          owners=["team:msp-recon"],
          description="A read-only copy of the schemas users query (" + ", ".join(PUBLISHED_SCHEMAS) + "), written "
                      "to a temporary file, audited, then renamed over the previous copy. Open it any time, even "
                      "while a run writes the warehouse. Path: RECON_PUBLISHED, else published.duckdb beside the "
                      "warehouse.")
def published_copy(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                   sources: SourcesResource) -> dg.MaterializeResult:
    store = warehouse.get()
    publication = publish(store, published_path(store, sources.settings()), run_id=context.run_id)
    context.log.info(f"published {len(publication.tables)} tables to {publication.path}")
    return dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(str(publication.path)),
        "dagster/row_count": sum(publication.tables.values()),
        "tables": dg.MetadataValue.json(publication.tables),
        "views": dg.MetadataValue.json(publication.views),
        "open it": dg.MetadataValue.md(
            f"```\nduckdb -readonly {publication.path}\n```\n"
            f"or `duckdb.connect('{publication.path}', read_only=True)`; queries: `sql/queries/`"),
    })


publish_copy_job = dg.define_asset_job(
    "publish_copy", selection=dg.AssetSelection.assets(published_copy), executor_def=dg.in_process_executor,
    description="Publish the read-only copy again (after an apply, so that audit.action_log shows what it did).")


@dg.run_status_sensor(run_status=dg.DagsterRunStatus.SUCCESS, monitored_jobs=[apply_cleanup],
                      request_job=publish_copy_job, default_status=dg.DefaultSensorStatus.RUNNING,
                      description="Publishes the read-only copy after every successful apply_cleanup run.")
def publish_after_apply(context: dg.RunStatusSensorContext):
    return dg.RunRequest(run_key=context.dagster_run.run_id)


PUBLISH_ASSETS = [published_copy]
