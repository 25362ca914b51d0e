"""Read-only sessions on a DuckDB file: what `msp-recon sql`, the cookbook and every reader of the warehouse or the
published copy open.

`read_only=True` alone is not read-only: through it, `ATTACH '<warehouse>' (READ_WRITE)` writes the warehouse,
`COPY ... TO` overwrites any file, `read_csv('/etc/passwd')` reads any file, `INSTALL` downloads code and `SET` turns
all of that back on. So a reader's session also has external access off (no file but its own database, no network,
no extension) and its configuration locked (no `SET`, `RESET` or settings `PRAGMA`). `SET VARIABLE` still works:
the cookbook uses it to pick a record.
"""

from pathlib import Path

import duckdb

READ_ONLY_CONFIG = {
    "access_mode": "READ_ONLY",
    "enable_external_access": False,      # no ATTACH, COPY TO/FROM, read_csv/parquet/json, glob, INSTALL, secrets
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "lock_configuration": True,           # last: nothing above can be SET back
}
BLOCKED = "ATTACH, COPY, file readers, INSTALL/LOAD, SET and writes are blocked in a read-only session"


def readonly_connect(path: str | Path) -> duckdb.DuckDBPyConnection:
    """A locked read-only connection to the DuckDB file at `path` (which must exist)."""
    return duckdb.connect(str(path), read_only=True, config=dict(READ_ONLY_CONFIG))


def is_read_only(con: duckdb.DuckDBPyConnection) -> bool:
    return con.execute("SELECT current_setting('access_mode')").fetchall()[0][0].lower() == "read_only"


def refused(exc: duckdb.Error) -> str | None:
    """One line for an error the lockdown raised (what is blocked, and DuckDB's reason); None for any other error."""
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    lockdown = (isinstance(exc, duckdb.PermissionException) or "configuration has been locked" in first
                or "read-only mode" in first or "in read-only mode" in first)
    return f"{BLOCKED} ({first})" if lockdown else None


def run_statements(con: duckdb.DuckDBPyConnection, text: str) -> duckdb.DuckDBPyConnection | None:
    """Run SQL text of one or more statements as DuckDB's own parser splits them (a `;` inside a string or a comment
    splits nothing), e.g. `SET VARIABLE ...; SELECT ...`. Returns the last statement's pending result (read it with
    `fetchmany`), or None when it returns no rows (a `SET VARIABLE`, or text of comments only)."""
    statements = con.extract_statements(text)
    if not statements:
        return None
    *setup, last = statements
    for statement in setup:
        con.execute(statement).fetchall()
    # The statement object, not its text: the text keeps its `;` and trailing comment, which no wrapper parses.
    result = con.execute(last)
    if duckdb.ExpectedResultType.QUERY_RESULT not in last.expected_result_type or result.description is None:
        result.fetchall()
        return None
    return result
