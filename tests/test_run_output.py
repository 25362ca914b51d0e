"""What `msp-recon run`/`demo` tell a person while and after a run: progress with counts and time left from the
connector through Dagster's event log, sources that are off as skipped, asset check warnings, two PSAs."""

import dagster as dg
import pytest

from pipelines import progress
from pipelines.cli import psa_warnings, step_progress
from pipelines.runner import check_warnings, run_job
from pipelines.sources import all_sources


def test_the_progress_line_has_counts_time_left_and_rate():
    assert progress.line("audits", 12_400, 40_000, 600) == "12,400 / 40,000 audits, 46 min left at 600/min"
    assert progress.line("audits", 39_990, 40_000, 600) == "39,990 / 40,000 audits, 1 s left at 600/min"
    assert progress.line("audits", 3, 40_000, None) == "3 / 40,000 audits"
    assert progress.line("audits", 40_000, 40_000, 600) == "40,000 / 40,000 audits"


def test_reports_are_held_until_the_step_attaches_then_throttled(monkeypatch):
    now = [0.0]
    logged: list[str] = []
    reporter = progress._reporter("run-1", "datto_rmm")
    reporter.clock = lambda: now[0]
    token = progress._current.set(reporter)
    try:
        for done in range(1, 11):  # 10 audits a second, before the source's step started
            now[0] = done / 10
            progress.report("audits", done, 100)
        assert logged == []
        with progress.attached("run-1", "datto_rmm", logged.append):
            assert logged == ["progress: 10 / 100 audits, 9 s left at 600/min"]  # the latest one, at once
            for done in range(11, 101):
                now[0] = done / 10
                progress.report("audits", done, 100)
        # one message per EVERY seconds of the 9 s that followed, and always the last one
        assert len(logged) == 1 + int(9 // progress.EVERY) + 1
        assert logged[-1] == "progress: 100 / 100 audits"
    finally:
        progress._current.reset(token)
    progress.report("audits", 1, 2)  # outside a run: nothing, no error


def test_a_run_shows_audit_progress_and_sources_that_are_off_as_skipped(sandbox, tmp_path):
    seen: list[tuple[str, str]] = []
    with dg.DagsterInstance.ephemeral() as instance:
        outcome = run_job("weekly_reconciliation", env=sandbox.env(("itglue", "datto_rmm")),
                          warehouse=str(tmp_path / "warehouse.duckdb"), instance=instance,
                          on_step=lambda step, status: seen.append((step, status)), isolated=True)
    assert outcome.success, outcome.failures
    audits = [s for step, s in seen if step == "extract_datto_rmm" and s.startswith("progress: ")]
    assert audits and audits[-1].endswith(" audits") and " / " in audits[-1]
    done, total = audits[-1].removeprefix("progress: ").split(" audits")[0].split(" / ")
    assert done == total and int(total.replace(",", "")) > 0
    ends = {step: status for step, status in seen if not status.startswith("progress") and status != "started"}
    assert ends["extract_datto_rmm"] == "succeeded" and ends["extract_itglue"] == "succeeded"
    assert ends["extract_ninjaone"] == "skipped" and ends["extract_connectwise"] == "skipped"
    assert isinstance(outcome.warnings, list)


def test_check_warnings_are_one_line_each():
    @dg.asset
    def batch() -> int:
        return 1

    @dg.asset_check(asset=batch)
    def within_caps() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN,
                                   description="batch b1 needs a second look before approval")

    @dg.asset_check(asset=batch)
    def steady() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=True)

    result = dg.materialize([batch, within_caps, steady], instance=dg.DagsterInstance.ephemeral())
    assert check_warnings(result.all_events) == [
        "batch / within_caps (warn): batch b1 needs a second look before approval"]


def test_plain_output_prints_progress_as_the_step_line(capsys):
    with step_progress("weekly_reconciliation") as on_step:
        on_step("extract_datto_rmm", "progress: 12,400 / 40,000 audits, 46 min left at 600/min")
        on_step("extract_ninjaone", "skipped")
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("weekly_reconciliation: extract_datto_rmm 12,400 / 40,000 audits, 46 min left at 600/min")
    assert out[1].endswith("extract_ninjaone skipped")


def _configured(*names):
    env = {}
    for source in all_sources():
        if source.name in names:
            env.update({var: "https://api.example.test" if var.endswith("URL") else "x" for var in source.required_env})
    return env


@pytest.mark.parametrize("psas, warned", [(("autotask",), False), (("autotask", "connectwise"), True)])
def test_two_psas_configured_are_named_in_a_warning(psas, warned):
    lines = psa_warnings(_configured("itglue", *psas))
    assert bool(lines) == warned
    if warned:
        assert "autotask, connectwise" in lines[0] and "all of them are extracted" in lines[0]
