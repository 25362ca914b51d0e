"""Progress of long extraction work (Datto RMM's audits: one request each, 40,000 at 600 a minute is an hour),
reported from the connector through Dagster to whoever follows the run.

A connector calls `report("audits", done, total)`; outside a run nothing happens. Inside one, the extraction runs
in the run's background loop (pipelines/extraction.py) under `reporting(run_id, source, job)`, and the source's own
extract step, while it waits, is `attached` with its `context.log`: the report becomes a Dagster log message of that
step (`progress: 12,400 / 40,000 audits, 38 min left at 600/min`), which the run's event log keeps, the UI shows and
`msp-recon run`/`demo` render in the step's line (pipelines/runner.py reads it back). Reports arriving before the
step started are held and the latest one is logged when it attaches. At most one message every `EVERY` seconds per
source, plus the last one, so that 40,000 audits make a few hundred log lines, not 40,000.
"""

import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

PREFIX = "progress: "
EVERY = 5.0  # seconds between two messages of one source

_current: ContextVar["_Reporter | None"] = ContextVar("msp_recon_progress", default=None)
_reporters: dict[tuple[str, str], "_Reporter"] = {}
_lock = threading.Lock()


def line(what: str, done: int, total: int, per_minute: float | None) -> str:
    """`12,400 / 40,000 audits, 38 min left at 600/min` (no rate or time left until there is a rate)."""
    text = f"{done:,} / {total:,} {what}"
    if per_minute and done < total:
        minutes = (total - done) / per_minute
        left = f"{minutes:.0f} min" if minutes >= 1 else f"{minutes * 60:.0f} s"
        text += f", {left} left at {per_minute:,.0f}/min"
    return text


class _Reporter:
    def __init__(self, key: tuple[str, str], clock: Callable[[], float] = time.monotonic):
        self.key, self.clock = key, clock
        self.log: Callable[[str], None] | None = None
        self.pending: str | None = None
        self.started: tuple[float, int] | None = None
        self.last_logged = float("-inf")

    def report(self, what: str, done: int, total: int) -> None:
        now = self.clock()
        if self.started is None:
            self.started = (now, done)
        since, first = self.started
        per_minute = (done - first) / (now - since) * 60 if now > since and done > first else None
        message = PREFIX + line(what, done, total, per_minute)
        with _lock:
            self.pending = message
            if self.log is not None and (done >= total or now - self.last_logged >= EVERY):
                self._flush(now)

    def _flush(self, now: float) -> None:
        if self.log is not None and self.pending is not None:
            self.log(self.pending)
            self.pending, self.last_logged = None, now


def report(what: str, done: int, total: int) -> None:
    """`done` of `total` `what` ("audits"), from inside a source's extraction; a no-op outside a run."""
    reporter = _current.get()
    if reporter is not None:
        reporter.report(what, done, total)


def _reporter(run_id: str, source: str) -> _Reporter:
    with _lock:
        return _reporters.setdefault((run_id, source), _Reporter((run_id, source)))


async def reporting(run_id: str, source: str, job: Callable[[], Awaitable]):
    """Await `job()` with `report` going to the source's step of this run (tasks it starts inherit it)."""
    token = _current.set(_reporter(run_id, source))
    try:
        return await job()
    finally:
        _current.reset(token)


@contextmanager
def attached(run_id: str, source: str, log: Callable[[str], None]) -> Iterator[None]:
    """While the source's step waits for its extraction: its reports go to `log` (the step's context.log.info)."""
    reporter = _reporter(run_id, source)
    with _lock:
        reporter.log = log
        reporter._flush(reporter.clock())
    try:
        yield
    finally:
        with _lock:
            reporter.log = None
            _reporters.pop((run_id, source), None)
