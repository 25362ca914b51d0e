"""Extracting every source at once while the warehouse takes one write at a time.

Each source's extraction is mostly waiting on its own API and its own rate budget, so they run concurrently: the first
extract step of a run starts all the run's sources in one background event loop (`Prefetch`), and each source's own
step waits for its result and swaps its raw tables in. The run takes as long as its slowest source, each step still
succeeds or fails on its own source alone, and a failed source keeps its previous tables.

Every DuckDB access of extraction goes through `WRITER`, one lock for the process: the swaps of the steps, the reads of
previous tables and the checkpoints sources write from the background loop.

Checkpoints: what a source fetched before a failure is kept outside the atomic swap, and a successful swap publishes
the source's raw tables and empties its checkpoints. Two kinds:
- records a source keeps itself (Datto RMM's audits, one request each) in `cache.<table>` as they arrive, read back
  with the previous table by the next attempt, which then fetches only the rest;
- list pages and per-device details, for every source, in `cache.pages` (`checkpointed`): each request an
  ApiClient marks `resumable` is answered from there when an earlier attempt already fetched it.

Pages are reused only within `CHECKPOINT_HOURS` of the first kept page and only for the same settings (URL, account,
key). The window is the linkage's own freshness window, beyond which a source's tables would not count as this run's
anyway, and a resumed extraction's `extracted_at` is the time of its oldest reused page, so linkage judges the data
as old as it is. Within it, pages fetched hours apart must still add up, and a missed record is the dangerous error
(linkage reads a device missing from a complete extraction as deleted):
- keyset-paged lists (ConnectWise's forward-only `pageId`, NinjaOne's `after`, Autotask's `nextPageUrl`) and
  per-device details are reused as kept: a page asked for by the last id read holds whatever came after it since;
- offset-paged lists (`page_param`: IT Glue, Datto RMM, HaloPSA, N-central) move when a record before a page is
  added or removed. Their first page is always fetched (today's total, which the connector checks the count against),
  and a kept page followed by one not kept is fetched again and compared with its kept copy: the same bytes mean
  nothing moved before it; otherwise (`PagesShifted`) the kept pages are dropped and the extraction starts over once,
  fetching everything. (Automate's offset pages carry no total to check: they are never kept.)
An extraction whose pages do not add up (a MalformedResponse: a count that does not match its total) drops its kept
pages, so the next attempt fetches everything afresh instead of failing the same way.
"""

import asyncio
import hashlib
import os
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import Future
from datetime import datetime, timedelta

import httpx
import orjson
import polars as pl

from pipelines.sources.base import Extraction, Source, utc_now
from pipelines.sources.http import PAGES, MalformedResponse, PageRef, PagesShifted
from pipelines.warehouse import Warehouse, replace_tables, run_script, table_exists

WRITER = threading.Lock()
CACHE_SCHEMA = "cache"
# Kept pages older than this are not reused: the linkage's freshness window (LinkageOptions.fresh_hours).
CHECKPOINT_HOURS = 12
# When kept pages are written: every FLUSH_SECONDS (a crash loses at most that much fetching) or FLUSH_BYTES,
# whichever comes first. Not every few pages: each write ends in a DuckDB checkpoint that rewrites the row group the
# pages are appended to, so its cost grows with what is kept already (0.09 s per write with 4 MB kept, 1.25 s with
# 228 MB: benchmarks/README.md, "10,000 clients"), and a write every 4 MB made the cache's cost quadratic.
FLUSH_SECONDS, FLUSH_BYTES = 30.0, 64 * 1024 * 1024
# Answers replayed from the cache carry these headers only (ConnectWise pages by its Link header).
KEPT_HEADERS = ("content-type", "link")


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
        if table_exists(con, CACHE_SCHEMA, "pages"):
            _forget_pages(con, extraction.source)


