"""What every source module provides, and how pages of wire records become typed frames.

A source is data, not a branch: a module defines its `Resource`s (one raw table each) and one `Source`,
and `pipelines.sources.SOURCES` lists it. Nothing else needs to change to add a system.
"""

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import polars as pl

Record = dict[str, Any]


@dataclass(frozen=True, eq=False)  # identity hash: a Resource can key a dict
class Resource:
    """One raw table: `raw.<source>_<name>`, typed columns pulled out of each wire record by `flatten`."""

    source: str
    name: str
    schema: Mapping[str, pl.DataType]
    flatten: Callable[[Record], Record]

    @property
    def table(self) -> str:
        return f"{self.source}_{self.name}"

    def to_frame(self, records: list[Record], extracted_at: datetime) -> pl.DataFrame:
        """Typed columns, the full original JSON (`raw_json`) and `extracted_at`, one row per record."""
        rows = [self.flatten(r) for r in records]
        frame = pl.DataFrame(rows, schema=dict(self.schema), orient="row" if not rows else None, strict=False) \
            if rows else pl.DataFrame(schema=dict(self.schema))
        return frame.with_columns(
            pl.Series("raw_json", [orjson.dumps(r).decode() for r in records], dtype=pl.String),
            pl.lit(extracted_at, dtype=pl.Datetime("us", "UTC")).alias("extracted_at"),
        )

    def empty_frame(self) -> pl.DataFrame:
        return self.to_frame([], datetime.now(UTC))


@dataclass
class Extraction:
    """What one source's extraction produced: a frame per raw table, plus request counts for the run's metadata."""

    source: str
    frames: dict[str, pl.DataFrame]
    stats: dict[str, Any]


# previous(table) -> the table as it stands in the warehouse, or None; lets a source extract incrementally.
PreviousTables = Callable[[str], pl.DataFrame | None]


@dataclass(frozen=True)
class Source:
    """A system msp-recon reads: its name (contract `source` value), env vars and resources.

    `required_env` must all be set for the source to be on; `optional_env` have defaults (usually the URL).
    `extract(config, previous)` returns an Extraction; `config` maps env var names to values.
    """

    name: str
    kind: str  # "documentation", "psa" or "rmm"
    required_env: tuple[str, ...]
    optional_env: Mapping[str, str]
    resources: tuple[Resource, ...]
    extract: Callable[[Mapping[str, str], PreviousTables], Awaitable[Extraction]]
    description: str = ""

    def config_from(self, env: Mapping[str, str]) -> dict[str, str] | None:
        """The source's settings from env, or None when the source is off (a required var is unset or empty)."""
        if not all(env.get(k) for k in self.required_env):
            return None
        config = {k: env[k] for k in self.required_env}
        for key, default in self.optional_env.items():
            config[key] = env.get(key) or default
        return config

    @property
    def tables(self) -> tuple[str, ...]:
        return tuple(r.table for r in self.resources)


def utc_now() -> datetime:
    return datetime.now(UTC)


def parse_timestamp(value: Any) -> datetime | None:
    """ISO-8601 strings (with Z or offset) and epoch seconds or milliseconds, as UTC datetimes."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 10**11 else value
        return datetime.fromtimestamp(seconds, UTC)
    text = str(value)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
