"""How fast a large batch is reviewed: `msp-recon show`, the review page's first page and a one-client filter, and
the static report, on a batch grown to N actions.

    .venv/bin/python benchmarks/review_speed.py --warehouse data/warehouse.duckdb --actions 8600

The warehouse must hold a proposed batch (make demo); it is copied to a scratch file, and the latest batch's
actions are repeated under a new batch id until it holds --actions (their evidence, marts and staging stay real).
"""

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import duckdb

from pipelines.cleanup import store
from pipelines.cleanup.report import show_lines
from pipelines.review.page import render, write_report
from pipelines.review.summary import Filters
from pipelines.review.view import batch_view, latest_batch


def grow(con: duckdb.DuckDBPyConnection, source_batch: str, target: int) -> str:
    store.ensure_schema(con)
    columns = ", ".join(c for c in store.ACTION_COLUMNS if c not in ("action_id", "batch_id"))
    con.execute("INSERT INTO cleanup.batches SELECT 'B9999', created_at, 'proposed', FALSE, NULL, 0, NULL, NULL "
                "FROM cleanup.batches WHERE batch_id = ?", [source_batch])
    n = con.execute("SELECT count(*) FROM cleanup.actions WHERE batch_id = ?", [source_batch]).fetchall()[0][0]
    for k in range(-(-target // n)):
        con.execute(f"INSERT INTO cleanup.actions (action_id, batch_id, {columns}) SELECT 'B9999-' || "
                    f"lpad(({k} * {n} + row_number() OVER ())::VARCHAR, 6, '0'), 'B9999', {columns} "
                    "FROM cleanup.actions WHERE batch_id = ? ORDER BY action_id LIMIT ?", [source_batch,
                                                                                            target - k * n])
    return "B9999"


def timed(label: str, work) -> object:
    t0 = time.perf_counter()
    result = work()
    print(f"{label:<34} {time.perf_counter() - t0:6.2f} s")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, default=Path("data/warehouse.duckdb"))
    parser.add_argument("--actions", type=int, default=8600)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder) / "warehouse.duckdb"
        shutil.copyfile(args.warehouse, scratch)
        with duckdb.connect(str(scratch)) as con:
            source = latest_batch(con)
            batch_id = grow(con, source, args.actions)
            n = con.execute("SELECT count(*) FROM cleanup.actions WHERE batch_id = ?", [batch_id]).fetchall()[0][0]
            client = con.execute("SELECT organization_name FROM cleanup.actions WHERE batch_id = ? GROUP BY 1 "
                                 "ORDER BY count(*) DESC LIMIT 1", [batch_id]).fetchall()[0][0]
            print(f"batch of {n:,} actions (from {source}); largest client: {client}")
            lines = timed("msp-recon show (every action)", lambda: show_lines(con, batch_id))
            print(f"{'':<34} {len(lines):,} lines")
            timed("review page, first page", lambda: render(batch_view(con, batch_id), interactive=True, token="t"))
            timed("review page, one client", lambda: render(batch_view(con, batch_id, Filters(client=client)),
                                                            interactive=True, token="t"))
            report = timed("static report (whole batch)",
                           lambda: write_report(con, batch_id, Path(folder) / "report.html"))
            print(f"{'':<34} {report.stat().st_size / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