def _forget_pages(con, source: str) -> None:
    con.execute(f"DELETE FROM {CACHE_SCHEMA}.pages WHERE source = ?", [source])
    con.execute(f"DELETE FROM {CACHE_SCHEMA}.checkpoints WHERE source = ?", [source])


def settings_hash(config: Mapping[str, str], salt: bytes) -> str:
    """A slow salted hash of a source's settings: tells whether kept pages came from the same URL, account and key
    without keeping anything a password could be guessed back from."""
    text = orjson.dumps(dict(sorted(config.items())))
    return hashlib.scrypt(text, salt=salt, n=2**14, r=8, p=1, dklen=32).hex()


class SourcePages:
    """One source's kept pages for one attempt: the `PageStore` its ApiClients see (pipelines/sources/http.py)."""

    def __init__(self, store: Warehouse, source: str, kept: list[tuple], started_at: datetime):
        self.store, self.source, self.started_at = store, source, started_at
        # what earlier attempts kept, as this one found it (not as it adds to it)
        self.earlier = {request for request, _, _ in kept}
        self.kept_numbers: dict[str, set[int]] = {}
        for _, lst, number in kept:
            if lst is not None:
                self.kept_numbers.setdefault(lst, set()).add(number)
        self.pending: list[tuple] = []
        self.pending_bytes = 0
        self.flushed_at = time.monotonic()
        self.reused = 0
        self.oldest_reused: datetime | None = None

    @classmethod
    def open(cls, store: Warehouse, source: Source, config: Mapping[str, str],
             now: datetime | None = None) -> "SourcePages":
        """The pages an earlier attempt kept, when they are recent enough and came from the same settings; else a
        fresh checkpoint (the older one is dropped: its pages and, for other settings, its `cache.<table>` too)."""
        now = now or utc_now()
        settings = {k: v for k, v in config.items() if not source.rate_limit or k != source.rate_limit.env}
        with WRITER, store.connect() as con:
            run_script(con, "cache/checkpoints.sql")
            row = con.execute(f"SELECT settings_hash, salt, started_at FROM {CACHE_SCHEMA}.checkpoints "
                              "WHERE source = ?", [source.name]).fetchall()
            same = bool(row) and settings_hash(settings, bytes.fromhex(row[0][1])) == row[0][0]
            if same and row[0][2] >= now - timedelta(hours=CHECKPOINT_HOURS):
                kept = con.execute(f"SELECT request, list, page FROM {CACHE_SCHEMA}.pages WHERE source = ?",
                                   [source.name]).fetchall()
                return cls(store, source.name, kept, row[0][2])
            _forget_pages(con, source.name)
            if row and not same:  # another tenant's or URL's records: of no use to this one
                for table in source.tables:
                    if table_exists(con, CACHE_SCHEMA, table):
                        con.execute(f'DROP TABLE {CACHE_SCHEMA}."{table}"')
            salt = os.urandom(16)
            con.execute(f"INSERT INTO {CACHE_SCHEMA}.checkpoints VALUES (?, ?, ?, ?)",
                        [source.name, settings_hash(settings, salt), salt.hex(), now])
        return cls(store, source.name, [], now)

    def _at_edge(self, ref: PageRef | None) -> bool:
        """A kept page of a list whose next page was not kept: fetched again and compared."""
        return ref is not None and ref.number + 1 not in self.kept_numbers.get(ref.list, ())

    async def page(self, key: str, ref: PageRef | None) -> httpx.Response | None:
        if key not in self.earlier or self._at_edge(ref):
            return None
        found = await asyncio.to_thread(self._read, key)
        if found is None:
            return None
        status, content_type, link, body, fetched_at = found
        self.reused += 1
        self.oldest_reused = fetched_at if self.oldest_reused is None else min(self.oldest_reused, fetched_at)
        method, url, _ = key.split(" ", 2)
        headers = {k: v for k, v in (("content-type", content_type), ("link", link)) if v is not None}
        return httpx.Response(status, headers=headers, content=body, request=httpx.Request(method, url))

    def _read(self, key: str):
        with WRITER, self.store.connect() as con:
            rows = con.execute(f"SELECT status, content_type, link, body, fetched_at FROM {CACHE_SCHEMA}.pages "
                               "WHERE source = ? AND request = ? LIMIT 1", [self.source, key]).fetchall()
        return rows[0] if rows else None

    async def keep(self, key: str, response: httpx.Response, ref: PageRef | None) -> None:
        if key in self.earlier:  # read again to check it (the page before the first not kept): kept already
            kept = await asyncio.to_thread(self._read, key)
            if kept is not None and bytes(kept[3]) != response.content:
                raise PagesShifted(f"{self.source}: a page kept by the failed attempt reads otherwise now "
                                   "(records added or removed since); fetching everything again")
            return
        self.pending.append((self.source, key, ref.list if ref else None, ref.number if ref else None,
                             response.status_code, response.headers.get("content-type"),
                             response.headers.get("link"), response.content, utc_now()))
        self.pending_bytes += len(response.content)
        if self.pending_bytes >= FLUSH_BYTES or time.monotonic() - self.flushed_at >= FLUSH_SECONDS:
            await self.flush()

    async def flush(self) -> None:
        self.flushed_at = time.monotonic()
        if self.pending:
            pending, self.pending, self.pending_bytes = self.pending, [], 0
            await asyncio.to_thread(self._write, pending)

    def _write(self, rows: list[tuple]) -> None:
        with WRITER, self.store.connect() as con:
            con.executemany(f"INSERT INTO {CACHE_SCHEMA}.pages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)

    def forget(self) -> None:
        """Drop every kept page of the source (they do not add up): the next attempt starts afresh."""
        self.pending, self.pending_bytes = [], 0
        with WRITER, self.store.connect() as con:
            _forget_pages(con, self.source)


async def checkpointed(store: Warehouse, source: Source, config: Mapping[str, str],
                       job: Callable[[], Awaitable[Extraction]]) -> Extraction:
    """Run one source's extraction with its kept pages (`SourcePages`): requests its connector marks `resumable`
    that an earlier attempt answered are not sent again, and those it sends are kept as they arrive."""
    pages = await asyncio.to_thread(SourcePages.open, store, source, config)
    try:
        extraction = await _with_pages(pages, job)
    except PagesShifted:  # the kept pages no longer line up: once more, from nothing
        await asyncio.to_thread(pages.forget)
        pages = await asyncio.to_thread(SourcePages.open, store, source, config)
        extraction = await _with_pages(pages, job)
    extraction.stats["pages_reused"] = pages.reused
    if pages.oldest_reused is not None:
        # The data is as old as its oldest page: said so to linkage's freshness rule, not hidden behind today's date.
        oldest = pl.lit(pages.oldest_reused, dtype=pl.Datetime("us", "UTC"))
        extraction.frames = {table: frame.with_columns(pl.min_horizontal("extracted_at", oldest).alias("extracted_at"))
                             if "extracted_at" in frame.columns else frame
                             for table, frame in extraction.frames.items()}
    return extraction


async def _with_pages(pages: SourcePages, job: Callable[[], Awaitable[Extraction]]) -> Extraction:
    token = PAGES.set(pages)
    try:
        return await job()
    except MalformedResponse:
        await asyncio.to_thread(pages.forget)
        raise
    except BaseException:
        await pages.flush()  # what the failed attempt fetched since the last write, for the next attempt
        raise
    finally:
        # A complete extraction's pending pages are not written: its swap drops every kept page of the source at
        # once, so writing them first only cost the run (35 MB of Autotask pages at 2,000 clients, written and
        # deleted again on every unchanged week). Until the swap, a killed run still has what was written every
        # FLUSH_SECONDS.
        PAGES.reset(token)


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
