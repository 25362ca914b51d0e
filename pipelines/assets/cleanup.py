"""Cleanup in Dagster: the `cleanup_batch` asset proposes a batch from the marts, a check flags duplicate counts that
jump, the `apply_cleanup` job applies one approved batch, and a sensor launches it once per approval (run_key).
The logic is in pipelines/cleanup/; this module only wires it."""

import asyncio
import re

import dagster as dg

from pipelines.assets.metadata import preview
from pipelines.cleanup import CleanupError, approval, intents, source_runs, store
from pipelines.cleanup.apply import DEFAULT_CHUNK_SIZE, apply_batch
from pipelines.cleanup.guard import GuardRails, count_jumps
from pipelines.cleanup.itglue_api import client_from
from pipelines.cleanup.plan import propose
from pipelines.dead_runs import release_dead_runs
from pipelines.resources import SourcesResource, WarehouseResource
from pipelines.review import weekly
from pipelines.review.page import report_path, write_report
from pipelines.sources import all_sources, get_source
from pipelines.sources.http import RequestStats, RetryPolicy
from pipelines.warehouse import WarehouseError, WarehouseLocked

ITGLUE = get_source("itglue")
ITGLUE_LIMIT_PER_5_MINUTES = 3000
MART_KEYS = [dg.AssetKey(["marts", "duplicates"]), dg.AssetKey(["marts", "orphans"])]
STAGING_KEYS = [dg.AssetKey(["staging", t]) for t in ("organizations", "configurations", "contacts")]


@dg.asset(name="cleanup_batch", group_name="cleanup", deps=[*MART_KEYS, *STAGING_KEYS], pool="duckdb",
          kinds={"duckdb"}, owners=["team:msp-recon"],
          description="Proposes one cleanup batch from marts.duplicates and marts.orphans by the article's rules "
                      "(cleanup.batches, cleanup.actions). Nothing is changed until a person approves it.")
def cleanup_batch(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                  sources: SourcesResource) -> dg.MaterializeResult:
    config = sources.config_for(ITGLUE)
    if config is None:
        return dg.MaterializeResult(metadata={"status": "IT Glue is off (ITGLUE_API_KEY not set): no batch proposed"})
    settings = sources.settings()
    guard = GuardRails.from_env(settings)

    async def run(con):
        async with client_from(config) as api:
            return await propose(con, api, guard, context.run_id), api.stats

    store_ = warehouse.get()
    with store_.connect() as con:
        try:  # a source that went off since the previous batch stops the proposal (the previous batch stands)
            source_runs.check_and_record(con, all_sources(), settings, context.run_id)
        except CleanupError as exc:
            raise dg.Failure(description=str(exc)) from None
        (batch_id, proposals, notes), stats = asyncio.run(run(con))
        frame = con.sql("SELECT action_id, action, subject, organization_name, reason FROM cleanup.actions "
                        "WHERE batch_id = ? ORDER BY action_id", params=[batch_id or ""]).pl()
        second_look = batch_id is not None and store.batch(con, batch_id)["needs_second_look"]
        weekly.record_findings(con, context.run_id)  # week over week: marts.weekly_changes
        weekly.build_weekly_changes(con)
        numbers = weekly.counts(con)
        report = None
        if batch_id:
            try:  # the report is for people; a failure to write it must not lose the proposal
                report = write_report(con, batch_id, report_path(store_, batch_id))
            except Exception as exc:  # noqa: BLE001
                context.log.warning(f"review report for {batch_id} not written: {exc}")
    for note in notes:
        context.log.info(note)
    by_action: dict[str, int] = {}
    for p in proposals:
        by_action[p.action] = by_action.get(p.action, 0) + 1
    return dg.MaterializeResult(metadata={
        "batch_id": batch_id or "none (nothing to propose)",
        "dagster/row_count": len(proposals),
        "actions": dg.MetadataValue.json(by_action),
        "needs_second_look": bool(second_look),
        **itglue_budget_metadata(stats),
        "preview": preview(frame, rows=10),
        "next step": f"msp-recon review {batch_id} (the review page), or msp-recon show {batch_id}; then "
                     f"msp-recon approve {batch_id} --by NAME" if batch_id else "",
        **({"review report": dg.MetadataValue.path(str(report)),
            "review report link": dg.MetadataValue.url(report.as_uri())} if report else {}),
        # numbers, so Dagster plots them across runs (counts per entity type, cause, orphan reason; this week's changes)
        **{key: dg.MetadataValue.int(n) for key, n in sorted(numbers.items())},
    })


@dg.asset_check(asset="cleanup_batch", name="duplicate_counts_steady",
                description="Warns when duplicate or orphan counts rise sharply against the previous run "
                            "(a failed integration that re-created everything, or a linkage gone wrong).")
