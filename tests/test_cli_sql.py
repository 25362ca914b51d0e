"""`msp-recon sql`: queries the published copy read-only, from text or a cookbook file, with one-line errors."""

import duckdb
from click.testing import CliRunner

from pipelines.cli import main


def published(tmp_path, monkeypatch):
    path = tmp_path / "published.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA marts")
        con.execute("CREATE TABLE marts.orphans AS SELECT * FROM (VALUES "
                    "('configuration', '11', 'psa_orphaned'), ('contact', '12', 'rmm_device_deleted')) "
                    "t(entity_type, source_id, reason)")
    monkeypatch.setenv("RECON_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setenv("RECON_PUBLISHED", str(path))
    return path


def test_a_query_prints_its_rows(tmp_path, monkeypatch):
    published(tmp_path, monkeypatch)
    result = CliRunner().invoke(main, ["sql", "SELECT source_id, reason FROM marts.orphans ORDER BY 1"])
    assert result.exit_code == 0, result.output
    assert "psa_orphaned" in result.output and "rmm_device_deleted" in result.output


def test_a_sql_file_with_settings_runs(tmp_path, monkeypatch):
    published(tmp_path, monkeypatch)
    query = tmp_path / "q.sql"
    query.write_text("SET VARIABLE wanted = '12';\nSELECT reason FROM marts.orphans WHERE source_id = getvariable('wanted');\n")
    result = CliRunner().invoke(main, ["sql", str(query)])
    assert result.exit_code == 0, result.output
    assert "rmm_device_deleted" in result.output and "psa_orphaned" not in result.output


def test_the_copy_is_opened_read_only_and_errors_are_one_line(tmp_path, monkeypatch):
    path = published(tmp_path, monkeypatch)
    result = CliRunner().invoke(main, ["sql", "DELETE FROM marts.orphans"])
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0 and "read-only" in result.output.lower()
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM marts.orphans").fetchall()[0][0] == 2
    missing = CliRunner().invoke(main, ["sql", "SELECT 1"], env={"RECON_PUBLISHED": str(tmp_path / "none.duckdb")})
    assert missing.exit_code == 1 and "does not exist yet" in missing.output
