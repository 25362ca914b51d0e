"""When the weekly reconciliation runs. One place to change it: RECON_SCHEDULE_CRON and RECON_SCHEDULE_TIMEZONE."""

import dagster as dg

from pipelines.settings import environment, schedule

DEFAULT_CRON = "0 6 * * 1"  # Mondays 06:00
DEFAULT_TIMEZONE = "UTC"


def weekly_schedule(job: "dg.UnresolvedAssetJobDefinition") -> dg.ScheduleDefinition:  # not exported by dagster 1.13.28
    cron, timezone = schedule(environment(), DEFAULT_CRON, DEFAULT_TIMEZONE)  # a bad value: one line, no traceback
    return dg.ScheduleDefinition(
        name="weekly_reconciliation_schedule",
        job=job,
        cron_schedule=cron,
        execution_timezone=timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Extract, stage, link and propose a cleanup batch, once a week.",
    )
