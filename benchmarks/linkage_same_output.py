"""Same output before and after a change to the linkage engine: the marts, clusters, histories and pair tables of one
weekly run on a sandbox tenant, dumped by one version of the code and compared with another's.

    # once: last week's run (models trained, history written), then this week's tenant extracted and staged
    .venv/bin/python benchmarks/linkage_same_output.py prepare /tmp/same --seed 101 --scale 300 --difficulty hard
    # this week's run with the saved models, by each version of the code (PYTHONPATH=<checkout> for another one)
    .venv/bin/python benchmarks/linkage_same_output.py dump /tmp/same /tmp/same/after
    .venv/bin/python benchmarks/linkage_same_output.py compare /tmp/same/before /tmp/same/after

`dump` copies the prepared warehouse, runs `run_linkage` on it (saved models, no charts, a fixed run time so the
histories can be compared) and writes every table of the `marts` and `linkage` schemas it left as Parquet. `compare`
matches the two dumps as row multisets with columns by name and list and map elements sorted: `list()` element order
in sql/marts/linkage/input_organizations.sql is not deterministic, nor is the order of the pair tables' columns.
Exits 1 on any difference. Tuning seeds only (101-103, 401-420: benchmarks/README.md).
"""

import argparse
import shutil
import sys
import tempfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import duckdb

RUN_AT = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
SCHEMAS = ("marts", "linkage")


def prepare(folder: Path, seed: int, scale: int, difficulty: str, psa: str, rmms: tuple[str, ...]) -> None:
    from linkage_quality import extract_and_stage, serving

    from pipelines.linkage.pipeline import LinkageOptions, run_linkage
    from pipelines.sandbox.server import RunningSandbox
    from pipelines.sandbox.systems import build_world
    from pipelines.warehouse import Warehouse

    folder.mkdir(parents=True, exist_ok=True)
    warehouse = Warehouse(folder / "warehouse.duckdb")
    sources = ("itglue", psa, *rmms)
    before = build_world(seed=seed, scale=scale, psa=psa, difficulty=difficulty, rmms=rmms, weeks_ago=1)
    with RunningSandbox(serving(before, False)) as running:
        extract_and_stage(before, sources, running.url, warehouse)
        run_linkage(warehouse, options=LinkageOptions(charts=False, train="always"),
                    model_dir=folder / "linkage_models")
    world = build_world(seed=seed, scale=scale, psa=psa, difficulty=difficulty, rmms=rmms)
    with RunningSandbox(serving(world, False)) as running:
        extract_and_stage(world, sources, running.url, warehouse)
    print(f"prepared {folder}: {warehouse.row_counts('staging')}")


def dump(folder: Path, out: Path) -> None:
    import pipelines.linkage.pipeline as pipeline
    from pipelines.warehouse import Warehouse

    class FixedClock(datetime):
        @classmethod
        def now(cls, tz=None):
            return RUN_AT

    pipeline.datetime = FixedClock  # the run time goes into the histories
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(folder / "warehouse.duckdb", Path(tmp) / "warehouse.duckdb")
        warehouse = Warehouse(Path(tmp) / "warehouse.duckdb")
        pipeline.run_linkage(warehouse, options=pipeline.LinkageOptions(charts=False, train="never"),
                             model_dir=folder / "linkage_models")
        with duckdb.connect(str(warehouse.path), read_only=True) as con:
            tables = con.execute("SELECT table_schema, table_name FROM information_schema.tables "
                                 f"WHERE table_schema IN {SCHEMAS} ORDER BY ALL").fetchall()
            for schema, name in tables:
                con.execute(f"COPY {schema}.\"{name}\" TO '{out / f'{schema}.{name}.parquet'}' (FORMAT parquet)")
    print(f"dumped {len(tables)} tables to {out}")


def _canonical(value):
    """A value with list and map elements in a fixed order, hashable."""
    if isinstance(value, dict):
        return tuple(sorted(((_canonical(k), _canonical(v)) for k, v in value.items()), key=repr))
    if isinstance(value, list | tuple):
        return tuple(sorted((_canonical(v) for v in value), key=repr))
    return value


def _rows(path: Path) -> tuple[list[str], Counter]:
    with duckdb.connect() as con:
        rel = con.sql(f"SELECT * FROM '{path}'")
        columns = rel.columns
        order = sorted(range(len(columns)), key=lambda i: columns[i])
        typed = [f"{columns[i]} {rel.types[i]}" for i in order]
        rows = Counter(tuple(_canonical(row[i]) for i in order) for row in rel.fetchall())
    return typed, rows


def compare(a: Path, b: Path) -> bool:
    names_a = {p.name for p in a.glob("*.parquet")}
    names_b = {p.name for p in b.glob("*.parquet")}
    same = names_a == names_b
    if not same:
        print(f"tables only in {a}: {sorted(names_a - names_b)}; only in {b}: {sorted(names_b - names_a)}")
    for name in sorted(names_a & names_b):
        cols_a, rows_a = _rows(a / name)
        cols_b, rows_b = _rows(b / name)
        if cols_a != cols_b:
            print(f"{name}: columns or types differ: {sorted(set(cols_a) ^ set(cols_b))}")
            same = False
            continue
        only_a, only_b = rows_a - rows_b, rows_b - rows_a
        n = sum(rows_a.values())
        if only_a or only_b:
            same = False
            print(f"{name}: {n:,} rows vs {sum(rows_b.values()):,}; {sum(only_a.values())} only in the first, "
                  f"{sum(only_b.values())} only in the second, e.g. {next(iter(only_a or only_b))}")
        else:
            print(f"{name}: identical ({n:,} rows, {len(cols_a)} columns)")
    print("SAME" if same else "DIFFERENT")
    return same


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("folder", type=Path)
    p.add_argument("--seed", type=int, default=101)
    p.add_argument("--scale", type=int, default=300)
    p.add_argument("--difficulty", default="hard")
    p.add_argument("--psa", default="autotask")
    p.add_argument("--rmm", nargs="+", default=["datto_rmm", "ninjaone"])
    d = sub.add_parser("dump")
    d.add_argument("folder", type=Path)
    d.add_argument("out", type=Path)
    c = sub.add_parser("compare")
    c.add_argument("a", type=Path)
    c.add_argument("b", type=Path)
    args = parser.parse_args()
    if args.command == "prepare":
        if args.seed not in range(101, 104) and args.seed not in range(401, 421):
            parser.error("tuning seeds only: 101-103 or 401-420")
        prepare(args.folder, args.seed, args.scale, args.difficulty, args.psa, tuple(args.rmm))
    elif args.command == "dump":
        dump(args.folder, args.out)
    elif not compare(args.a, args.b):
        sys.exit(1)


if __name__ == "__main__":
    main()
