"""Where things live and how configuration is read: environment variables first, then the project's `.env`.

An empty value counts as unset (contract). Paths default to folders inside the project.
"""

import os
import shutil
from pathlib import Path

from dotenv import dotenv_values

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_WAREHOUSE = PROJECT_ROOT / "data" / "warehouse.duckdb"
DEFAULT_DAGSTER_HOME = PROJECT_ROOT / "dagster_home"


def environment() -> dict[str, str]:
    """The effective settings: `.env` values under the process environment, empty values dropped."""
    merged: dict[str, str] = {}
    env_file = PROJECT_ROOT / ".env"
    if env_file.exists():
        merged.update({k: v for k, v in dotenv_values(env_file).items() if v})
    merged.update({k: v for k, v in os.environ.items() if v})
    return merged


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
