"""Small helpers that turn tables into Dagster metadata: row counts and a preview a person can read in the UI."""

import dagster as dg
import polars as pl


def preview(frame: pl.DataFrame, rows: int = 5, max_columns: int = 10) -> dg.MetadataValue:
    """The first rows as a Markdown table (raw JSON columns left out: they are long and the table has them)."""
    columns = [c for c in frame.columns if c not in ("raw_json",)][:max_columns]
    head = frame.select(columns).head(rows)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in head.iter_rows():
        lines.append("| " + " | ".join(_cell(v) for v in row) + " |")
    return dg.MetadataValue.md("\n".join(lines))


def _cell(value) -> str:
    text = "" if value is None else str(value)
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= 40 else text[:39] + "…"
