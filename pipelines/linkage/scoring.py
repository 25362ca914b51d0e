"""Scoring linkage output against ground truth (the sandbox World's Truth, or a synthetic tenant's), and IT Glue's
own exact-match rules as the baseline. Used by benchmarks/linkage_quality.py and the tests."""

import duckdb
import polars as pl


def _pairs(n: pl.Expr) -> pl.Expr:
    return (n * (n - 1) / 2).sum()


def pairwise_scores(clusters: pl.DataFrame, entities: pl.DataFrame) -> pl.DataFrame:
    """Pairwise precision/recall/F1 per entity type. `clusters`: entity_type, source, source_id, cluster_id;
    `entities`: entity_type, source, source_id, entity_id. Records missing from either side count as singletons;
    truth records of sources not linked (the PSA IT Glue does not sync with, when the World serves both) are left out."""
    entities = entities.join(clusters.select("source").unique(), on="source", how="semi")
    joined = entities.join(clusters.select("entity_type", "source", "source_id", "cluster_id"),
                           on=["entity_type", "source", "source_id"], how="full", coalesce=True)
    joined = joined.with_columns(
        pl.col("entity_id").fill_null(pl.lit("missing:") + pl.col("source") + ":" + pl.col("source_id")),
        pl.col("cluster_id").fill_null(pl.lit("missing:") + pl.col("source") + ":" + pl.col("source_id")))
    rows = []
    for (etype,), g in joined.group_by(["entity_type"], maintain_order=True):
        tp = g.group_by("cluster_id", "entity_id").len().select(_pairs(pl.col("len"))).item()
        pred = g.group_by("cluster_id").len().select(_pairs(pl.col("len"))).item()
        true = g.group_by("entity_id").len().select(_pairs(pl.col("len"))).item()
        rows.append(_prf(etype, tp, pred, true))
    return pl.DataFrame(rows).sort("entity_type")


def _prf(name: str, tp: float, pred: float, true: float) -> dict:
    p = tp / pred if pred else 1.0
    r = tp / true if true else 1.0
    return {"entity_type": name, "precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0,
            "true_pairs": int(true), "predicted_pairs": int(pred)}


def cleanup_pair_scores(duplicates: pl.DataFrame, entities: pl.DataFrame, truth_dups: pl.DataFrame) -> pl.DataFrame:
    """Precision/recall on the pairs a cleanup acts on: two records of one source put in one duplicate group."""
    ent = entities.select("entity_type", "source", "source_id", "entity_id")
    rows = []
    for etype in sorted(set(entities["entity_type"].unique()) | set(duplicates["entity_type"].unique())):
        d = duplicates.filter(pl.col("entity_type") == etype).join(ent, on=["entity_type", "source", "source_id"],
                                                                   how="left")
        d = d.with_columns(pl.col("entity_id").fill_null(pl.lit("?") + pl.col("source_id")))
        pred = d.group_by("cluster_id", "source").len().select(_pairs(pl.col("len"))).item() or 0
        tp = d.group_by("cluster_id", "source", "entity_id").len().select(_pairs(pl.col("len"))).item() or 0
        t = truth_dups.filter(pl.col("entity_type") == etype)
        true = t.group_by("entity_id", "source").len().select(_pairs(pl.col("len"))).item() or 0
        rows.append(_prf(etype, tp, pred, true))
    return pl.DataFrame(rows)


def cause_accuracy(duplicates: pl.DataFrame, truth_dups: pl.DataFrame) -> dict:
    """Share of truly duplicated records found in marts.duplicates whose cause is right, per entity type."""
    j = truth_dups.join(duplicates.select("entity_type", "source", "source_id", pl.col("cause").alias("found")),
                        on=["entity_type", "source", "source_id"], how="inner")
    out = {"all": (j["cause"] == j["found"]).mean() if j.height else None, "n": j.height}
    for (etype,), g in j.group_by(["entity_type"]):
        out[etype] = (g["cause"] == g["found"]).mean()
    return out


PROVEN_ORPHAN_REASONS = ("psa_orphaned", "psa_record_deleted", "rmm_device_deleted")


