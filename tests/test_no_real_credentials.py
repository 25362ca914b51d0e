"""Tests never see real credentials: a project `.env` like the README tells users to write, with real-looking keys,
is read neither by runs inside the test process nor by the `msp-recon` processes tests start (conftest's
`no_real_credentials`). The `.env` points at a listener on 127.0.0.1 that records every connection it gets."""

import os
import socket
import subprocess
import sys
import threading

import dagster as dg
import pytest

from pipelines.runner import run_job
from pipelines.settings import ENV_FILE_VARIABLE, PROJECT_ROOT, contract_prefixes, environment
from pipelines.sources import all_sources, get_source


class Listener:
    """A port nothing else uses: answers every HTTP request 401 at once and keeps what it received."""

    def __init__(self):
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        self.received: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return
            with connection:
                connection.settimeout(5)
                try:
                    self.received.append(connection.recv(65536))
                    connection.sendall(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                except OSError:
                    pass

    def close(self) -> None:
        self._socket.close()


FAKE_KEY = "ITG.7c1f0e2b9a4d4c3e8f6a5b4c3d2e1f00.live-looking-key"


def project_like_env(port: int) -> str:
    base = f"http://127.0.0.1:{port}"
    return "\n".join([
        f"ITGLUE_API_URL={base}/itglue", f"ITGLUE_API_KEY={FAKE_KEY}",
        f"AUTOTASK_URL={base}/autotask", "AUTOTASK_USERNAME=api.sync@realmsp.example",
        "AUTOTASK_SECRET=Xq9#kd82!mZ", "AUTOTASK_INTEGRATION_CODE=HUQGZ2CQVLWVXTJQWJQ5B3N6K4",
        f"DATTO_RMM_URL={base}/datto", "DATTO_RMM_API_KEY=8R7Q6P5O4N3M2L1K", "DATTO_RMM_API_SECRET=J9I8H7G6F5E4D3C2",
        f"RECON_WAREHOUSE={base}-should-not-be-used.duckdb", "",
    ])


@pytest.fixture
def project_env_file():
    """The project's own `.env`, written for the test and removed after; a developer's real one is never touched."""
    path = PROJECT_ROOT / ".env"
    if path.exists():
        pytest.skip(f"{path} exists (a developer's own settings): not overwriting it")
    listener = Listener()
    path.write_text(project_like_env(listener.port))
    try:
        yield path, listener
    finally:
        path.unlink(missing_ok=True)
        listener.close()


def test_every_source_variable_carries_its_source_prefix():
    # conftest clears variables by prefix: a source variable outside its prefix would leak into tests
    prefixes = contract_prefixes()
    for source in all_sources():
        for name in source.env:
            assert name.startswith(f"{source.name.upper()}_") and name.startswith(prefixes), name


def test_the_process_environment_holds_no_contract_variable():
    leaked = [name for name in os.environ if name.startswith(contract_prefixes())]
    assert leaked == [ENV_FILE_VARIABLE]
    assert not os.path.exists(os.environ[ENV_FILE_VARIABLE])


def test_runs_in_the_test_process_ignore_the_project_env(project_env_file, tmp_path):
    path, listener = project_env_file
    settings = environment()
    assert not {"ITGLUE_API_KEY", "AUTOTASK_SECRET", "DATTO_RMM_API_KEY", "RECON_WAREHOUSE"} & settings.keys()
    assert get_source("itglue").config_from(settings) is None

    with dg.DagsterInstance.ephemeral() as instance:
        outcome = run_job("weekly_reconciliation", warehouse=str(tmp_path / "w.duckdb"), instance=instance)
    assert outcome.success, outcome.failures
    assert listener.received == []


def _msp_recon_run(env: dict[str, str], cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines.cli", "run"], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=240)


@pytest.mark.parametrize("build_env", ["inherited", "filtered like the cleanup tests"])
def test_the_cli_started_by_a_test_ignores_the_project_env(project_env_file, tmp_path, build_env):
    path, listener = project_env_file
    env = dict(os.environ)
    if build_env != "inherited":  # tests that drop RECON_* from the env they pass still must not read .env
        env = {k: v for k, v in env.items() if not k.startswith(("ITGLUE_", "RECON_", "DAGSTER_"))}
    env["RECON_WAREHOUSE"] = str(tmp_path / "cli.duckdb")
    result = _msp_recon_run(env, PROJECT_ROOT)
    assert result.returncode == 1 and "IT Glue is not configured" in result.stderr, result.stderr
    assert listener.received == []


def test_the_detector_sees_a_process_that_does_read_it(project_env_file, tmp_path):
    # the same CLI pointed at that `.env` on purpose reaches the listener with the key: the checks above can fail
    path, listener = project_env_file
    env = {**os.environ, ENV_FILE_VARIABLE: str(path), "RECON_WAREHOUSE": str(tmp_path / "cli.duckdb")}
    result = _msp_recon_run(env, tmp_path)
    assert result.returncode == 1 and f"ITGLUE_API_KEY is rejected by http://127.0.0.1:{listener.port}" \
        in result.stderr, result.stderr
    assert any(FAKE_KEY.encode() in request for request in listener.received)
