"""Where things live and how configuration is read: environment variables first, then the project's `.env`.

An empty value counts as unset (contract). Paths default to folders inside the project. RECON_ENV_FILE names another
`.env` to read instead of the project's (the test suite points it at a file that does not exist).
"""

import math
import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import dotenv_values

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_WAREHOUSE = PROJECT_ROOT / "data" / "warehouse.duckdb"
DEFAULT_DAGSTER_HOME = PROJECT_ROOT / "dagster_home"
ENV_FILE_VARIABLE = "RECON_ENV_FILE"
# Settings of msp-recon itself; each source's own variables start with its name (ITGLUE_, DATTO_RMM_, ...).
OWN_PREFIX = "RECON_"


def env_file() -> Path:
    """The `.env` read under the process environment: RECON_ENV_FILE when set, else the project's."""
    return Path(os.environ.get(ENV_FILE_VARIABLE) or PROJECT_ROOT / ".env").expanduser()


def environment() -> dict[str, str]:
    """The effective settings: `.env` values under the process environment, empty values dropped."""
    merged: dict[str, str] = {}
    path = env_file()
    if path.is_file():
        merged.update({k: v for k, v in dotenv_values(path).items() if v})
    merged.update({k: v for k, v in os.environ.items() if v})
    return merged


def contract_prefixes() -> tuple[str, ...]:
    """Prefixes of every variable the contract reads: RECON_ plus one per registered source (from the registry,
    so a new source is covered by adding it there). DAGSTER_HOME is the one contract variable outside them."""
    from pipelines.sources import all_sources

    return (OWN_PREFIX, *(f"{source.name.upper()}_" for source in all_sources()))


def is_contract_variable(name: str) -> bool:
    return name == "DAGSTER_HOME" or name.startswith(contract_prefixes())


def warehouse_path() -> Path:
    return Path(environment().get("RECON_WAREHOUSE") or DEFAULT_WAREHOUSE).expanduser().resolve()


def ensure_dagster_home() -> Path:
    """DAGSTER_HOME as an absolute path (Dagster requires one), defaulting to the project's dagster_home/."""
    home = Path(environment().get("DAGSTER_HOME") or DEFAULT_DAGSTER_HOME).expanduser().resolve()
    home.mkdir(parents=True, exist_ok=True)
    # A DAGSTER_HOME elsewhere gets the project's instance settings (one run at a time, no telemetry).
    if not (home / "dagster.yaml").exists():
        shutil.copyfile(DEFAULT_DAGSTER_HOME / "dagster.yaml", home / "dagster.yaml")
    os.environ["DAGSTER_HOME"] = str(home)
    return home


# ---- values: each parsed by one function here, used by the code that needs it and by `validate` ----------------

DEFAULT_RETRY_BUDGET_SECONDS = 900.0  # a 429 storm may last minutes (IT Glue's budget is shared with other tools)


class SettingsError(ValueError):
    """Settings that cannot be used: one line per bad value, naming the variable, its value and what it takes."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def _parse(env: Mapping[str, str], name: str, kind: type, ok: Callable[[float], bool], takes: str):
    text = env.get(name)
    if not text:
        return None
    try:
        value = kind(text.strip())
    except ValueError:
        value = None
    if value is None or not math.isfinite(value) or not ok(value):
        raise SettingsError([f"{name}={text} is not {takes}"])
    return value


def retry_budget_seconds(env: Mapping[str, str] | None = None) -> float:
    """RECON_RETRY_BUDGET_SECONDS: how long a request is retried while its API throttles (429), per request."""
    value = _parse(environment() if env is None else env, "RECON_RETRY_BUDGET_SECONDS", float, lambda v: v > 0,
                   "a number of seconds above 0 (how long to ride out a 429 storm; default 900)")
    return DEFAULT_RETRY_BUDGET_SECONDS if value is None else value


def cleanup_max_share(env: Mapping[str, str], default: float) -> float:
    value = _parse(env, "RECON_CLEANUP_MAX_SHARE", float, lambda v: 0 <= v <= 1,
                   "a share between 0 and 1 (0.10 = 10% of an entity type's IT Glue records)")
    return default if value is None else value


def cleanup_max_actions(env: Mapping[str, str], default: int) -> int:
    value = _parse(env, "RECON_CLEANUP_MAX_ACTIONS", int, lambda v: v >= 0, "a whole number of actions, 0 or more")
    return default if value is None else value


def schedule(env: Mapping[str, str], default_cron: str, default_timezone: str) -> tuple[str, str]:
    """RECON_SCHEDULE_CRON and RECON_SCHEDULE_TIMEZONE, checked as Dagster will read them."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from dagster._utils.schedules import is_valid_cron_string  # the check ScheduleDefinition applies

    cron, zone = env.get("RECON_SCHEDULE_CRON") or default_cron, env.get("RECON_SCHEDULE_TIMEZONE") or default_timezone
    problems = []
    if not is_valid_cron_string(cron):
        problems.append(f"RECON_SCHEDULE_CRON={cron} is not a cron expression (five fields, e.g. '0 6 * * 1')")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"RECON_SCHEDULE_TIMEZONE={zone} is not a time zone (e.g. UTC, Europe/London)")
    if problems:
        raise SettingsError(problems)
    return cron, zone


def validate(env: Mapping[str, str]) -> None:
    """Every setting msp-recon reads, checked at once before anything runs: raises SettingsError with one line per
    bad value (numbers out of range, URLs that are not http(s), a source with only some of its credentials)."""
    from pipelines.sources import all_sources

    checks: list[Callable[[], object]] = [
        lambda: retry_budget_seconds(env), lambda: cleanup_max_share(env, 0.0), lambda: cleanup_max_actions(env, 0),
        lambda: schedule(env, "0 6 * * 1", "UTC"),
    ]
    problems = []
    for check in checks:
        try:
            check()
        except SettingsError as exc:
            problems += exc.problems
    for source in all_sources():
        if source.rate_limit and env.get(source.rate_limit.env):
            try:  # parsed where the run parses it: the source's declared rate limit
                source.budget(env)
            except ValueError as exc:
                problems.append(str(exc))
        for name in source.env:
            if name.endswith("_URL") and env.get(name):
                parts = urlsplit(env[name])
                if parts.scheme not in ("http", "https") or not parts.netloc:
                    problems.append(f"{name}={env[name]} is not an http(s) URL (e.g. https://api.itglue.com)")
        missing = [name for name in source.required_env if not env.get(name)]
        if missing and len(missing) < len(source.required_env):
            problems.append(f"{source.name} is half configured: {', '.join(missing)} "
                            f"{'is' if len(missing) == 1 else 'are'} not set (set {'it' if len(missing) == 1 else 'them'}, "
                            f"or unset {', '.join(n for n in source.required_env if n not in missing)} "
                            f"to turn {source.name} off)")
    if problems:
        raise SettingsError(problems)
