"""Everything Dagster loads: assets, jobs, schedule and resources (workspace.yaml points here)."""

import dagster as dg

from pipelines.assets.checks import RUN_CHECKS
from pipelines.assets.cleanup import CLEANUP_ASSETS, CLEANUP_CHECKS, apply_cleanup, cleanup_approval_sensor
from pipelines.assets.extract import EXTRACT_ASSETS
from pipelines.assets.linkage import LINKAGE_ASSETS, retrain_linkage_models_job
from pipelines.assets.publish import PUBLISH_ASSETS, publish_after_apply, publish_copy_job
from pipelines.assets.staging import staging
from pipelines.resources import SourcesResource, WarehouseResource
from pipelines.schedules import weekly_schedule

# Steps run one after another in the run's own process: DuckDB lets one process write the warehouse file,
# and the run coordinator (dagster_home/dagster.yaml) lets one run at a time.
weekly_reconciliation = dg.define_asset_job(
    "weekly_reconciliation",
    selection=dg.AssetSelection.groups("extract", "staging", "linkage", "cleanup", "publish"),
    executor_def=dg.in_process_executor,
    description="Extract every source that is on, stage, link, propose a cleanup batch, publish the read-only copy.",
)

defs = dg.Definitions(
    assets=[*EXTRACT_ASSETS, staging, *LINKAGE_ASSETS, *CLEANUP_ASSETS, *PUBLISH_ASSETS],
    asset_checks=[*CLEANUP_CHECKS, *RUN_CHECKS],
    jobs=[weekly_reconciliation, apply_cleanup, retrain_linkage_models_job(), publish_copy_job],
    sensors=[cleanup_approval_sensor, publish_after_apply],
    schedules=[weekly_schedule(weekly_reconciliation)],
    resources={"warehouse": WarehouseResource(), "sources": SourcesResource()},
    executor=dg.in_process_executor,
)
