"""Keeping the sandbox away from real data: the demo never writes into a warehouse that holds a real tenant."""

from pathlib import Path

import duckdb

from pipelines.read_only import readonly_connect
from pipelines.sandbox.itglue_view import BASE_URL


def refuse_live_warehouse(path: Path) -> None:
    """Raise RuntimeError when `path` holds IT Glue records that did not come from the sandbox.

    The sandbox's records all link to its own host; any other resource-url means a real account was extracted there.
    """
    if not path.exists():
        return
    try:
        con = readonly_connect(path)
    except duckdb.Error:
        return  # locked or unreadable: the run itself reports that clearly
    try:
        found = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'raw' "
            "AND table_name = 'itglue_configurations'").fetchall()[0][0]
        if not found:
            return
        live = con.execute("SELECT count(*) FROM raw.itglue_configurations WHERE resource_url NOT LIKE ?",
                           [f"{BASE_URL}/%"]).fetchall()[0][0]
    finally:
        con.close()
    if live:
        raise RuntimeError(
            f"{path} holds {live:,} IT Glue configurations from a real account; the demo will not overwrite it. "
            "Run the demo with RECON_WAREHOUSE set to another file (e.g. RECON_WAREHOUSE=data/sandbox.duckdb)")
