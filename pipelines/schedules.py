"""When the weekly reconciliation runs. One place to change it: RECON_SCHEDULE_CRON and RECON_SCHEDULE_TIMEZONE."""

import dagster as dg

from pipelines.settings import environment

DEFAULT_CRON = "0 6 * * 1"  # Mondays 06:00
DEFAULT_TIMEZONE = "UTC"


def weekly_schedule(job: "dg.UnresolvedAssetJobDefinition") -> dg.ScheduleDefinition:  # not exported by dagster 1.13.28
    env = environment()
    return dg.ScheduleDefinition(
        name="weekly_reconciliation_schedule",
        job=job,
        cron_schedule=env.get("RECON_SCHEDULE_CRON", DEFAULT_CRON),
        execution_timezone=env.get("RECON_SCHEDULE_TIMEZONE", DEFAULT_TIMEZONE),
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Extract, stage, link and propose a cleanup batch, once a week.",
    )
