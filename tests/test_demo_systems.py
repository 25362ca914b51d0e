"""`msp-recon demo` with a PSA and an RMM the generator does not render itself (HaloPSA, N-central): the whole weekly
job over HTTP against their sandbox servers, every raw table equal to the tenant's, a cleanup batch proposed."""

import os
import subprocess
import sys

import duckdb

from pipelines.sources import get_source


def test_demo_with_halopsa_and_ncentral_runs_end_to_end(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if not any(k.startswith(prefix) for s in ("itglue", "halopsa", "ncentral")
                      for prefix in {v.split("_")[0] + "_" for v in get_source(s).env})}
    env |= {"RECON_WAREHOUSE": str(tmp_path / "w.duckdb"), "DAGSTER_HOME": str(tmp_path / "dagster_home")}
    result = subprocess.run([sys.executable, "-m", "pipelines.cli", "demo", "--scale", "8", "--psa", "halopsa",
                             "--rmm", "ncentral"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    checked = [line.split() for line in result.stdout.splitlines() if line.strip().startswith("raw.")]
    tables = {row[0]: row[-1] for row in checked}
    for source in ("halopsa", "ncentral"):
        for table in get_source(source).tables:
            if table != "halopsa_itglue_links":  # the links as seen so far: not a count the tenant has
                assert tables.get(f"raw.{table}") == "ok", (table, result.stdout[-3000:])
    assert not any(name.startswith(("raw.autotask", "raw.datto")) for name in tables)  # only the chosen ones ran
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        by_source = dict(con.sql("SELECT source, count(*) FROM staging.configurations GROUP BY 1").fetchall())
        assert by_source.keys() == {"itglue", "halopsa", "ncentral"}
        assert con.sql("SELECT count(*) FROM marts.duplicates WHERE source = 'halopsa'").fetchall()[0][0] > 0
        assert con.sql("SELECT count(*) FROM cleanup.batches").fetchall()[0][0] == 1