def duplicate_counts_steady(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.get().connect() as con:
        store.ensure_schema(con)
        runs = con.execute("SELECT DISTINCT recorded_at FROM cleanup.mart_counts ORDER BY 1 DESC LIMIT 2").fetchall()
        counts = []
        for (recorded_at,) in runs:
            counts.append({f"{entity} {kind}": n
                           for entity, dups, orphans in con.execute(
                               "SELECT entity_type, duplicates, orphans FROM cleanup.mart_counts "
                               "WHERE recorded_at = ?", [recorded_at]).fetchall()
                           for kind, n in (("duplicates", dups), ("orphans", orphans))})
    if len(counts) < 2:
        return dg.AssetCheckResult(passed=True, metadata={"note": "first run: nothing to compare with"})
    jumps = count_jumps(counts[1], counts[0])
    return dg.AssetCheckResult(passed=not jumps, severity=dg.AssetCheckSeverity.WARN,
                               metadata={"jumps": dg.MetadataValue.json(jumps),
                                         "current": dg.MetadataValue.json(counts[0]),
                                         "previous": dg.MetadataValue.json(counts[1])})


def itglue_budget_metadata(stats: RequestStats) -> dict:
    """The IT Glue requests a step made, and their share of IT Glue's 3,000 per 5 minutes, which the MSP's PSA and RMM
    syncs share with msp-recon."""
    by_route: dict[str, int] = {}
    for path, n in stats.by_endpoint.items():
        route = re.sub(r"/[^/]*\d[^/]*$", "/{id}", path)  # /configurations/123 -> /configurations/{id}
        by_route[route] = by_route.get(route, 0) + n
    return {"itglue/requests": stats.requests, "itglue/retries": stats.retries,
            "itglue/share_of_5_minute_budget": round(stats.requests / ITGLUE_LIMIT_PER_5_MINUTES, 4),
            "itglue/requests_by_endpoint": dg.MetadataValue.json(dict(sorted(by_route.items())))}


class ApplyConfig(dg.Config):
    batch_id: str
    approval_id: str = ""  # empty: the latest approval that matches the batch
    chunk_size: int = DEFAULT_CHUNK_SIZE
    # Tries per IT Glue call before the run stops (it resumes where it stopped when run again).
    max_attempts: int = RetryPolicy().max_attempts


@dg.op(description="Apply exactly the approved actions of one batch through IT Glue's API; refuses an unapproved "
                   "or changed batch. Resumes where an interrupted run stopped.")
def apply_approved_batch(context: dg.OpExecutionContext, config: ApplyConfig, warehouse: WarehouseResource,
                         sources: SourcesResource) -> None:
    itglue_config = sources.config_for(ITGLUE)
    if itglue_config is None:
        raise dg.Failure(description="IT Glue is off: set ITGLUE_API_KEY (and ITGLUE_API_URL) to apply a batch")

    async def run(con):
        async with client_from(itglue_config, RetryPolicy(max_attempts=config.max_attempts)) as api:
            return await apply_batch(con, api, config.batch_id, config.approval_id or None, context.run_id,
                                     config.chunk_size, say=context.log.info), api.stats

    with warehouse.get().connect() as con:
        try:
            report, stats = asyncio.run(run(con))
        except CleanupError as exc:
            raise dg.Failure(description=str(exc)) from None
    context.add_output_metadata({
        "batch_id": report.batch_id, "approval_id": report.approval_id,
        "outcomes": dg.MetadataValue.json(report.counts()), "resumed_from_earlier_runs": report.resumed,
        **itglue_budget_metadata(stats),
        "steps_for_a_person": dg.MetadataValue.md("\n".join(
            f"- **{a['action_id']}** {a['action']}: {a['instructions']}" for a in report.manual) or "none"),
    })


@dg.job(name="apply_cleanup", executor_def=dg.in_process_executor, tags={"kind": "cleanup"},
        description="Apply one approved cleanup batch (launched by the approval sensor, or msp-recon apply).")
def apply_cleanup():
    apply_approved_batch()


def apply_run_config(batch_id: str, approval_id: str = "", **options) -> dict:
    """The run config of apply_cleanup for one batch (what the sensor and `msp-recon apply` launch);
    `options` are other ApplyConfig fields (chunk_size, max_attempts)."""
    return {"ops": {"apply_approved_batch": {"config": {"batch_id": batch_id, "approval_id": approval_id,
                                                        **options}}}}


@dg.sensor(job=apply_cleanup, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Launches apply_cleanup once per approval made to be applied (approve --apply, or the "
                       "review page's approve and apply) that matches its batch (run_key = approval id).")
def cleanup_approval_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    # A run killed with kill -9 stays "started" and holds the queue's one place (max_concurrent_runs: 1), so the apply
    # this sensor launches would wait forever: the daemon's tick is where it is found and released.
    try:
        instance = context.instance
    except dg.DagsterInvariantViolationError:  # a test's context without an instance
        instance = None
    if instance is not None:
        release_dead_runs(instance, context.log.warning)
    store_ = warehouse.get()
    if not store_.path.exists():
        return dg.SkipReason(f"no warehouse at {store_.path} yet")
    try:
        with store_.connect(read_only=True) as con:
            waiting = approval.pending(con)
            # only approvals made to be applied (approve --apply, the page's "approve and apply"), by a signed intent
            approvals, ignored = intents.apply_intents(con, waiting)
    except WarehouseLocked:
        return dg.SkipReason("the warehouse is busy (a run holds it); looking again at the next tick")
    except WarehouseError as exc:  # not a DuckDB file (empty, overwritten, damaged): say so, launch nothing
        return dg.SkipReason(str(exc))
    except CleanupError as exc:  # e.g. an approval key others can read: nothing is launched until it is fixed
        return dg.SkipReason(str(exc))
    for line in ignored:
        context.log.warning(line)
    if not approvals:
        return dg.SkipReason("; ".join([*ignored, f"no approvals to apply ({len(waiting)} approved to wait for "
                                                  "`msp-recon apply`)" if waiting else "no approvals waiting"]))
    return [dg.RunRequest(run_key=a.approval_id, run_config=apply_run_config(a.batch_id, a.approval_id),
                          tags={"cleanup/batch": a.batch_id, "cleanup/approved_by": a.approved_by})
            for a in approvals]


CLEANUP_ASSETS = [cleanup_batch]
CLEANUP_CHECKS = [duplicate_counts_steady]
