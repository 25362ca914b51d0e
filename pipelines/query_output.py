"""What `msp-recon sql` prints: a query's rows as a table for a person, or as CSV / JSON for another program.

The rows are read from DuckDB's pending result in chunks, so that `--csv` of a million rows streams instead of
building a list, and a table cut at --limit still says how many rows there were ("50 of 73 rows").
"""

import csv
import json
import sys
from collections.abc import Iterator
from datetime import date, datetime, time
from decimal import Decimal
from typing import IO

import duckdb

CHUNK = 2048


def _rows(result: duckdb.DuckDBPyConnection, limit: int | None) -> Iterator[tuple]:
    """The first `limit` rows (all when None)."""
    left = limit
    while left is None or left > 0:
        chunk = result.fetchmany(CHUNK if left is None else min(CHUNK, left))
        if not chunk:
            return
        if left is not None:
            left -= len(chunk)
        yield from chunk


def _rest(result: duckdb.DuckDBPyConnection) -> int:
    """How many rows are left in the result (read and counted, not kept)."""
    count = 0
    while chunk := result.fetchmany(CHUNK):
        count += len(chunk)
    return count


def columns(result: duckdb.DuckDBPyConnection) -> list[str]:
    return [d[0] for d in result.description]


def cut_note(shown: int, total: int) -> str | None:
    """The line saying a result was cut, or None when every row was shown."""
    return None if total <= shown else f"{shown:,} of {total:,} rows (--limit N for more)"


def print_table(result: duckdb.DuckDBPyConnection, limit: int, out: IO[str] | None = None) -> tuple[int, int]:
    """The first `limit` rows as a table on `out`; returns (rows shown, rows in the result)."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    out = out or sys.stdout
    shown = list(_rows(result, limit))
    total = len(shown) + _rest(result)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False)
    for name in columns(result):
        table.add_column(name, overflow="fold")
    for row in shown:
        table.add_row(*("NULL" if v is None else str(v) for v in row))
    # Wide when piped (a file, less -S): rich would otherwise wrap every row at 80 columns.
    console = Console(file=out, width=None if out.isatty() else 200, highlight=False, soft_wrap=False)
    console.print(table)
    note = cut_note(len(shown), total)
    if note:
        console.print(note)
    else:
        console.print(f"{total:,} row{'s' if total != 1 else ''}")
    return len(shown), total


def write_csv(result: duckdb.DuckDBPyConnection, out: IO[str], limit: int | None) -> int:
    """Header and rows as CSV (NULL as an empty field); returns the rows written."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns(result))
    n = 0
    for row in _rows(result, limit):
        writer.writerow(row)
        n += 1
    return n


def _json_value(value):
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)  # exact: a float would round money and ids
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def write_json(result: duckdb.DuckDBPyConnection, out: IO[str], limit: int | None) -> int:
    """A JSON array of one object per row (column name -> value), written row by row; returns the rows written."""
    names = columns(result)
    n = 0
    out.write("[")
    for row in _rows(result, limit):
        out.write(",\n " if n else "\n ")
        out.write(json.dumps(dict(zip(names, row, strict=True)), default=_json_value, ensure_ascii=False))
        n += 1
    out.write("\n]\n" if n else "]\n")
    return n
