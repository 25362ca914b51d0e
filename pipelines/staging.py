"""Staging: every source's raw tables in one schema per entity type, with normalized match fields.

The SQL lives in sql/staging/: `macros.sql` (normalizers), `shape.sql` (the tables' columns) and one SELECT per source
and entity in `sql/staging/<source>/<entity>.sql`. This module only decides which SELECTs to union.
"""

from collections.abc import Iterable

import duckdb

from pipelines.sources import write_systems
from pipelines.sources.base import ENTITY_TABLES
from pipelines.warehouse import SQL_DIR, run_script, sql_file, table_exists


class StagingError(Exception):
    pass


def source_selects(source: str, entity_table: str) -> str | None:
    path = SQL_DIR / "staging" / source / f"{entity_table}.sql"
    return path.read_text().strip().rstrip(";") if path.exists() else None


def source_links(source: str) -> str | None:
    """`sql/staging/<source>/links.sql`: what a source says about other sources' records (HaloPSA's `itglue_id`
    marks the IT Glue copy it syncs), applied to the built staging tables."""
    path = SQL_DIR / "staging" / source / "links.sql"
    return path.read_text() if path.exists() else None


def _raw_tables_present(con: duckdb.DuckDBPyConnection, select: str) -> bool:
    """A source contributes only once its raw tables exist (a source never extracted has none)."""
    import re

    names = set(re.findall(r"raw\.([A-Za-z0-9_]+)", select))
    return all(table_exists(con, "raw", n) for n in names)


def build_staging(con: duckdb.DuckDBPyConnection, sources: Iterable[str]) -> dict[str, dict[str, int]]:
    """Rebuild staging.organizations/configurations/contacts from `sources`, in one transaction.

    Returns row counts per table and source.
    """
    sources = list(sources)
    run_script(con, "staging/macros.sql")
    run_script(con, "staging/shape.sql")
    counts: dict[str, dict[str, int]] = {}
    con.execute("BEGIN TRANSACTION")
    try:
        for table in ENTITY_TABLES.values():
            parts = [f"SELECT * FROM {table}_shape"]
            for source in sources:
                select = source_selects(source, table)
                if select and _raw_tables_present(con, select):
                    parts.append(f"({select})")
            con.execute(f"CREATE OR REPLACE TABLE staging.{table} AS " + "\nUNION ALL BY NAME\n".join(parts))
            _check_shape(con, table)
            _check_unique(con, table)
            counts[table] = dict(con.execute(
                f"SELECT source, count(*) FROM staging.{table} GROUP BY 1 ORDER BY 1").fetchall())
        for source in sources:
            links = source_links(source)
            if links and _raw_tables_present(con, links):
                con.execute(links)
        write_systems(con)  # about.systems: which source is which kind, for SQL that asks
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return counts


def _check_unique(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """One row per record: a repeated (source, source_id) would put one record in two clusters downstream."""
    repeated = con.execute(
        f"SELECT source, source_id, count(*) FROM staging.{table} GROUP BY ALL HAVING count(*) > 1 "
        "ORDER BY 3 DESC, 1, 2 LIMIT 3").fetchall()
    if repeated:
        examples = ", ".join(f"{s}:{i} x{n}" for s, i, n in repeated)
        raise StagingError(f"staging.{table}: records repeated within one source ({examples}); "
                           "a source's raw table or staging SELECT yields one record more than once")


def _check_shape(con: duckdb.DuckDBPyConnection, table: str) -> None:
    expected = [r[0] for r in con.execute(f"DESCRIBE {table}_shape").fetchall()]
    actual = [r[0] for r in con.execute(f"DESCRIBE staging.{table}").fetchall()]
    if actual != expected:
        extra = sorted(set(actual) - set(expected))
        raise StagingError(f"staging.{table}: a source's SELECT produced columns not in sql/staging/shape.sql: {extra}")


__all__ = ["build_staging", "ENTITY_TABLES", "sql_file"]
