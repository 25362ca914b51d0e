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


def test_statements_split_as_duckdb_parses_them_not_on_every_semicolon(tmp_path, monkeypatch):
    published(tmp_path, monkeypatch)
    query = tmp_path / "q.sql"
    query.write_text("-- pick one record; the comment's ; splits nothing\n"
                     "SET VARIABLE wanted = '11';  /* nor this ; one */\n"
                     "SELECT reason || ';x' AS r FROM marts.orphans WHERE source_id = getvariable('wanted');\n"
                     "-- a trailing comment\n")
    result = CliRunner().invoke(main, ["sql", str(query)])
    assert result.exit_code == 0, result.output
    assert "psa_orphaned;x" in result.output and "rmm_device_deleted" not in result.output
    assert "1 row" in result.output


def test_a_missing_file_is_named_not_run_as_sql(tmp_path, monkeypatch):
    published(tmp_path, monkeypatch)
    for missing in ("sql/queries/no_such_query.sql", str(tmp_path / "nope.SQL"), "queries/why_matched"):
        result = CliRunner().invoke(main, ["sql", missing])
        assert result.exit_code == 1
        assert result.output.strip() == f"msp-recon: no such file: {missing}"


def many_rows(tmp_path, monkeypatch, n=73):
    path = published(tmp_path, monkeypatch)
    with duckdb.connect(str(path)) as con:
        con.execute(f"CREATE TABLE marts.many AS SELECT range AS id, 'name ' || range AS name, "
                    f"CASE WHEN range % 2 = 0 THEN NULL ELSE DATE '2026-01-01' + range::INT END AS seen "
                    f"FROM range({n})")


def test_a_cut_table_says_how_many_rows_there_were(tmp_path, monkeypatch):
    many_rows(tmp_path, monkeypatch)
    result = CliRunner().invoke(main, ["sql", "FROM marts.many ORDER BY id"])
    assert result.exit_code == 0, result.output
    assert "50 of 73 rows" in result.output
    assert "name 49" in result.output and "name 50" not in result.output
    whole = CliRunner().invoke(main, ["sql", "FROM marts.many ORDER BY id", "--limit", "100"])
    assert "of 73" not in whole.output and "73 rows" in whole.output and "name 72" in whole.output


def test_csv_and_json_print_every_row_unless_limited(tmp_path, monkeypatch):
    import csv
    import io
    import json

    many_rows(tmp_path, monkeypatch)
    result = CliRunner().invoke(main, ["sql", "FROM marts.many ORDER BY id", "--csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.output)))
    assert rows[0] == ["id", "name", "seen"] and len(rows) == 74
    assert rows[1] == ["0", "name 0", ""] and rows[2] == ["1", "name 1", "2026-01-02"]

    result = CliRunner().invoke(main, ["sql", "FROM marts.many ORDER BY id", "--json"])
    assert result.exit_code == 0, result.output
    records = json.loads(result.output)
    assert len(records) == 73 and records[1] == {"id": 1, "name": "name 1", "seen": "2026-01-02"}
    assert records[0]["seen"] is None

    limited = CliRunner().invoke(main, ["sql", "FROM marts.many ORDER BY id", "--json", "--limit", "5"])
    assert [r["id"] for r in json.loads(limited.output)] == [0, 1, 2, 3, 4]
    empty = CliRunner().invoke(main, ["sql", "FROM marts.many WHERE false", "--json"])
    assert json.loads(empty.output) == []
    both = CliRunner().invoke(main, ["sql", "SELECT 1", "--json", "--csv"])
    assert both.exit_code == 1 and "choose one" in both.output


def test_the_lockdown_holds_for_every_statement_of_a_file(tmp_path, monkeypatch):
    path = published(tmp_path, monkeypatch)
    query = tmp_path / "sneaky.sql"
    query.write_text("SELECT 1; DELETE FROM marts.orphans; SELECT 2;")
    result = CliRunner().invoke(main, ["sql", str(query)])
    assert result.exit_code == 1 and "read-only" in result.output.lower()
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM marts.orphans").fetchall()[0][0] == 2
