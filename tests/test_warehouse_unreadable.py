"""A warehouse file that is not a DuckDB database (empty, overwritten, damaged) is reported for what it is, in one
line that says what to do; it is never called "locked", and `msp-recon batches` prints no traceback."""

import os
import shutil
import subprocess
import sys

import duckdb
import pytest

from pipelines.warehouse import Warehouse, WarehouseUnreadable


def make(kind: str, path) -> None:
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "overwritten":  # what `COPY ... TO` over the warehouse left in issue 10
        path.write_bytes(b"8 bytes!")
    else:  # a real warehouse with a damaged block
        good = path.with_name("good.duckdb")
        with duckdb.connect(str(good)) as con:
            con.execute("CREATE SCHEMA cleanup")
            con.execute("CREATE TABLE cleanup.batches AS SELECT range::VARCHAR AS batch_id FROM range(50000)")
        shutil.copyfile(good, path)
        with path.open("r+b") as f:
            f.seek(4096)
            f.write(os.urandom(4096))


SAYS = {"empty": "is empty (0 bytes)", "overwritten": "is not a DuckDB database (8 bytes of something else)",
        "damaged": "is damaged (computed checksum"}


@pytest.mark.parametrize("kind", list(SAYS))
def test_an_unreadable_warehouse_is_not_called_locked(kind, tmp_path):
    path = tmp_path / "warehouse.duckdb"
    make(kind, path)
    for read_only in (False, True):
        with pytest.raises(WarehouseUnreadable) as raised, Warehouse(path).connect(read_only=read_only) as con:
            con.sql("SELECT count(*) FROM cleanup.batches").fetchall()
        message = str(raised.value)
        assert message.startswith(f"the warehouse {path} {SAYS[kind]}") and "locked" not in message.split("; ")[0]
        assert f"mv {path} {path}.broken" in message and "\n" not in message


@pytest.mark.parametrize("kind", list(SAYS))
def test_batches_on_an_unreadable_warehouse_is_one_line(kind, tmp_path):
    path = tmp_path / "warehouse.duckdb"
    make(kind, path)
    result = subprocess.run([sys.executable, "-m", "pipelines.cli", "batches"], capture_output=True, text=True,
                            env={**os.environ, "RECON_WAREHOUSE": str(path)}, timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"msp-recon: the warehouse {path} {SAYS[kind]}") and "it is not locked" in line
