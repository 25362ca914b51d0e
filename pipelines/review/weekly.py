"""Week over week: the findings of each planning run (audit.findings), what changed since the previous run
(marts.weekly_changes, sql/marts/weekly_changes.sql), and the counts the cleanup_batch asset reports as numbers so
Dagster plots them across runs."""

import duckdb

from pipelines.cleanup import store
from pipelines.warehouse import run_script


def record_findings(con: duckdb.DuckDBPyConnection, run_id: str | None) -> None:
    """This run's duplicates to remove and orphans, with their client, into audit.findings."""
    store.ensure_schema(con)
    recorded = store.now()
    name = "organization_name" if _has_column(con, "marts.duplicates", "organization_name") else "NULL"
    if store.has_table(con, "marts.duplicates"):
        con.execute(f"INSERT INTO audit.findings SELECT ?, ?, entity_type, source, source_id, 'duplicate', cause, "
                    f"{name} FROM marts.duplicates WHERE role = 'duplicate'", [recorded, run_id])
    name = "organization_name" if _has_column(con, "marts.orphans", "organization_name") else "NULL"
    if store.has_table(con, "marts.orphans"):
        source = "source" if _has_column(con, "marts.orphans", "source") else "'itglue'"
        con.execute(f"INSERT INTO audit.findings SELECT ?, ?, entity_type, {source}, source_id, 'orphan', reason, "
                    f"{name} FROM marts.orphans", [recorded, run_id])


def build_weekly_changes(con: duckdb.DuckDBPyConnection) -> None:
    store.ensure_schema(con)
    run_script(con, "marts/weekly_changes.sql")


def counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Numbers per entity type, cause and orphan reason (this run), and this week's new/resolved/still open."""
    found: dict[str, int] = {}
    if store.has_table(con, "marts.duplicates"):
        for key, n in con.execute("SELECT 'duplicates ' || entity_type, count(*) FROM marts.duplicates "
                                  "WHERE role = 'duplicate' GROUP BY 1 UNION ALL "
                                  "SELECT 'cause ' || cause, count(*) FROM marts.duplicates "
                                  "WHERE role = 'duplicate' GROUP BY 1").fetchall():
            found[key] = n
    if store.has_table(con, "marts.orphans"):
        for key, n in con.execute("SELECT 'orphans ' || entity_type, count(*) FROM marts.orphans GROUP BY 1 "
                                  "UNION ALL SELECT 'orphan reason ' || reason, count(*) FROM marts.orphans "
                                  "GROUP BY 1").fetchall():
            found[key] = n
    if store.has_table(con, "marts.weekly_changes"):
        new, resolved, still_open = con.execute("SELECT coalesce(sum(new), 0), coalesce(sum(resolved), 0), "
                                                "coalesce(sum(still_open), 0) FROM marts.weekly_changes").fetchall()[0]
        found |= {"week new": int(new), "week resolved": int(resolved), "week still open": int(still_open)}
    return found


def _has_column(con: duckdb.DuckDBPyConnection, table: str, column: str) -> bool:
    if not store.has_table(con, table):
        return False
    return column in {r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()}
