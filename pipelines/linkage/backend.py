"""Where Splink runs. Everything else in `pipelines.linkage` asks this module for a `LinkageEngine` and never names a
backend, so moving a tenant too large for one machine to Spark is a change here, not in the models.

- ``duckdb`` (default): an in-memory DuckDB; the model inputs, Splink's scratch tables and the marts SQL share one
  connection, so nothing is copied between them.
- ``spark``: Splink's SparkAPI on a local or remote Spark session (``pip install 'msp-recon[spark]'``, Java 17).
  Model inputs are prepared in DuckDB and handed to Spark as Arrow; predictions and clusters come back as Arrow, and
  the marts SQL still runs in DuckDB. The JVM takes about 20 s to start, so it only pays off for very large tenants.
"""

import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import duckdb
import polars as pl
import pyarrow as pa
from splink.internals.splink_dataframe import SplinkDataFrame

Backend = Literal["duckdb", "spark"]

# Input table names, unique in the process: a Spark session outlives the engine (getOrCreate hands the next run the
# same session, whose temporary views are still there), so a per-engine count would name last run's table again.
_table_numbers = itertools.count(1)


@dataclass
class LinkageEngine:
    """A Splink database API plus the DuckDB connection that prepares inputs and builds the marts."""

    backend: Backend
    db_api: Any
    con: duckdb.DuckDBPyConnection
    memory_limit: str = ""  # DuckDB's, as set on `con`
    spill_dir: Path | None = None  # where DuckDB spills past memory_limit; removed on close

    def register(self, local_table: str, display_name: str) -> SplinkDataFrame:
        """Hand a table of `con` to Splink as one input dataset."""
        name = f"{display_name}_{next(_table_numbers)}"
        if self.backend == "duckdb":
            return self.db_api.register(local_table, dataset_display_name=display_name, table_name=name)
        # Spark 4 takes and gives Arrow tables directly (no pandas in between)
        arrow = self.con.sql(f"SELECT * FROM {local_table}").to_arrow_table()
        spark_df = self.db_api.spark.createDataFrame(arrow)
        return self.db_api.register(spark_df, dataset_display_name=display_name, table_name=name)

    @contextmanager
    def scan(self, value: object, alias: str = "_incoming") -> Iterator[str]:
        """A name `con` can SELECT from for an input: a table name as given (a table the connection reads itself,
        such as an attached warehouse's), or a polars/Arrow frame, a Parquet dataset or a stream registered as
        `alias` for the duration (scanned where it is, not copied into Python)."""
        if isinstance(value, str):
            yield value
            return
        self.con.register(alias, value.to_arrow() if isinstance(value, pl.DataFrame) else value)
        try:
            yield alias
        finally:
            self.con.unregister(alias)

    def fetch(self, sdf: SplinkDataFrame, local_table: str, columns: str = "*", where: str = "") -> None:
        """Materialise a Splink result as a table of `con` (a no-copy CREATE TABLE AS on DuckDB)."""
        filt = f" WHERE {where}" if where else ""
        if self.backend == "duckdb":
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE {local_table} AS "
                             f"SELECT {columns} FROM {sdf.physical_name}{filt}")
            return
        arrow: pa.Table = sdf.as_spark_dataframe().toArrow()
        self.con.register("_fetched", arrow)
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {local_table} AS SELECT {columns} FROM _fetched{filt}")
        self.con.unregister("_fetched")

    def close(self) -> None:
        self.con.close()
        if self.spill_dir is not None:
            shutil.rmtree(self.spill_dir, ignore_errors=True)


def local_spark_session(master: str | None = None) -> Any:
    """A Spark session for Splink: `master` (or RECON_SPARK_MASTER; default `local[2]`, Spark inside this process's
    JVM on two cores), with Splink's similarity UDF jar. Give `spark://host:7077`, `yarn` or `k8s://...` to run on a
    cluster; any other Spark setting comes from the usual SPARK_CONF_DIR/spark-defaults.conf."""
    from pyspark.sql import SparkSession
    from splink.backends.spark import similarity_jar_location

    master = master or os.environ.get("RECON_SPARK_MASTER") or "local[2]"
    builder = SparkSession.builder.master(master).appName("msp-recon linkage")
    builder = builder.config("spark.jars", similarity_jar_location())
    if master.startswith("local"):
        # a tenant on one machine: a few partitions, not Spark's 200 meant for clusters
        builder = builder.config("spark.sql.shuffle.partitions", "2").config("spark.ui.enabled", "false")
    return builder.getOrCreate()


def default_memory_limit() -> str:
    """DuckDB's memory for linkage: RECON_LINKAGE_MEMORY_LIMIT (a DuckDB size, "2GB"), else a tenth of the machine's
    memory, between 1 and 4 GB. DuckDB's own default (80% of the machine) lets one run take the memory every other
    process needs; past this limit DuckDB spills to disk instead. 1 GB keeps a million configurations under 2.5 GB
    with their staging frames, at a few seconds' cost (benchmarks/README.md)."""
    if limit := os.environ.get("RECON_LINKAGE_MEMORY_LIMIT", "").strip():
        return limit
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # not a POSIX system: the lower bound
        physical = 0
    return f"{min(4096, max(1024, physical // 10 // 2**20))}MiB"


def create_engine(backend: Backend = "duckdb", *, threads: int | None = None, memory_limit: str | None = None,
                  spark_session: Any = None) -> LinkageEngine:
    """A fresh engine. `threads`/`memory_limit` bound DuckDB (`memory_limit` defaults to default_memory_limit());
    `spark_session` is used as given for ``spark``."""
    if backend == "duckdb":
        from splink import DuckDBAPI

        db_api = DuckDBAPI()
        con = db_api.duckdb_con
    elif backend == "spark":
        try:
            from splink import SparkAPI
        except ImportError as exc:
            raise RuntimeError("the spark backend needs `pip install 'msp-recon[spark]'` (pyspark) and Java 17") from exc
        if spark_session is None:
            spark_session = local_spark_session()
        if spark_session.sparkContext.getCheckpointDir() is None:
            # Splink checkpoints intermediate tables to cut Spark's query plans short; it needs somewhere to put them
            spark_session.sparkContext.setCheckpointDir(tempfile.mkdtemp(prefix="msp-recon-spark-"))
        db_api = SparkAPI(spark_session=spark_session)
        con = duckdb.connect(":memory:")
    else:
        raise ValueError(f"unknown linkage backend {backend!r}: use 'duckdb' or 'spark'")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    memory_limit = memory_limit or default_memory_limit()
    con.execute("SET memory_limit = ?", [memory_limit])
    # Past memory_limit DuckDB spills an in-memory database to `.tmp` in the working directory: into the project, or
    # wherever the run was started. A folder of this run's own in the system's temp folder instead (TMPDIR moves it):
    # two runs at once do not share spill files, and a run's are gone when it ends
    spill = Path(tempfile.mkdtemp(prefix="msp-recon-linkage-spill-"))
    con.execute(f"SET temp_directory = '{spill.as_posix()}'")
    con.execute("SET preserve_insertion_order = false")
    return LinkageEngine(backend=backend, db_api=db_api, con=con, memory_limit=memory_limit, spill_dir=spill)
