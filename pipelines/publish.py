"""The published copy: what users query (staging, marts, cleanup, audit), as a separate DuckDB file they open any time.

DuckDB lets one process hold a database file, so a user's SQL session on the warehouse and a pipeline run would block
each other. After each weekly run the tables users query are copied to their own file, write-audit-publish style:

1. write: copy every table (and the views over them) into a temporary file beside the published one;
2. audit: open the temporary file on its own, read-only, and check that every table is there with the row count it
   had in the warehouse and that the contract's tables exist;
3. publish: rename it over the previous copy. A rename is atomic on one filesystem, so a reader sees the old copy or
   the new one, never half of one; a reader that holds the old file open keeps reading it (its inode lives until it
   closes), and the run never waits for, or fails because of, anyone reading.

`RECON_PUBLISHED` sets the path; by default it is `published.duckdb` beside the warehouse. The copy is mode 0600 (it holds
audit data) and holds no secret: WITHHELD_COLUMNS stay in the warehouse.
"""

import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pipelines.private_files import make_private, owner_only
from pipelines.read_only import readonly_connect
from pipelines.sources import write_systems
from pipelines.warehouse import Warehouse

PUBLISHED_SCHEMAS = ("staging", "marts", "cleanup", "audit")
# Columns that never leave the warehouse: the encrypted secret values of apply snapshots (the copy holds no secret at
# all, encrypted or not; its record_json has them as "[encrypted]").
WITHHELD_COLUMNS = {("audit", "snapshots"): ("secrets_encrypted",)}
ABOUT_SCHEMA = "about"  # where the copy says what it is: about.publication, about.tables
# The copy is written in a storage format the tools users have can read: the duckdb CLI on PyPI (duckdb-cli 1.5),
# DBeaver's and Metabase's DuckDB drivers do not open DuckDB 2.0's own format yet.
STORAGE_VERSION = "v1.5.0"


class PublishError(Exception):
    """The copy failed its audit; the previous published copy is left as it was."""


@dataclass
class Publication:
    """What one publish wrote: where, when, and the row count of every table."""

    path: Path
    published_at: datetime
    run_id: str
    tables: dict[str, int] = field(default_factory=dict)
    views: list[str] = field(default_factory=list)


def published_path(warehouse: Warehouse, settings: Mapping[str, str] | None = None) -> Path:
    """RECON_PUBLISHED from `settings` (the environment and `.env`), else `published.duckdb` beside the warehouse."""
    configured = (settings or {}).get("RECON_PUBLISHED")
    path = Path(configured) if configured else warehouse.path.parent / "published.duckdb"
    return path.expanduser().resolve()


def publish(warehouse: Warehouse, target: Path, run_id: str = "",
            schemas: tuple[str, ...] = PUBLISHED_SCHEMAS) -> Publication:
    """Copy `schemas` of the warehouse to `target`: write a temporary file, audit it, rename it over the old copy."""
    target = Path(target).expanduser().resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    # Same folder, so the final rename stays on one filesystem (and is atomic); a unique name, so two publishes
    # (or a crashed one's leftover) never share a temporary file.
    scratch = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.tmp")
    publication = Publication(target, datetime.now(UTC), run_id)
    try:
        with owner_only():  # the copy holds audit data: 0600, and so it stays through the rename
            views = _write(warehouse, scratch, schemas, publication)
            _add_views_and_about(scratch, views, publication, warehouse)
        _audit(scratch, publication)
        # A WAL left by someone who opened the old copy read-write belongs to the old file; beside the new one,
        # DuckDB would try to replay it into a database it was not written for.
        Path(f"{target}.wal").unlink(missing_ok=True)
        make_private(scratch)
        os.replace(scratch, target)
    finally:
        scratch.unlink(missing_ok=True)
        Path(f"{scratch}.wal").unlink(missing_ok=True)
    return publication


