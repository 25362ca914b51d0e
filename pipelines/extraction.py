"""Extracting every source at once while the warehouse takes one write at a time.

Each source's extraction is mostly waiting on its own API and its own rate budget, so they run concurrently: the first
extract step of a run starts all the run's sources in one background event loop (`Prefetch`), and each source's own
step waits for its result and swaps its raw tables in. The run takes as long as its slowest source, each step still
succeeds or fails on its own source alone, and a failed source keeps its previous tables.

Every DuckDB access of extraction goes through `WRITER`, one lock for the process: the swaps of the steps, the reads of
previous tables and the checkpoints sources write from the background loop.

Checkpoints: what a source fetched before a failure (Datto RMM's audits, one request each) is kept outside the atomic
swap in `cache.<table>` as it arrives, and read back with the previous table by the next attempt, which then fetches
only the rest. A successful swap publishes it in `raw.<table>` and empties the cache.
"""

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future

import polars as pl

from pipelines.sources.base import Extraction
from pipelines.warehouse import Warehouse, replace_tables, table_exists

WRITER = threading.Lock()
CACHE_SCHEMA = "cache"


class WarehouseTables:
    """`previous(table)` for a source: the table as the warehouse holds it, plus the rows a failed attempt checkpointed
    with `keep(table, frame)` (last, so they win over older rows of the same record)."""

    def __init__(self, store: Warehouse):
        self.store = store

    def __call__(self, table: str) -> pl.DataFrame | None:
        with WRITER, self.store.connect() as con:
            frames = [con.sql(f'SELECT * FROM {schema}."{table}"').pl() for schema in ("raw", CACHE_SCHEMA)
                      if table_exists(con, schema, table)]
        if len(frames) == 2 and frames[0].columns != frames[1].columns:
            frames = frames[:1]  # the raw table changed shape since: the checkpoint is of no use
        return pl.concat(frames, how="vertical_relaxed") if frames else None

    def keep(self, table: str, frame: pl.DataFrame) -> None:
        """Append rows fetched so far to cache.<table>, committed at once: they survive the run failing later."""
        if frame.is_empty():
            return
        with WRITER, self.store.connect() as con:
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {CACHE_SCHEMA}")
            con.register("_kept", frame.to_arrow())
            if table_exists(con, CACHE_SCHEMA, table):
                con.execute(f'INSERT INTO {CACHE_SCHEMA}."{table}" BY NAME SELECT * FROM _kept')
            else:
                con.execute(f'CREATE TABLE {CACHE_SCHEMA}."{table}" AS SELECT * FROM _kept')
            con.unregister("_kept")


def swap(store: Warehouse, extraction: Extraction) -> None:
    """Publish a complete extraction: every raw table of the source at once, then drop its checkpoints."""
    with WRITER, store.connect() as con:
        replace_tables(con, "raw", extraction.frames)
        for table in extraction.frames:
            if table_exists(con, CACHE_SCHEMA, table):
                con.execute(f'DROP TABLE {CACHE_SCHEMA}."{table}"')


class Prefetch:
    """Extractions running concurrently in one background event loop; `take(name)` waits for one and returns it (or
    raises its error). Each extraction has its own ApiClient, so each keeps to its own API's budget."""

    def __init__(self, jobs: dict[str, Callable[[], Awaitable[Extraction]]]):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="extract-sources", daemon=True)
        self.thread.start()
        self.started = time.monotonic()
        self.seconds: dict[str, float] = {}
        self.futures: dict[str, Future] = {name: asyncio.run_coroutine_threadsafe(self._timed(name, job), self.loop)
                                           for name, job in jobs.items()}

    async def _timed(self, name: str, job: Callable[[], Awaitable[Extraction]]) -> Extraction:
        try:
            extraction = await job()
        finally:
            self.seconds[name] = time.monotonic() - self.started
        extraction.stats["seconds_extracting"] = round(self.seconds[name], 2)
        return extraction

    def take(self, name: str) -> Extraction:
        """The source's extraction, or its own error (the others go on)."""
        future = self.futures[name]
        try:
            return future.result()
        finally:
            del self.futures[name]
            if not self.futures:
                self.close()

    def cancel(self) -> None:
        """Stop every extraction still running (the run was interrupted)."""
        for future in self.futures.values():
            future.cancel()
        self.futures.clear()
        self.close()

    def close(self) -> None:
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)


_RUNS: dict[str, Prefetch] = {}
_RUNS_LOCK = threading.Lock()


def take_for_run(run_id: str, name: str, jobs: Callable[[], dict[str, Callable[[], Awaitable[Extraction]]]]
                 ) -> Extraction:
    """One source's extraction in a run whose sources all extract at once: the run's first extract step starts them
    all (`jobs()`: every source the run extracts, this one included, each a coroutine function), and each step takes
    its own."""
    with _RUNS_LOCK:
        prefetch = _RUNS.get(run_id)
        if prefetch is None:
            prefetch = _RUNS[run_id] = Prefetch(jobs())
        elif name not in prefetch.futures:  # a step run again within the same run: fetch its source alone
            prefetch = Prefetch({name: jobs()[name]})
    try:
        return prefetch.take(name)
    except BaseException as exc:
        if not isinstance(exc, Exception):  # interrupted (Ctrl-C, termination): stop the other sources too
            prefetch.cancel()
        raise
    finally:
        with _RUNS_LOCK:
            if not prefetch.futures and _RUNS.get(run_id) is prefetch:
                del _RUNS[run_id]
