"""Settings are validated before anything runs: one line per bad value, naming the variable, from the one function
(pipelines.settings.validate) that the CLI and the Dagster resources both call."""

import os
import subprocess
import sys

import pytest

from pipelines.cleanup.guard import GuardRails
from pipelines.resources import SourcesResource
from pipelines.settings import SettingsError, retry_budget_seconds, validate
from pipelines.sources.http import RetryPolicy

GOOD = {"ITGLUE_API_KEY": "k", "ITGLUE_API_URL": "https://api.eu.itglue.com"}

BAD = [
    ("RECON_CLEANUP_MAX_SHARE", "nan", "RECON_CLEANUP_MAX_SHARE=nan is not a share between 0 and 1"),
    ("RECON_CLEANUP_MAX_SHARE", "-0.1", "RECON_CLEANUP_MAX_SHARE=-0.1 is not a share between 0 and 1"),
    ("RECON_CLEANUP_MAX_SHARE", "1.5", "RECON_CLEANUP_MAX_SHARE=1.5 is not a share between 0 and 1"),
    ("RECON_CLEANUP_MAX_ACTIONS", "abc", "RECON_CLEANUP_MAX_ACTIONS=abc is not a whole number of actions"),
    ("RECON_CLEANUP_MAX_ACTIONS", "-3", "RECON_CLEANUP_MAX_ACTIONS=-3 is not a whole number of actions"),
    ("ITGLUE_RATE_LIMIT", "-5", "ITGLUE_RATE_LIMIT must be a whole number of requests per 5 minutes, not '-5'"),
    ("NINJAONE_RATE_LIMIT", "0", "NINJAONE_RATE_LIMIT must be a whole number of requests per minute, not '0'"),
    ("DATTO_RMM_RATE_LIMIT", "abc", "DATTO_RMM_RATE_LIMIT must be a whole number of requests per minute, not 'abc'"),
    ("ITGLUE_RATE_LIMIT", "inf", "ITGLUE_RATE_LIMIT must be a whole number of requests per 5 minutes, not 'inf'"),
    ("RECON_RETRY_BUDGET_SECONDS", "nan", "RECON_RETRY_BUDGET_SECONDS=nan is not a number of seconds above 0"),
    ("RECON_SCHEDULE_CRON", "every monday", "RECON_SCHEDULE_CRON=every monday is not a cron expression"),
    ("RECON_SCHEDULE_TIMEZONE", "Mars/Olympus", "RECON_SCHEDULE_TIMEZONE=Mars/Olympus is not a time zone"),
    ("ITGLUE_API_URL", "ftp://api.itglue.com", "ITGLUE_API_URL=ftp://api.itglue.com is not an http(s) URL"),
    ("NINJAONE_URL", "app.ninjarmm.com", "NINJAONE_URL=app.ninjarmm.com is not an http(s) URL"),
]


@pytest.mark.parametrize(("name", "value", "says"), BAD, ids=[f"{n}={v}" for n, v, _ in BAD])
def test_a_bad_value_is_one_line_naming_it(name, value, says):
    with pytest.raises(SettingsError) as raised:
        validate({**GOOD, name: value})
    (problem,) = raised.value.problems
    assert problem.startswith(says) and "\n" not in problem
    with pytest.raises(SettingsError):  # the Dagster resources call the same validation
        SourcesResource(env={**GOOD, name: value}, read_environment=False).settings()


def test_good_values_pass():
    validate({**GOOD, "RECON_CLEANUP_MAX_SHARE": "0.05", "RECON_CLEANUP_MAX_ACTIONS": "0", "ITGLUE_RATE_LIMIT": "600",
              "NINJAONE_RATE_LIMIT": "300", "RECON_SCHEDULE_CRON": "30 5 * * 1-5",
              "RECON_SCHEDULE_TIMEZONE": "Europe/London", "RECON_RETRY_BUDGET_SECONDS": "60",
              "NINJAONE_URL": "http://127.0.0.1:9/ninjaone"})


def test_the_guard_rails_and_the_retry_budget_refuse_what_would_turn_them_off(monkeypatch):
    with pytest.raises(SettingsError, match="RECON_CLEANUP_MAX_SHARE=nan"):
        GuardRails.from_env({"RECON_CLEANUP_MAX_SHARE": "nan"})
    with pytest.raises(SettingsError, match="RECON_RETRY_BUDGET_SECONDS=-1"):
        retry_budget_seconds({"RECON_RETRY_BUDGET_SECONDS": "-1"})
    monkeypatch.setenv("RECON_RETRY_BUDGET_SECONDS", "0")
    with pytest.raises(SettingsError, match="RECON_RETRY_BUDGET_SECONDS=0"):
        RetryPolicy()  # the retry policy reads it at the start of a run


def test_a_source_with_only_some_of_its_variables_is_an_error_naming_the_missing():
    with pytest.raises(SettingsError) as raised:
        validate({**GOOD, "AUTOTASK_USERNAME": "api@msp.example", "AUTOTASK_SECRET": "",
                  "AUTOTASK_INTEGRATION_CODE": "CODE"})
    assert raised.value.problems == [
        "autotask is half configured: AUTOTASK_SECRET is not set (set it, or unset AUTOTASK_USERNAME, "
        "AUTOTASK_INTEGRATION_CODE to turn autotask off)"]


def test_the_cli_prints_one_line_per_bad_value_and_runs_nothing(tmp_path):
    env = {**os.environ, **GOOD, "RECON_WAREHOUSE": str(tmp_path / "w.duckdb"),
           "RECON_CLEANUP_MAX_SHARE": "nan", "ITGLUE_RATE_LIMIT": "-5", "NINJAONE_RATE_LIMIT": "abc",
           "RECON_SCHEDULE_CRON": "61 * * * *", "AUTOTASK_USERNAME": "api@msp.example"}
    result = subprocess.run([sys.executable, "-m", "pipelines.cli", "run"], env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    starts = ["RECON_CLEANUP_MAX_SHARE=nan ", "RECON_SCHEDULE_CRON=61 * * * * ", "ITGLUE_RATE_LIMIT must ",
              "NINJAONE_RATE_LIMIT must ", "autotask is half configured: AUTOTASK_SECRET, AUTOTASK_INTEGRATION_CODE "
              "are not set"]
    assert len(lines) == len(starts)  # one line per bad value, nothing else
    for start in starts:
        assert sum(line.startswith(f"msp-recon: {start}") for line in lines) == 1, (start, lines)
    assert not (tmp_path / "w.duckdb").exists()