def _write(warehouse: Warehouse, scratch: Path, schemas: tuple[str, ...],
           publication: Publication) -> list[tuple[str, str, str]]:
    """Copy the tables through the warehouse's own connection; returns the views (schema, name, sql) to recreate."""
    with warehouse.connect() as con:
        tables = con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = current_database() "
            f"AND schema_name IN ({', '.join('?' for _ in schemas)}) ORDER BY 1, 2", list(schemas)).fetchall()
        views = con.execute(
            "SELECT schema_name, view_name, sql FROM duckdb_views() WHERE database_name = current_database() "
            f"AND NOT internal AND schema_name IN ({', '.join('?' for _ in schemas)}) ORDER BY 1, 2",
            list(schemas)).fetchall()
        con.execute(f"ATTACH '{_sql_string(scratch)}' AS published (STORAGE_VERSION '{STORAGE_VERSION}')")
        try:
            for schema in schemas:
                con.execute(f'CREATE SCHEMA IF NOT EXISTS published."{schema}"')
            for schema, name in tables:
                withheld = [c for c in WITHHELD_COLUMNS.get((schema, name), ())
                            if c in {d[0] for d in con.execute(f'DESCRIBE "{schema}"."{name}"').fetchall()}]
                columns = f"* EXCLUDE ({', '.join(withheld)})" if withheld else "*"
                con.execute(f'CREATE TABLE published."{schema}"."{name}" AS '
                            f'SELECT {columns} FROM "{schema}"."{name}"')
                rows = con.execute(f'SELECT count(*) FROM "{schema}"."{name}"').fetchall()[0][0]
                publication.tables[f"{schema}.{name}"] = rows
            con.execute("CHECKPOINT published")
        finally:
            con.execute("DETACH published")
    return views


def _add_views_and_about(scratch: Path, views: list[tuple[str, str, str]], publication: Publication,
                         warehouse: Warehouse) -> None:
    """Views are created in the copy itself so that they bind to the copy's tables, not the warehouse's."""
    with duckdb.connect(str(scratch)) as con:
        pending = list(views)
        while pending:  # a view over another view needs that one first: retry until no more can be created
            failed = []
            for schema, name, sql in pending:
                try:
                    con.execute(sql)
                    publication.views.append(f"{schema}.{name}")
                except duckdb.CatalogException:
                    failed.append((schema, name, sql))
            if len(failed) == len(pending):
                raise PublishError(f"views {', '.join(f'{s}.{n}' for s, n, _ in failed)} do not bind in the copy")
            pending = failed
        con.execute(f"CREATE SCHEMA {ABOUT_SCHEMA}")
        con.execute(f"CREATE TABLE {ABOUT_SCHEMA}.publication (published_at TIMESTAMPTZ, dagster_run_id VARCHAR, "
                    "warehouse VARCHAR, tables INTEGER, views INTEGER)")
        con.execute(f"INSERT INTO {ABOUT_SCHEMA}.publication VALUES (?, ?, ?, ?, ?)",
                    [publication.published_at, publication.run_id, str(warehouse.path), len(publication.tables),
                     len(publication.views)])
        write_systems(con)  # about.systems: the registry, which the cookbook joins instead of listing sources
        con.execute(f"CREATE TABLE {ABOUT_SCHEMA}.tables (table_schema VARCHAR, table_name VARCHAR, row_count BIGINT)")
        for qualified, rows in publication.tables.items():
            schema, name = qualified.split(".", 1)
            con.execute(f"INSERT INTO {ABOUT_SCHEMA}.tables VALUES (?, ?, ?)", [schema, name, rows])
        con.execute("CHECKPOINT")


def _audit(scratch: Path, publication: Publication) -> None:
    """Open the copy as a reader does (the locked read-only session, on its own) and compare it with what was
    copied: every view must read without the file access a reader's session does not have."""
    problems = []
    with readonly_connect(scratch) as con:
        present = {f"{s}.{t}" for s, t in con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables()").fetchall()}
        for qualified, expected in publication.tables.items():
            if qualified not in present:
                problems.append(f"{qualified} is missing")
                continue
            schema, name = qualified.split(".", 1)
            rows = con.execute(f'SELECT count(*) FROM "{schema}"."{name}"').fetchall()[0][0]
            if rows != expected:
                problems.append(f"{qualified} has {rows} rows, the warehouse {expected}")
        for qualified in publication.views:
            schema, name = qualified.split(".", 1)
            try:
                con.execute(f'SELECT count(*) FROM "{schema}"."{name}"').fetchall()
            except duckdb.Error as exc:
                problems.append(f"view {qualified} does not read: {str(exc).splitlines()[0]}")
    if problems:
        raise PublishError(f"the published copy failed its audit ({'; '.join(problems)}); "
                           "the previous copy is kept")


def _sql_string(path: Path) -> str:
    return str(path).replace("'", "''")
