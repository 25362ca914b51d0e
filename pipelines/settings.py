"""Where things live and how configuration is read: environment variables first, then the project's `.env`.

An empty value counts as unset (contract). Paths default to folders inside the project. RECON_ENV_FILE names another
`.env` to read instead of the project's (the test suite points it at a file that does not exist).
"""

import os
import shutil
from pathlib import Path

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
