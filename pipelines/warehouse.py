"""The DuckDB warehouse: opening it with a clear message when it is locked, atomic table swaps, and running sql/ files.

Schemas: `raw` (one table per source resource), `staging` (every source in one shape), `marts` (linkage outputs),
`cleanup` (proposed batches and approvals), `audit` (snapshots and action log), `linkage` (run state).
"""

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from pathlib import Path

import duckdb
import polars as pl

from pipelines.private_files import make_private, owner_only
from pipelines.read_only import readonly_connect

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
SCHEMAS = ("raw", "staging", "marts", "cleanup", "audit", "linkage")


class WarehouseError(Exception):
    """The warehouse file cannot be used; the message is one line saying why and what to do."""


class WarehouseLocked(WarehouseError):
    """Another process holds the DuckDB file; the message names the file and the holder."""


class WarehouseUnreadable(WarehouseError):
    """The file is not a DuckDB database (empty, truncated, overwritten or damaged): not a lock to wait for."""


def sql_file(relative: str) -> str:
    """The text of a file under sql/, e.g. sql_file("staging/macros.sql")."""
    return (SQL_DIR / relative).read_text()


class Warehouse:
    """One DuckDB file. Connections are short: open, do one step's work, close (DuckDB allows one writer process)."""

    def __init__(self, path: str | Path):
        self.path = Path(path).expanduser().resolve()

    def __repr__(self) -> str:
        return f"Warehouse({str(self.path)!r})"

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        if read_only:
            # A reader gets the locked read-only session (pipelines/read_only.py), not just read_only=True.
            with self._opened(lambda: readonly_connect(self.path), lambda con: con.close(), private=False) as con:
                yield con
            return
        with self._opened(lambda: duckdb.connect(str(self.path)), lambda con: con.close()) as con:
            for schema in SCHEMAS:
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            yield con

    @contextmanager
    def attached(self, con: duckdb.DuckDBPyConnection, alias: str = "warehouse",
                 read_only: bool = False) -> Iterator[str]:
        """The warehouse ATTACHed to another DuckDB connection (the linkage engine's) as `alias`: its queries read
        and write the warehouse's tables directly, in parallel, with no Arrow copy between two databases, and within
        that connection's one memory limit. Detached on exit; same errors and file modes as `connect`."""
        _check_identifier(alias)
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        path = str(self.path).replace("'", "''")
        with self._opened(lambda: con.execute(f"ATTACH '{path}' AS {alias}" + (" (READ_ONLY)" if read_only else "")),
                          lambda _: con.execute(f"DETACH {alias}")):
            if not read_only:
                for schema in SCHEMAS:
                    con.execute(f"CREATE SCHEMA IF NOT EXISTS {alias}.{schema}")
            yield alias

    @contextmanager
    def _opened(self, open_, close, private: bool = True) -> Iterator:
        """Open the file (as a connection or an attachment), then close it, with DuckDB's errors turned into ones
        that say what is wrong; `private`: the file and its WAL kept 0600 (the warehouse holds audit data), for every
        opening that may write."""
        with owner_only() if private else nullcontext():
            if private:
                make_private(self.path, Path(f"{self.path}.wal"))
            try:
                handle = open_()
            except duckdb.Error as exc:
                raise _open_error(self.path, exc) from None
            try:
                yield handle
            except duckdb.Error as exc:
                raise _damage_found(self.path, exc) from None
            finally:
                close(handle)
                if private:
                    make_private(self.path, Path(f"{self.path}.wal"))

    def replace_tables(self, schema: str, frames: Mapping[str, pl.DataFrame]) -> None:
        """Swap in every table at once: either all of `frames` replace their tables, or none does.

        The previous contents stay until the new ones are complete, so a failed extraction never leaves partial data.
        """
        with self.connect() as con:
            replace_tables(con, schema, frames)

    def table(self, qualified: str) -> pl.DataFrame | None:
        """A whole table as a polars frame, or None when it does not exist."""
        schema, name = qualified.split(".")
        with self.connect() as con:
            if not table_exists(con, schema, name):
                return None
            return con.sql(f'SELECT * FROM {schema}."{name}"').pl()

    def row_counts(self, schema: str) -> dict[str, int]:
        with self.connect() as con:
            names = [r[0] for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = ? ORDER BY 1", [schema]
            ).fetchall()]
            return {n: con.execute(f'SELECT count(*) FROM {schema}."{n}"').fetchall()[0][0] for n in names}


def replace_tables(con: duckdb.DuckDBPyConnection, schema: str, frames: Mapping[str, pl.DataFrame]) -> None:
    con.execute("BEGIN TRANSACTION")
    try:
        for name, frame in frames.items():
            _check_identifier(name)
            con.register("_incoming", frame.to_arrow())
            con.execute(f'CREATE OR REPLACE TABLE {schema}."{name}" AS SELECT * FROM _incoming')
            con.unregister("_incoming")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    return bool(con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?", [schema, name]
    ).fetchall()[0][0])


def run_script(con: duckdb.DuckDBPyConnection, relative: str, **params: str) -> None:
    """Run a sql/ file of one or more statements; `{name}` placeholders are filled from params (identifiers only)."""
    text = sql_file(relative)
    for key, value in params.items():
        _check_identifier(value)
        text = text.replace("{" + key + "}", value)
    con.execute(text)


def _check_identifier(name: str) -> None:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", name):
        raise ValueError(f"not a safe SQL identifier: {name!r}")


def _damaged(exc: Exception) -> bool:
    text = str(exc)
    return "not a valid DuckDB database file" in text or "Corrupt database file" in text


def _damage_found(path: Path, exc: Exception) -> Exception:
    """Damage is often met only when a block is read: that is the file, not the query; anything else is as raised."""
    return WarehouseUnreadable(_unreadable_message(path, str(exc))) if _damaged(exc) else exc


def _open_error(path: Path, exc: Exception) -> WarehouseError:
    if _damaged(exc):
        return WarehouseUnreadable(_unreadable_message(path, str(exc)))
    if "lock" in str(exc).lower():
        return WarehouseLocked(_locked_message(path, str(exc)))
    return WarehouseUnreadable(f"the warehouse {path} cannot be opened: {str(exc).splitlines()[0]}")


def _unreadable_message(path: Path, detail: str) -> str:
    size = path.stat().st_size if path.exists() else 0
    what = "is empty (0 bytes)" if size == 0 else (
        f"is damaged ({detail.splitlines()[0].split(': ', 1)[-1][:120]})" if "Corrupt" in detail
        else f"is not a DuckDB database ({size:,} bytes of something else)")
    return (f"the warehouse {path} {what}, so it cannot be read; it is not locked. Move it aside "
            f"(mv {path} {path}.broken) and run `msp-recon run` to rebuild it from the sources; until then the "
            "published read-only copy holds the last run's batches, audit log and marts")


def _locked_message(path: Path, detail: str) -> str:
    holder = ""
    match = re.search(r"\(PID (\d+)\)", detail) or re.search(r"PID (\d+)", detail)
    if match:
        pid = match.group(1)
        holder = f" by process {pid}"
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
            if cmdline:
                holder += f" ({cmdline[:120]})"
        except OSError:
            pass
    return (
        f"the warehouse {path} is locked{holder}: DuckDB lets one process open it at a time. "
        "Close that program (a duckdb shell, a notebook, another run) and try again, "
        "or query the published read-only copy instead"
    )
