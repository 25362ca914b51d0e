"""Asset checks that guard the weekly run (the cleanup asset's own check, duplicate_counts_steady, lives beside it):

- every raw table holds exactly the records its extraction received, a count the connector already matched against
  the API's announced total while paging (IT Glue `meta.total-count`, Datto RMM `totalCount`, Autotask page counts);
- no staged record sits in two clusters of marts.entity_clusters (blocking: cleanup must not plan from them);
- the proposed cleanup batch respects its caps, or is flagged so that approving it needs an explicit flag.
"""

import dagster as dg

from pipelines.cleanup.guard import GuardRails
from pipelines.resources import SourcesResource, WarehouseResource
from pipelines.sources import all_sources
from pipelines.sources.base import Source
from pipelines.staging import ENTITY_TABLES
from pipelines.warehouse import table_exists

ROW_COUNT = "dagster/row_count"


def extraction_count_check(source: Source) -> dg.AssetChecksDefinition:
    """One check per raw table of `source`, run as one step after that source's extraction."""
    specs = [dg.AssetCheckSpec("matches_api_total", asset=dg.AssetKey(["raw", table]),
                               description="The table holds exactly the records the extraction received, which the "
                                           "connector matched against the API's total while paging.")
             for table in source.tables]

    @dg.multi_asset_check(name=f"{source.name}_matches_api_totals", specs=specs)
    def _check(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource):
        with warehouse.get().connect() as con:
            for table in source.tables:
                key = dg.AssetKey(["raw", table])
                event = context.instance.get_latest_materialization_event(key)
                extracted = event.asset_materialization.metadata.get(ROW_COUNT) if event else None
                if extracted is None:
                    yield dg.AssetCheckResult(asset_key=key, check_name="matches_api_total", passed=True,
                                              metadata={"note": f"{source.name} is off: nothing was extracted"})
                    continue
                expected = extracted.value
                stored = (con.execute(f'SELECT count(*) FROM raw."{table}"').fetchall()[0][0]
                          if table_exists(con, "raw", table) else 0)
                yield dg.AssetCheckResult(asset_key=key, check_name="matches_api_total", passed=stored == expected,
                                          metadata={"extracted (matched to the API total)": expected,
                                                    "rows in warehouse": stored})

    return _check


@dg.asset_check(asset=dg.AssetKey(["marts", "entity_clusters"]), name="one_cluster_per_record", blocking=True,
                description="No staged record sits in two clusters (or twice in one): a record that did would be "
                            "both kept and deleted by a cleanup batch.")
def one_cluster_per_record(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.get().connect() as con:
        if not table_exists(con, "marts", "entity_clusters"):
            return dg.AssetCheckResult(passed=False, metadata={"note": "marts.entity_clusters does not exist"})
        offenders = con.execute("""
            SELECT entity_type, source, source_id, count(*) AS rows, list(DISTINCT cluster_id ORDER BY cluster_id)
            FROM marts.entity_clusters GROUP BY ALL HAVING count(*) > 1 ORDER BY ALL LIMIT 20""").fetchall()
        records = con.execute("SELECT count(*) FROM marts.entity_clusters").fetchall()[0][0]
    return dg.AssetCheckResult(passed=not offenders, metadata={
        "records": records,
        "records in more than one row": dg.MetadataValue.json(
            [{"entity_type": e, "source": s, "source_id": i, "rows": n, "clusters": c}
             for e, s, i, n, c in offenders]),
    })


@dg.asset_check(asset="cleanup_batch", name="batch_within_caps",
                description="The proposed batch touches at most RECON_CLEANUP_MAX_ACTIONS records and at most "
                            "RECON_CLEANUP_MAX_SHARE of an entity type's IT Glue records; a larger one must be "
                            "flagged for a second look (approve then needs --accept-large-batch).")
def batch_within_caps(warehouse: WarehouseResource, sources: SourcesResource) -> dg.AssetCheckResult:
    guard = GuardRails.from_env(sources.settings())
    caps = {"max_actions": guard.max_actions, "max_share": guard.max_share}
    with warehouse.get().connect() as con:
        if not table_exists(con, "cleanup", "batches"):
            return dg.AssetCheckResult(passed=True, metadata={"note": "no batch proposed yet", **caps})
        latest = con.execute("SELECT batch_id, needs_second_look FROM cleanup.batches "
                             "ORDER BY created_at DESC, batch_id DESC LIMIT 1").fetchall()
        if not latest:
            return dg.AssetCheckResult(passed=True, metadata={"note": "no batch proposed yet", **caps})
        (batch_id, flagged), = latest
        # the same basis as planning: actions on IT Glue records, against IT Glue's records per entity type
        entity_types = [e for (e,) in con.execute(
            "SELECT entity_type FROM cleanup.actions WHERE batch_id = ? AND source = 'itglue'", [batch_id]).fetchall()]
        records = {entity: con.execute(f"SELECT count(*) FROM staging.{table} WHERE source = 'itglue'").fetchall()[0][0]
                   for entity, table in ENTITY_TABLES.items() if table_exists(con, "staging", table)}
    over = guard.check(entity_types, records)
    metadata = {"batch_id": batch_id, "itglue_actions": len(entity_types), **caps,
                "over the caps": dg.MetadataValue.json(over), "flagged for a second look": bool(flagged)}
    if not over:
        return dg.AssetCheckResult(passed=True, metadata=metadata)
    # Over the caps but flagged: the guard rail works, and a person must look (a warning, not a broken run).
    return dg.AssetCheckResult(passed=False, metadata=metadata,
                               severity=dg.AssetCheckSeverity.WARN if flagged else dg.AssetCheckSeverity.ERROR,
                               description=f"batch {batch_id} needs a second look before approval" if flagged
                               else f"batch {batch_id} is over its caps but was not flagged")


RUN_CHECKS = [*(extraction_count_check(s) for s in all_sources()), one_cluster_per_record, batch_within_caps]
