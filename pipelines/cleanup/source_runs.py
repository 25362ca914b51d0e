"""A source that silently went off must not reshape the cleanup batch.

When a source's credentials vanish (a `.env` line deleted, a secret rotated out of the environment), the source is
"off": its step succeeds and its old raw tables stay. A batch proposed then would replace the previous one on evidence
that is no longer refreshed, dropping or retargeting every action that rested on that source. So each proposing run
records which sources were on (`audit.source_runs`), and a source on in the previous proposing run and off now stops
the proposal in one line naming it and its variables; the previous batch stays. A source retired on purpose is named
in RECON_RETIRED_SOURCES (comma-separated) for one run, which records it as off.
"""

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import duckdb

from pipelines.cleanup import CleanupError
from pipelines.sources.base import Source
from pipelines.warehouse import run_script

RETIRED_VARIABLE = "RECON_RETIRED_SOURCES"


def retired(settings: Mapping[str, str]) -> set[str]:
    return {name.strip() for name in (settings.get(RETIRED_VARIABLE) or "").split(",") if name.strip()}


def previous_on(con: duckdb.DuckDBPyConnection) -> tuple[str | None, set[str]]:
    """The latest proposing run and the sources that were on in it."""
    run_script(con, "audit/source_runs.sql")
    latest = con.execute("SELECT run_id FROM audit.source_runs ORDER BY recorded_at DESC LIMIT 1").fetchall()
    if not latest:
        return None, set()
    run_id = latest[0][0]
    return run_id, {r[0] for r in con.execute(
        "SELECT source FROM audit.source_runs WHERE run_id = ? AND is_on", [run_id]).fetchall()}


def check_and_record(con: duckdb.DuckDBPyConnection, sources: Sequence[Source], settings: Mapping[str, str],
                     run_id: str) -> None:
    """Raise CleanupError (one line) when a source on in the previous proposing run is off now and not retired;
    otherwise record which sources are on in this run."""
    on_now = {s.name for s in sources if s.config_from(settings) is not None}
    last_run, last_on = previous_on(con)
    gone = [s for s in sources if s.name in last_on - on_now - retired(settings)]
    if gone:
        raise CleanupError("; ".join(
            f"{s.name} was on in the previous run ({last_run}) and is off now: "
            f"{', '.join(v for v in s.required_env if not settings.get(v))} not set" for s in gone)
            + f". No cleanup batch is proposed, so the previous batch stands: set the variables again, or if "
              f"{'they are' if len(gone) > 1 else 'it is'} gone for good run once with "
              f"{RETIRED_VARIABLE}={','.join(s.name for s in gone)}")
    now = datetime.now(UTC)
    con.executemany("INSERT OR REPLACE INTO audit.source_runs VALUES (?, ?, ?, ?)",
                    [(run_id, s.name, s.name in on_now, now) for s in sources])
