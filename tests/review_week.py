"""What the reviewer's-week tests share (tests/test_review_cli_week.py, tests/test_review_browser.py): `msp-recon`
run as a user runs it, read-only looks into the warehouse, the sandbox tenant with two approvers, and the client
whose actions the reviewer decides."""

import os
import subprocess
import sys
from pathlib import Path

import duckdb


def cli(args, env):
    return subprocess.run([sys.executable, "-m", "pipelines.cli", *args], env=env, capture_output=True, text=True,
                          timeout=400)


def query(path, sql, params=()):
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


def review_env(sandbox, tmp_path: Path) -> tuple[dict[str, str], Path]:
    """(env, warehouse): the sandbox's IT Glue, PSA and Datto RMM and nothing of the caller's own sources, a warehouse
    and Dagster home under tmp_path, ana a manager and bo an editor, and no batch refused for its size."""
    warehouse = tmp_path / "warehouse.duckdb"
    approvers = tmp_path / "approvers.toml"
    approvers.write_text('[approvers]\nana = "manager"\nbo = "editor"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ITGLUE_", "RECON_", "DAGSTER_"))}
    env |= sandbox.env(("itglue", sandbox.sandbox.world.psa, "datto_rmm")) | {
        "RECON_WAREHOUSE": str(warehouse), "DAGSTER_HOME": str(tmp_path / "dh"), "RECON_APPROVERS": str(approvers),
        "RECON_CLEANUP_MAX_SHARE": "1", "RECON_CLEANUP_MAX_ACTIONS": "10000"}
    return env, warehouse


def client_to_review(warehouse: Path, batch_id: str) -> str:
    """A client with deletes of duplicate configurations, one that also has orphan deletes (a manager's to approve)
    first, then the one with the most actions."""
    client, = query(warehouse, "SELECT organization_name FROM cleanup.actions WHERE batch_id = ? "
                               "GROUP BY 1 HAVING count(*) FILTER (WHERE action = 'delete' AND entity_type = "
                               "'configuration' AND survivor_source_id IS NOT NULL) > 0 ORDER BY "
                               "count(*) FILTER (WHERE action = 'delete' AND cluster_id IS NULL) > 0 DESC, "
                               "count(*) DESC, 1 LIMIT 1", [batch_id])[0]
    return client
