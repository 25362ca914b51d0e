"""Read-only means read-only: `msp-recon sql` (on the published copy or, with --warehouse, the warehouse itself) and
the other readers refuse every way out of a read-only DuckDB session, each with one line, and change no file."""

import hashlib

import duckdb
import pytest
from click.testing import CliRunner

from pipelines.cli import main
from pipelines.read_only import readonly_connect
from pipelines.warehouse import Warehouse


@pytest.fixture
def files(tmp_path, monkeypatch):
    """A warehouse and a published copy, each with one table; the env points msp-recon at them."""
    warehouse, published = tmp_path / "warehouse.duckdb", tmp_path / "published.duckdb"
    for path in (warehouse, published):
        with duckdb.connect(str(path)) as con:
            con.execute("CREATE SCHEMA marts; CREATE TABLE marts.orphans AS SELECT '11' AS source_id, "
                        "'psa_orphaned' AS reason")
    monkeypatch.setenv("RECON_WAREHOUSE", str(warehouse))
    monkeypatch.setenv("RECON_PUBLISHED", str(published))
    return warehouse, published


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def escapes(tmp_path, other):
    """(name, SQL) of each way a session could write, read outside its file, fetch code or lift its limits."""
    out = tmp_path / "out.csv"
    return [
        ("attach the other file read-write", f"ATTACH '{other}' AS w (READ_WRITE); "
                                             "CREATE TABLE w.marts.forged AS SELECT 1"),
        ("attach any file", f"ATTACH '{tmp_path / 'new.duckdb'}' AS n"),
        ("copy a query to a file", f"COPY (SELECT * FROM marts.orphans) TO '{out}'"),
        ("copy over the other file", f"COPY (SELECT 1) TO '{other}' (FORMAT csv)"),
        ("export the database", f"EXPORT DATABASE '{tmp_path / 'export'}'"),
        ("read any file", "SELECT * FROM read_csv('/etc/passwd')"),
        ("read any text", "SELECT * FROM read_text('/etc/passwd')"),
        ("list files", "SELECT * FROM glob('/etc/*')"),
        ("read parquet anywhere", f"SELECT * FROM read_parquet('{tmp_path}/*.parquet')"),
        ("install an extension", "INSTALL httpfs"),
        ("load an extension", "LOAD httpfs"),
        ("load a file as an extension", f"LOAD '{tmp_path / 'evil.duckdb_extension'}'"),
        ("turn external access back on", "SET enable_external_access = true"),
        ("unlock the configuration", "SET lock_configuration = false"),
        ("reset a setting", "RESET enable_external_access"),
        ("profile to a file", f"PRAGMA profiling_output = '{tmp_path / 'profile.json'}'"),
        ("enable profiling", "PRAGMA enable_profiling"),
        ("force a checkpoint", "PRAGMA force_checkpoint"),
        ("log to a file", f"CALL enable_logging(storage = 'file', storage_path = '{tmp_path / 'log'}')"),
        ("change shutdown behaviour", "PRAGMA disable_checkpoint_on_shutdown"),
        ("store a secret", "CREATE SECRET s (TYPE s3, KEY_ID 'x', SECRET 'y')"),
        ("create a table", "CREATE TABLE marts.forged AS SELECT 1 AS a"),
        ("insert a row", "INSERT INTO marts.orphans VALUES ('12', 'forged')"),
        ("delete rows", "DELETE FROM marts.orphans"),
        ("create a macro", "CREATE MACRO marts.m(x) AS x"),
    ]


@pytest.mark.parametrize("use_warehouse", [False, True], ids=["published copy", "--warehouse"])
def test_every_escape_from_a_read_only_session_is_refused_in_one_line(files, tmp_path, use_warehouse):
    warehouse, published = files
    before = {p: digest(p) for p in files}
    flags = ["--warehouse"] if use_warehouse else []
    other = published if use_warehouse else warehouse  # the copy's session must not reach the warehouse, nor back
    for name, statement in escapes(tmp_path, other):
        result = CliRunner().invoke(main, ["sql", *flags, statement])
        assert result.exit_code == 1, (name, result.output)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("msp-recon: "), (name, result.output)
        assert "blocked in a read-only session" in lines[0], (name, lines[0])
        assert "root:" not in result.output
    # CALLs that either do nothing on a read-only file or need an extension the session may not load
    for statement in ("CALL checkpoint()", "CALL force_checkpoint()", "CALL dbgen(sf = 0.01)",
                      "CALL truncate_duckdb_logs()"):
        result = CliRunner().invoke(main, ["sql", *flags, statement])
        assert result.output.strip().count("\n") == 0 or result.exit_code == 0, (statement, result.output)
    assert {p: digest(p) for p in files} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["published.duckdb", "warehouse.duckdb"]
    with readonly_connect(other) as con:
        assert con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'forged' "
                           "OR table_name LIKE 'lineitem'").fetchall()[0][0] == 0


def test_a_read_only_session_still_reads_and_keeps_variables(files):
    result = CliRunner().invoke(main, ["sql", "SET VARIABLE wanted = '11;x'; SELECT reason, getvariable('wanted') "
                                              "AS v FROM marts.orphans WHERE source_id = split_part(v, ';', 1)"])
    assert result.exit_code == 0, result.output
    assert "psa_orphaned" in result.output and "11;x" in result.output


def test_every_reader_of_the_warehouse_gets_the_locked_session(files, tmp_path):
    warehouse, published = files
    with readonly_connect(published) as copy, Warehouse(warehouse).connect(read_only=True) as store:
        for con in (copy, store):
            settings = dict(con.execute(
                "SELECT name, value FROM duckdb_settings() WHERE name IN "
                "('access_mode', 'enable_external_access', 'lock_configuration')").fetchall())
            assert settings == {"access_mode": "read_only", "enable_external_access": "false",
                                "lock_configuration": "true"}
            with pytest.raises(duckdb.PermissionException):
                con.execute(f"ATTACH '{tmp_path / 'other.duckdb'}' AS o")


def test_batches_and_show_read_the_warehouse_without_writing_it(files):
    warehouse, _ = files
    before = digest(warehouse)
    result = CliRunner().invoke(main, ["batches"])
    assert result.exit_code == 0 and "No cleanup batches yet" in result.output, result.output
    result = CliRunner().invoke(main, ["show", "B0001"])
    assert result.exit_code == 1 and "there is no batch B0001" in result.output, result.output
    assert digest(warehouse) == before
    with duckdb.connect(str(warehouse), read_only=True) as con:  # no cleanup schema was created by a reader
        assert con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema IN "
                           "('cleanup', 'audit')").fetchall()[0][0] == 0
