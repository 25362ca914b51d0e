"""The user's week in a real browser: `dagster dev` on 127.0.0.1 against the sandbox tenant, the UI in headless
Chromium (Debian's chromium, driven by Selenium through /usr/bin/chromedriver). The asset graph shows the assets,
`weekly_reconciliation` launched through the UI's GraphQL API succeeds and its run page says so, the schedule and
both sensors are running. Screenshots go to tests/artifacts/ (git-ignored)."""

import copy
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from pipelines.sandbox.server import RunningSandbox, Sandbox
from pipelines.settings import DEFAULT_DAGSTER_HOME, PROJECT_ROOT

pytestmark = pytest.mark.slow
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
SOURCE_PREFIXES = ("ITGLUE_", "AUTOTASK_", "CONNECTWISE_", "DATTO_", "NINJAONE_", "RECON_")

selenium = pytest.importorskip("selenium", reason="selenium is not installed (pip install -e '.[dev]')")
if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
    pytest.skip("Debian's chromium and chromium-driver are not installed (apt-get install chromium chromium-driver; "
                ".ci/run does)", allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graphql(url: str, query: str, variables: dict | None = None) -> dict:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(f"{url}/graphql", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        answer = json.loads(response.read())
    assert not answer.get("errors"), answer["errors"]
    return answer["data"]


@pytest.fixture(scope="module")
def dagster_ui(small_world, tmp_path_factory):
    """`dagster dev` serving the project on a free port, its sources pointed at a sandbox this process serves."""
    folder = tmp_path_factory.mktemp("ui")
    home = folder / "dagster_home"
    home.mkdir()
    shutil.copyfile(DEFAULT_DAGSTER_HOME / "dagster.yaml", home / "dagster.yaml")
    world = copy.deepcopy(small_world)
    with RunningSandbox(Sandbox(world)) as sandbox:
        env = {k: v for k, v in os.environ.items() if not k.startswith(SOURCE_PREFIXES)}
        # the run happens in a subprocess of dagster dev: these variables are how it finds the sandbox
        env.update(sandbox.env(("itglue", world.psa, "datto_rmm")))
        env.update(DAGSTER_HOME=str(home), RECON_WAREHOUSE=str(folder / "warehouse.duckdb"),
                   RECON_PUBLISHED=str(folder / "published.duckdb"))
        port = _free_port()
        log = (folder / "dagster_dev.log").open("w")
        server = subprocess.Popen(
            [str(Path(os.sys.executable).parent / "dagster"), "dev", "-w", str(PROJECT_ROOT / "workspace.yaml"),
             "-h", "127.0.0.1", "-p", str(port)],
            # not the project root: dagster dev loads the `.env` of its working directory over the environment
            cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 180
            while True:
                try:
                    _graphql(url, "{ version }")
                    break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise AssertionError(
                            f"dagster dev did not answer: {(folder / 'dagster_dev.log').read_text()}") from None
                    time.sleep(1)
            yield url, folder
        finally:
            os.killpg(server.pid, signal.SIGTERM)  # dagster dev, its webserver, daemon and code server
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
            log.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1600,1000", f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(flag)
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not try to download a browser or driver
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    ARTIFACTS.mkdir(exist_ok=True)
    yield driver
    driver.quit()


def _dismiss_welcome(driver) -> None:
    """Dagster's first-visit "Join the Dagster community" dialog covers the page: skip it, as a new user would."""
    skips = [b for b in driver.find_elements("xpath", "//button[normalize-space()='Skip']") if b.is_displayed()]
    for button in skips:
        button.click()
    if skips:
        WebDriverWait(driver, 10).until(lambda d: not any(
            b.is_displayed() for b in d.find_elements("xpath", "//button[normalize-space()='Skip']")))


def _page_shows(driver, url: str, texts: list[str], screenshot: str, timeout: float = 90) -> str:
    driver.get(url)
    try:
        WebDriverWait(driver, timeout).until(lambda d: all(t in d.find_element("tag name", "body").text
                                                           for t in texts))
        _dismiss_welcome(driver)
    finally:
        driver.save_screenshot(str(ARTIFACTS / screenshot))
    return driver.find_element("tag name", "body").text


def _repository(url: str) -> dict:
    data = _graphql(url, "{ repositoriesOrError { ... on RepositoryConnection { nodes { name location { name } } } } }")
    node, = data["repositoriesOrError"]["nodes"]
    return {"repositoryName": node["name"], "repositoryLocationName": node["location"]["name"]}


def test_the_asset_graph_shows_the_data_flow(dagster_ui, browser):
    url, _ = dagster_ui
    _page_shows(browser, f"{url}/asset-groups", ["extract", "staging", "linkage", "cleanup", "publish"],
                "asset_graph.png")
    text = _page_shows(browser, f"{url}/assets", ["cleanup_batch", "published_copy"], "assets.png")
    assert "raw" in text and "marts" in text and "staging" in text


def test_weekly_reconciliation_launched_from_the_ui_succeeds(dagster_ui, browser):
    url, folder = dagster_ui
    _page_shows(browser, f"{url}/jobs/weekly_reconciliation", ["weekly_reconciliation"], "job.png")
    launched = _graphql(url, """
        mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
            __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }""",
                        {"params": {"selector": {**_repository(url), "jobName": "weekly_reconciliation"},
                                    "runConfigData": {}}})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    deadline, status = time.monotonic() + 420, None
    while time.monotonic() < deadline:
        status = _graphql(url, "query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }",
                          {"id": run_id})["runOrError"]["status"]
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        time.sleep(3)
    _page_shows(browser, f"{url}/runs/{run_id}", ["Success" if status == "SUCCESS" else "Fail"], "run.png")
    assert status == "SUCCESS", (folder / "dagster_dev.log").read_text()[-4000:]
    # the run wrote the warehouse and published the copy users query
    assert (folder / "published.duckdb").exists()
    _page_shows(browser, f"{url}/assets/published_copy", ["published_copy"], "published_copy.png")
    latest = _graphql(url, """{ assetOrError(assetKey: {path: ["published_copy"]}) { ... on Asset {
        assetMaterializations(limit: 1) { runId metadataEntries { label } } } } }""")["assetOrError"]
    materialization, = latest["assetMaterializations"]
    assert materialization["runId"] == run_id
    assert {"path", "tables", "open it"} <= {m["label"] for m in materialization["metadataEntries"]}


def test_the_schedule_and_sensors_are_running(dagster_ui, browser):
    url, _ = dagster_ui
    selector = _repository(url)
    data = _graphql(url, """query($repo: RepositorySelector!) {
        schedulesOrError(repositorySelector: $repo) { ... on Schedules { results { name scheduleState { status } } } }
        sensorsOrError(repositorySelector: $repo) { ... on Sensors { results { name sensorState { status } } } } }""",
                    {"repo": selector})
    schedules = {s["name"]: s["scheduleState"]["status"] for s in data["schedulesOrError"]["results"]}
    sensors = {s["name"]: s["sensorState"]["status"] for s in data["sensorsOrError"]["results"]}
    assert schedules == {"weekly_reconciliation_schedule": "RUNNING"}
    assert sensors == {"cleanup_approval_sensor": "RUNNING", "publish_after_apply": "RUNNING"}
    _page_shows(browser, f"{url}/automation", ["weekly_reconciliation_schedule", "cleanup_approval_sensor"],
                "automation.png")
