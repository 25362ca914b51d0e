"""Linkage assets: thin wrappers over pipelines.linkage (Splink models, marts SQL in sql/marts/).

One multi-asset, because the marts come from one linkage run: organizations are linked first and configurations and
contacts inside the linked organizations, so the three entity types cannot be materialized apart.
"""

import os

import dagster as dg

from pipelines.linkage.pipeline import LinkageOptions, run_linkage, train_models
from pipelines.resources import WarehouseResource

STAGING_KEYS = [dg.AssetKey(["staging", t]) for t in ("organizations", "configurations", "contacts")]
PAIR_TABLES = ("match_pairs_organizations", "match_pairs_configurations", "match_pairs_contacts")

_DESCRIPTIONS = {
    "entity_clusters": "Every staged record with the cluster of records that are one real thing (singletons too).",
    "duplicates": "Records in clusters holding 2+ records of one source: keep/duplicate, cause, match probability.",
    "orphans": "IT Glue records whose PSA or RMM source is gone, with the reason.",
    **{t: f"Scored record pairs ({t.removeprefix('match_pairs_')}): each comparison's agreement level (gamma_*) "
          "and match weight (mw_*), so SQL answers why two records are one thing." for t in PAIR_TABLES},
}

LINKAGE_SPECS = [
    dg.AssetSpec(["marts", name], group_name="linkage", kinds={"duckdb", "splink"}, owners=["team:msp-recon"],
                 deps=STAGING_KEYS, description=desc)
    for name, desc in _DESCRIPTIONS.items()
]


class LinkageConfig(dg.Config):
    """Run options a launch can change (the defaults are the weekly run's)."""

    on_model_mismatch: str = "retrain"   # or "fail": a model file that no longer fits the data stops the run
    charts: bool = True
    # "duckdb" or "spark" (Splink's SparkAPI; RECON_SPARK_MASTER says where); empty: RECON_LINKAGE_BACKEND, else duckdb
    backend: str = ""
    # score every record, not only those new or changed since the last run (`msp-recon run --full-relink`)
    full_relink: bool = False


def linkage_backend(config: LinkageConfig) -> str:
    backend = config.backend or os.environ.get("RECON_LINKAGE_BACKEND") or "duckdb"
    if backend not in ("duckdb", "spark"):
        raise dg.Failure(description=f"linkage backend {backend!r} is not one of duckdb, spark "
                                     "(RECON_LINKAGE_BACKEND or the run config's backend)")
    return backend


@dg.multi_asset(specs=LINKAGE_SPECS, pool="duckdb",
                description="Link organizations, then configurations and contacts within them; build the marts.")
def linkage_marts(context: dg.AssetExecutionContext, config: LinkageConfig, warehouse: WarehouseResource):
    result = run_linkage(warehouse.get(), options=LinkageOptions(on_model_mismatch=config.on_model_mismatch,
                                                                 charts=config.charts,
                                                                 backend=linkage_backend(config),
                                                                 full_relink=config.full_relink))
    counts = result.metrics["row_counts"]
    charts = {name: dg.MetadataValue.path(path) for name, path in result.charts.items()}
    models = dg.MetadataValue.json({e: {k: v for k, v in m.items() if k != "training_log"}
                                    for e, m in result.models.items()})
    for name in _DESCRIPTIONS:
        metadata = {"dagster/row_count": counts.get(f"marts.{name}", 0)}
        if name == "entity_clusters":
            metadata["records_and_clusters"] = dg.MetadataValue.json(result.metrics["records_and_clusters"])
            metadata["models"] = models
            # records scored this run per entity type (0 on a tenant unchanged since the last run), and why
            metadata["scored_records"] = dg.MetadataValue.json(result.metrics["scored_records"])
            metadata["relink"] = dg.MetadataValue.json(result.metrics["relink"])
            metadata["stage_seconds"] = dg.MetadataValue.json({k: round(v, 2) for k, v in result.timings.items()})
            metadata.update({f"chart_{k}": v for k, v in charts.items()})
        elif name == "duplicates":
            metadata["duplicates_by_cause"] = dg.MetadataValue.json(result.metrics["duplicates_by_cause"])
        elif name == "orphans":
            metadata["orphans_by_reason"] = dg.MetadataValue.json(result.metrics["orphans_by_reason"])
        else:
            entity = name.removeprefix("match_pairs_")
            metadata.update({f"chart_{k}": v for k, v in charts.items() if k.startswith(entity[:-1])})
        yield dg.MaterializeResult(asset_key=["marts", name], metadata=metadata)


@dg.op(description="Retrain the organization, configuration and contact models on the current staging data.")
def retrain_models_op(context: dg.OpExecutionContext, warehouse: WarehouseResource) -> None:
    models = train_models(warehouse.get())
    for entity, info in models.items():
        context.log.info(f"{entity}: {info.get('source')} -> {info.get('path')}; "
                         + "; ".join(info.get("training_log", [])))


def retrain_linkage_models_job() -> dg.JobDefinition:
    """The `retrain_linkage_models` job: retrains and saves the three models; the weekly run then loads them."""

    @dg.job(name="retrain_linkage_models", executor_def=dg.in_process_executor,
            description="Retrain the Splink linkage models and save them beside the warehouse.")
    def retrain_linkage_models():
        retrain_models_op()

    return retrain_linkage_models


LINKAGE_ASSETS = [linkage_marts]
