"""Splink's charts for one entity type, saved as HTML beside the warehouse and linked from the assets' metadata:
the model's match weights, waterfalls of the pairs behind duplicates (why two copies in one system are one thing),
and a cluster studio page of clusters that hold duplicates."""

import logging
from pathlib import Path

from splink import Linker

from pipelines.linkage.backend import LinkageEngine
from pipelines.linkage.settings import EntitySpec

log = logging.getLogger(__name__)


def save_charts(engine: LinkageEngine, linker: Linker, spec: EntitySpec, predictions, clustered,
                charts_dir: Path, n_waterfall: int = 12, n_clusters: int = 12) -> dict[str, str]:
    """Write the charts; returns name -> path. A chart that cannot be drawn is logged and left out, never fatal."""
    charts_dir = Path(charts_dir)
    charts_dir.mkdir(parents=True, exist_ok=True)
    e = spec.entity_type
    paths: dict[str, str] = {}

    def attempt(name: str, draw) -> None:
        path = charts_dir / f"{e}_{name}.html"
        try:
            draw(path)
            paths[name] = str(path)
        except Exception as exc:  # charts are for people; a failed one must not fail the run
            log.warning("linkage chart %s for %s not drawn: %s", name, e, exc)

    # inline=True: vega, vega-lite and vega-embed from Splink's own package, so the charts render offline
    attempt("match_weights", lambda p: linker.visualisations.match_weights_chart().save(str(p), inline=True))

    def waterfall(path: Path) -> None:
        # the pairs a cleanup acts on (two copies in one system) first, then the strongest cross-system links
        records = engine.con.sql(f"""
            SELECT * FROM {predictions.physical_name}
            ORDER BY (source_l = source_r) DESC, match_weight DESC LIMIT {n_waterfall}""").pl().to_dicts()
        if records:
            linker.visualisations.waterfall_chart(records, filter_nulls=False).save(str(path), inline=True)
        else:
            raise ValueError("no scored pairs")

    attempt("waterfall", waterfall)

    def studio(path: Path) -> None:
        ids = [r[0] for r in engine.con.execute(f"""
            SELECT cluster_id FROM {clustered.physical_name}
            GROUP BY cluster_id HAVING count(*) > count(DISTINCT source)
            ORDER BY count(*) DESC, cluster_id LIMIT {n_clusters}""").fetchall()]
        if not ids:
            raise ValueError("no cluster holds a duplicate")
        linker.visualisations.cluster_studio_dashboard(predictions, clustered, str(path), cluster_ids=ids,
                                                       overwrite=True)

    attempt("cluster_studio", studio)
    return paths


def existing_charts(spec: EntitySpec, charts_dir: Path) -> dict[str, str]:
    """The charts an earlier run drew for this entity type, name -> path (an incremental run draws none)."""
    prefix = f"{spec.entity_type}_"
    return {p.stem.removeprefix(prefix): str(p) for p in sorted(Path(charts_dir).glob(f"{prefix}*.html"))}
