"""The cookbook in the duckdb CLI users install from PyPI (duckdb-cli), against the published copy: the copy is
written in a storage version that CLI reads, and sql/queries/weekly_changes.sql runs there as-is."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cleanup_world import plan_batch, store, tenant  # noqa: F401

from pipelines.publish import publish
from pipelines.review import weekly
from pipelines.warehouse import SQL_DIR

CLI = shutil.which("duckdb", path=str(Path(sys.executable).parent)) or shutil.which("duckdb")


@pytest.mark.skipif(CLI is None, reason="the duckdb CLI is not installed (pip install duckdb-cli)")
def test_the_weekly_changes_cookbook_runs_in_the_duckdb_cli_on_the_published_copy(store, tenant, tmp_path):
    with store.connect() as con:  # the clients' names, as linkage writes them on the marts
        for mart in ("duplicates", "orphans"):
            con.execute(f"ALTER TABLE marts.{mart} ADD COLUMN organization_name VARCHAR")
            con.execute(f"""UPDATE marts.{mart} m SET organization_name = o.name FROM staging.organizations o
                WHERE o.source_id = CASE WHEN m.entity_type = 'organization' THEN m.source_id ELSE (
                    SELECT organization_source_id FROM staging.configurations c WHERE c.source_id = m.source_id
                    UNION ALL SELECT organization_source_id FROM staging.contacts c WHERE c.source_id = m.source_id
                    LIMIT 1) END""")
    for _ in range(2):  # two weekly runs: last week's findings, and this week's
        plan_batch(store, tenant)
        with store.connect() as con:
            weekly.record_findings(con, None)
            weekly.build_weekly_changes(con)
    copy = publish(store, tmp_path / "published.duckdb").path
    ran = subprocess.run([CLI, "-readonly", "-csv", str(copy)], input=(SQL_DIR / "queries/weekly_changes.sql").read_text(),
                         capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    header, *rows = ran.stdout.strip().splitlines()
    assert header.startswith("client,new,resolved,still_open")
    by_client = {r.split(",")[0]: r.split(",")[1:4] for r in rows}
    # nothing changed between the two runs: every finding is still open
    assert by_client == {"Fabrikam": ["0", "0", "6"], "Contoso": ["0", "0", "3"], "Contoso Inc": ["0", "0", "1"],
                         "Old Client": ["0", "0", "1"]}
