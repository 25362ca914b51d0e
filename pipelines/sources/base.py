"""What every source module provides, and how pages of wire records become typed frames.

A source is data, not a branch: a module in `pipelines/sources/` defines its `Resource`s (one raw table each) and
one `Source` named `SOURCE`, which declares everything else about the system (kind, env vars, rate-limit variable,
staged entities, IT Glue integration type, certain links). `pipelines.sources` finds it by scanning the package;
every list of systems (linkage roles, CLI choices, the demo, docs tables, `about.systems`) derives from there.
"""

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import polars as pl

from pipelines.sources.http import AuthError, RateBudget

Record = dict[str, Any]
# The type of every raw timestamp column and of extracted_at: microseconds, UTC.
UTC_DATETIME = pl.Datetime("us", "UTC")

KINDS = ("documentation", "psa", "rmm")
# entity type -> its staging table (and IT Glue resource): the one map of the three entities.
ENTITY_TABLES = {"organization": "organizations", "configuration": "configurations", "contact": "contacts"}


def text(value: Any) -> str | None:
    """A wire value as text; None and "" (vendors send both for "no value") are None."""
    return None if value is None or value == "" else str(value)


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
            pl.lit(extracted_at, dtype=UTC_DATETIME).alias("extracted_at"),
        )

    def empty_frame(self) -> pl.DataFrame:
        return self.to_frame([], datetime.now(UTC))


@dataclass
class Extraction:
    """What one source's extraction produced: a frame per raw table, plus request counts for the run's metadata."""

    source: str
    frames: dict[str, pl.DataFrame]
    stats: dict[str, Any]


async def optional_lookup(fetch: Awaitable[list[Record]], what: str, warnings: list[str]) -> list[Record]:
    """A lookup the records do not need (a picklist, categories, an enrichment) that the API user may lack the
    permission for: when the API refuses it (401/403), its fields stay empty and one line is added to `warnings`,
    which the source puts in the run's metadata (`Extraction.stats["warnings"]`).

    Only a refusal is forgiven. A server error that outlasted the retries, or a malformed answer, fails the source
    like a failure of the records themselves: the lookup answered last week, so emptying its fields now would
    replace good data with partial data (the previous tables are kept and the next run tries again)."""
    try:
        return await fetch
    except AuthError as exc:
        warnings.append(f"{what} could not be read, so its fields are empty: {exc}")
        return []


async def numbered_pages(page: Callable[[int], Awaitable[tuple[int, list[Record]]]],
                         page_size: int) -> tuple[int, list[Record]]:
    """For lists paged by a 1-based page number whose first page gives the total (HaloPSA, N-central): page 1 first,
    then all the others concurrently. (the total page 1 gave, every record in page order); checking that the
    records add up to the total, and what to say when not, is the source's."""
    total, records = await page(1)
    for _, more in await asyncio.gather(*(page(n) for n in range(2, -(-total // page_size) + 1))):
        records.extend(more)
    return total, records


def with_warnings(stats: dict[str, Any], warnings: list[str]) -> dict[str, Any]:
    """Stats with the run's warnings as one metadata line (absent when there are none)."""
    return {**stats, "warnings": " | ".join(warnings)} if warnings else stats


# previous(table) -> the table as it stands in the warehouse, or None; lets a source extract incrementally.
PreviousTables = Callable[[str], pl.DataFrame | None]


@dataclass(frozen=True)
class RateLimit:
    """The variable a user sets to lower (or raise) the request budget: requests per `window_seconds`."""

    env: str
    window_seconds: float
    unit: str  # how the README and errors name the window: "5 minutes", "minute", ...

    def budget(self, value: str, default: RateBudget) -> RateBudget:
        try:
            limit = int(value)
        except ValueError:
            limit = 0
        if limit < 1:
            raise ValueError(f"{self.env} must be a whole number of requests per {self.unit}, not {value!r}")
        return RateBudget.within(limit, self.window_seconds, default.concurrency)


@dataclass(frozen=True)
class Source:
    """A system msp-recon reads, declared once: everything that lists systems derives from these fields.

    `required_env` must all be set for the source to be on; `optional_env` have defaults (usually the URL);
    `secrets` are the variables that are credentials (never printed, never copied). `rate_limit` names the variable
    that sets the budget and its unit (declared there only: it is one of the source's optional variables, empty by
    default); `default_budget` applies when it is unset. `staged` are the staging tables it
    has a SELECT for (`sql/staging/<name>/<table>.sql`). `itglue_integration_type` is IT Glue's
    `psa_integration_type`/`rmm_integration_type` value for it (None: IT Glue has no native integration).
    `psa_link_target` is the PSA whose company ids its organizations carry (a certain link: Datto RMM's
    `autotaskCompanyId`). `extract(config, previous)` returns an Extraction; `config` maps env var names to values.
    """

    name: str
    kind: str  # one of KINDS
    required_env: tuple[str, ...]
    optional_env: Mapping[str, str]
    resources: tuple[Resource, ...]
    extract: Callable[[Mapping[str, str], PreviousTables], Awaitable[Extraction]]
    description: str = ""
    title: str = ""  # the vendor's product name, for people ("Datto RMM")
    secrets: tuple[str, ...] = ()
    rate_limit: RateLimit | None = None
    default_budget: RateBudget | None = None
    staged: tuple[str, ...] = ()
    itglue_integration_type: str | None = None
    psa_link_target: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"source {self.name}: kind must be one of {KINDS}, not {self.kind!r}")
        unknown = set(self.staged) - set(ENTITY_TABLES.values())
        if unknown:
            raise ValueError(f"source {self.name}: staged tables {sorted(unknown)} are not staging tables")
        if self.rate_limit and self.rate_limit.env in (*self.required_env, *self.optional_env):
            raise ValueError(f"source {self.name}: {self.rate_limit.env} is declared by rate_limit; "
                             "do not list it in required_env or optional_env too")
        env = self.env
        for var in self.secrets:
            if var not in env:
                raise ValueError(f"source {self.name}: {var} is not one of its env vars")

    @property
    def defaults(self) -> dict[str, str]:
        """Every optional variable with its default, the rate-limit variable included (empty: the vendor's limit)."""
        return {**self.optional_env, **({self.rate_limit.env: ""} if self.rate_limit else {})}

    @property
    def env(self) -> tuple[str, ...]:
        """Every variable of the source, required first."""
        return (*self.required_env, *self.defaults)

    def budget(self, config: Mapping[str, str]) -> RateBudget:
        """The budget for one run: the rate-limit variable when set, else the vendor's published limit."""
        if self.default_budget is None:
            raise ValueError(f"source {self.name} declares no default budget")
        if self.rate_limit and config.get(self.rate_limit.env):
            return self.rate_limit.budget(config[self.rate_limit.env], self.default_budget)
        return self.default_budget

    def config_from(self, env: Mapping[str, str]) -> dict[str, str] | None:
        """The source's settings from env, or None when the source is off (a required var is unset or empty)."""
        if not all(env.get(k) for k in self.required_env):
            return None
        config = {k: env[k] for k in self.required_env}
        for key, default in self.defaults.items():
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
