"""The weekly job as Dagster runs it, against the sandbox over HTTP: definitions, counts, failures, locks."""

import os
import subprocess
import sys

import dagster as dg
import duckdb
import pytest

from pipelines.definitions import defs
from pipelines.runner import run_job
from pipelines.warehouse import Warehouse

ITGLUE_TABLES = ("itglue_organizations", "itglue_configurations", "itglue_contacts")


@pytest.fixture
def instance():
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


def test_definitions_load_and_name_the_contract():
    dg.Definitions.validate_loadable(defs)
    keys = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {f"raw/{t}" for t in ITGLUE_TABLES} <= keys
    assert {"staging/organizations", "staging/configurations", "staging/contacts"} <= keys
    schedule = defs.resolve_schedule_def("weekly_reconciliation_schedule")
    assert schedule.cron_schedule == "0 6 * * 1" and schedule.execution_timezone == "UTC"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert defs.resolve_job_def("weekly_reconciliation").executor_def.name == "in_process"


def test_weekly_run_extracts_and_stages_itglue(sandbox, tmp_path, instance):
    path = tmp_path / "w.duckdb"
    outcome = run_job("weekly_reconciliation", env=sandbox.env(("itglue",)), warehouse=str(path), instance=instance)
    assert outcome.success, outcome.failures
    expected = sandbox.sandbox.world.expected_counts()
    raw = Warehouse(path).row_counts("raw")
    assert {t: raw[t] for t in ITGLUE_TABLES} == {t: expected[t] for t in ITGLUE_TABLES}
    staged = Warehouse(path).row_counts("staging")
    assert staged == {"organizations": expected["itglue_organizations"],
                      "configurations": expected["itglue_configurations"],
                      "contacts": expected["itglue_contacts"]}
    assert instance.get_run_by_id(outcome.run_id).job_name == "weekly_reconciliation"


def test_a_failed_extraction_keeps_the_previous_tables(sandbox, tmp_path, instance):
    path = tmp_path / "w.duckdb"
    env = sandbox.env(("itglue",))
    assert run_job("weekly_reconciliation", env=env, warehouse=str(path), instance=instance).success
    before = Warehouse(path).table("raw.itglue_contacts")

    sandbox.sandbox.quirks["itglue.malformed_page"] = ("contacts", 1)
    outcome = run_job("weekly_reconciliation", env=env, warehouse=str(path), instance=instance)
    assert not outcome.success
    (step, reason), = outcome.failures
    assert step == "extract_itglue" and "not JSON" in reason
    after = Warehouse(path).table("raw.itglue_contacts")
    assert after.equals(before)  # same rows, same extracted_at: nothing partial was swapped in


def _cli(args, env, cwd):
    return subprocess.run([sys.executable, "-m", "pipelines.cli", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=240)


@pytest.fixture
def cli_env(tmp_path, sandbox):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ITGLUE_", "AUTOTASK_", "CONNECTWISE_",
                                                                      "DATTO_", "NINJAONE_"))}
    env.update(sandbox.env(("itglue",)))
    env["RECON_WAREHOUSE"] = str(tmp_path / "cli.duckdb")
    env["DAGSTER_HOME"] = str(tmp_path / "dagster_home")
    return env


def test_a_wrong_key_is_one_clear_line(cli_env, tmp_path):
    cli_env["ITGLUE_API_KEY"] = "wrong"
    result = _cli(["run"], cli_env, tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2, lines  # the step's reason, then which run failed
    assert lines[0].startswith("msp-recon: step extract_itglue failed: ITGLUE_API_KEY is rejected by http://127.0.0.1")
    assert "(403)" in lines[0] and "failed; see it in the Dagster UI" in lines[1]


def test_a_locked_warehouse_names_the_file_and_the_holder(cli_env, tmp_path):
    path = cli_env["RECON_WAREHOUSE"]
    holder = subprocess.Popen([sys.executable, "-c",
                               f"import duckdb, time; c = duckdb.connect({path!r}); print('ok', flush=True); "
                               "time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ok"
        result = _cli(["run"], cli_env, tmp_path)
        assert result.returncode != 0 and "Traceback" not in result.stderr
        assert f"the warehouse {path} is locked by process {holder.pid}" in result.stderr
    finally:
        holder.kill()
        holder.wait()


def test_the_cli_run_is_recorded_in_dagster_home(cli_env, tmp_path):
    result = _cli(["run"], cli_env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "succeeded" in result.stdout
    with dg.DagsterInstance.from_config(cli_env["DAGSTER_HOME"]) as instance:
        runs = instance.get_runs()
        assert len(runs) == 1 and runs[0].job_name == "weekly_reconciliation" and runs[0].is_success
    with duckdb.connect(cli_env["RECON_WAREHOUSE"], read_only=True) as con:
        assert con.sql("SELECT count(*) FROM staging.configurations").fetchall()[0][0] > 0


def test_the_demo_never_overwrites_a_real_tenant(tmp_path):
    from pipelines.sandbox.guard import refuse_live_warehouse

    path = tmp_path / "live.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA raw")
        con.execute("CREATE TABLE raw.itglue_configurations (id VARCHAR, resource_url VARCHAR)")
        con.execute("INSERT INTO raw.itglue_configurations VALUES "
                    "('1', 'https://sandbox.itglue.com/1/configurations/1')")
    refuse_live_warehouse(path)  # a sandbox warehouse may be refreshed
    with duckdb.connect(str(path)) as con:
        con.execute("INSERT INTO raw.itglue_configurations VALUES "
                    "('2', 'https://acme.itglue.com/9/configurations/2')")
    with pytest.raises(RuntimeError, match="1 IT Glue configurations from a real account"):
        refuse_live_warehouse(path)


def test_run_without_itglue_configured_says_what_to_set(cli_env, tmp_path):
    del cli_env["ITGLUE_API_KEY"]
    result = _cli(["run"], cli_env, tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip() == result.stderr.strip().splitlines()[0]  # one line
    assert "IT Glue is not configured: set ITGLUE_API_KEY" in result.stderr
    assert not (tmp_path / "cli.duckdb").exists()  # nothing was run or written