def orphan_scores(orphans: pl.DataFrame, truth_orphans: pl.DataFrame) -> dict:
    """Precision/recall of (entity_type, source_id) flagged as orphans, and accuracy of the reason on hits. Only the
    reasons that claim the partner is gone count as flags; `unlinked` rows (no partner found, no proof) are counted
    apart: how many, and how many of them truly are orphans."""
    found = orphans.filter(pl.col("source") == "itglue") if "source" in orphans.columns else orphans
    unlinked = found.filter(~pl.col("reason").is_in(PROVEN_ORPHAN_REASONS))
    found = found.filter(pl.col("reason").is_in(PROVEN_ORPHAN_REASONS))
    f = found.select("entity_type", "source_id", pl.col("reason").alias("found"))
    j = truth_orphans.join(f, on=["entity_type", "source_id"], how="inner")
    p = j.height / f.height if f.height else 1.0
    r = j.height / truth_orphans.height if truth_orphans.height else 1.0
    u = unlinked.select("entity_type", "source_id").join(truth_orphans, on=["entity_type", "source_id"], how="inner")
    return {"precision": p, "recall": r, "reason_accuracy": (j["reason"] == j["found"]).mean() if j.height else None,
            "found": f.height, "true": truth_orphans.height, "unlinked": unlinked.height,
            "unlinked_true_orphans": u.height}


def exact_match_baseline(staging: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Clusters by IT Glue's own exact rules (domain.md): organizations on company name; contacts on company AND
    first AND last name; configurations on company AND type AND name AND serial AND MAC, and RMM devices on
    MAC+serial, else MAC, else serial. Returns entity_type, source, source_id, cluster_id."""
    con = duckdb.connect()
    for name in ("organizations", "configurations", "contacts"):
        con.register(name, staging[name].to_arrow())
    con.execute("""CREATE TABLE org AS SELECT source, source_id, lower(trim(name)) AS org_key FROM organizations""")
    keys = {
        "organization": "SELECT source, source_id, 'n:' || lower(trim(name)) AS k FROM organizations",
        "contact": """SELECT c.source, c.source_id, 'c:' || o.org_key || '|' || lower(c.first_name) || '|' ||
                      lower(c.last_name) AS k FROM contacts c JOIN org o ON o.source = c.source
                      AND o.source_id = c.organization_source_id""",
        "configuration": """
            SELECT c.source, c.source_id, 'p:' || o.org_key || '|' || c.config_type || '|' || lower(c.name) || '|' ||
                   c.serial_norm || '|' || c.mac_norm AS k
            FROM configurations c JOIN org o ON o.source = c.source AND o.source_id = c.organization_source_id
            UNION ALL SELECT source, source_id, 'ms:' || mac_norm || '|' || serial_norm FROM configurations
            UNION ALL SELECT source, source_id, 'm:' || mac_norm FROM configurations
                WHERE serial_norm IS NULL OR source <> 'itglue'
            UNION ALL SELECT source, source_id, 's:' || serial_norm FROM configurations
                WHERE mac_norm IS NULL OR source <> 'itglue'""",
    }
    out = []
    for etype, sql in keys.items():
        edges = con.sql(f"SELECT * FROM ({sql}) WHERE k IS NOT NULL").pl()
        nodes = con.sql(f"SELECT source, source_id FROM {etype}s").pl() if etype != "configuration" else \
            con.sql("SELECT source, source_id FROM configurations").pl()
        out.append(_components(etype, nodes, edges))
    return pl.concat(out)


def _components(etype: str, nodes: pl.DataFrame, keyed: pl.DataFrame) -> pl.DataFrame:
    """Connected components over shared keys (label propagation until stable)."""
    nodes = nodes.with_columns((pl.col("source") + ":" + pl.col("source_id")).alias("node"))
    keyed = keyed.with_columns((pl.col("source") + ":" + pl.col("source_id")).alias("node")).select("node", "k")
    label = nodes.select("node", pl.col("node").alias("label"))
    while True:
        by_key = keyed.join(label, on="node").group_by("k").agg(pl.col("label").min())
        new = (keyed.join(by_key, on="k").group_by("node").agg(pl.col("label").min().alias("cand"))
               .join(label, on="node", how="right")
               .select("node", pl.min_horizontal("label", "cand").alias("label")))
        if new.join(label, on="node").filter(pl.col("label") != pl.col("label_right")).height == 0:
            break
        label = new
    return nodes.join(label, on="node").select(pl.lit(etype).alias("entity_type"), "source", "source_id",
                                               pl.col("label").alias("cluster_id"))
