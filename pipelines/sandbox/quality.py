"""Scores of a linkage run and its cleanup batch against the sandbox World's ground truth, beside the pairwise ones in
`pipelines.linkage.scoring`: links across systems (IT Glue to the PSA, IT Glue to the RMM), and proposals that would
destroy a record that is neither a duplicate nor an orphan. Used by benchmarks/linkage_quality.py and the tests."""

from collections.abc import Iterable

import polars as pl

from pipelines.sandbox.model import Truth

# Actions that delete, archive or merge a record (or tell a person to): wrong on a live, non-duplicate record.
DESTRUCTIVE_ACTIONS = ("delete", "archive", "disable_sync_then_delete", "fix_in_psa", "merge_organizations")


def link_scores(clusters: pl.DataFrame, entities: pl.DataFrame, source_a: str, sources_b: Iterable[str]
                ) -> pl.DataFrame:
    """Precision/recall/F1 of the links between records of `source_a` and records of `sources_b`, per entity type
    (organizations included): a link is a pair (a, b) in one cluster; it is true when a and b are one real thing.
    `clusters`: entity_type, source, source_id, cluster_id; `entities`: the truth's entity_type, source, source_id,
    entity_id. Records absent from `clusters` are linked to nothing."""
    sources_b = list(sources_b)
    side = pl.when(pl.col("source") == source_a).then(pl.lit("a")).otherwise(pl.lit("b")).alias("side")
    keep = pl.col("source").is_in([source_a, *sources_b])
    j = (entities.filter(keep).join(clusters.filter(keep).select("entity_type", "source", "source_id", "cluster_id"),
                                    on=["entity_type", "source", "source_id"], how="left")
         .with_columns(side, pl.col("cluster_id").cast(pl.String)))

    def cross(keys: list[str], frame: pl.DataFrame) -> float:
        counts = frame.group_by([*keys, "side"]).len().pivot(on="side", index=keys, values="len")
        if "a" not in counts.columns or "b" not in counts.columns:
            return 0.0
        return float(counts.select((pl.col("a").fill_null(0) * pl.col("b").fill_null(0)).sum()).item())

    rows = []
    for etype in sorted(set(j["entity_type"])):
        g = j.filter(pl.col("entity_type") == etype)
        linked = g.filter(pl.col("cluster_id").is_not_null())
        tp, pred, true = cross(["cluster_id", "entity_id"], linked), cross(["cluster_id"], linked), \
            cross(["entity_id"], g)
        p = tp / pred if pred else 1.0
        r = tp / true if true else 1.0
        rows.append({"entity_type": etype, "precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0,
                     "true_links": int(true), "predicted_links": int(pred)})
    return pl.DataFrame(rows)


def destructive_on_live(actions: pl.DataFrame, truth: Truth) -> pl.DataFrame:
    """The proposed actions (cleanup.actions rows: entity_type, source, source_id, action, ...) that would delete,
    archive or merge a record that is live and not a duplicate: each one is a defect."""
    destructive = actions.filter(pl.col("action").is_in(DESTRUCTIVE_ACTIONS))
    live = truth.live_records().select("entity_type", "source", "source_id")
    return destructive.join(live, on=["entity_type", "source", "source_id"], how="semi")
