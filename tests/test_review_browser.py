"""The review page in a real browser (headless Chromium through Selenium, as tests/test_ui_browser.py drives it), on
the sandbox: a reviewer opens the URL `msp-recon review` prints, finds one client's actions, sees why each was
proposed, dismisses one, is refused as an editor, approves the rest as a manager; after the apply and a restore,
next week's run proposes neither the dismissed nor the restored record again. Screenshots go to tests/artifacts/."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from review_week import cli, client_to_review, query, review_env

pytestmark = pytest.mark.slow
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"

selenium = pytest.importorskip("selenium", reason="selenium is not installed (pip install -e '.[dev]')")
if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
    pytest.skip("Debian's chromium and chromium-driver are not installed (apt-get install chromium chromium-driver; "
                ".ci/run does)", allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


def text_of(browser, element_id: str, expected: str, timeout: float = 30) -> str:
    """The element's text once it holds `expected`: a click submits a form and the answer is a new page, which a
    loaded machine may take a moment to bring (reading at once finds the old page, or none)."""
    WebDriverWait(browser, timeout, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda b: expected in b.find_element(By.ID, element_id).text)
    return browser.find_element(By.ID, element_id).text


@pytest.fixture
def browser(tmp_path):
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1400,1000",
                 f"--user-data-dir={tmp_path / 'chromium'}"):
        options.add_argument(flag)
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not try to download a browser or driver
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    ARTIFACTS.mkdir(exist_ok=True)
    yield driver
    driver.quit()


class ReviewPage:
    """`msp-recon review` as a user starts it: a process that prints its URL."""

    def __init__(self, env):
        self.process = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "review"], env=env, text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        line = self.process.stdout.readline()
        found = re.search(r"(http://127\.0\.0\.1:\d+\S*\?token=\S+)", line)
        assert found, line + self.process.stdout.read(2000)
        self.url = found.group(1)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


def test_a_reviewer_decides_a_client_in_the_browser(sandbox, tmp_path, browser):
    env, warehouse = review_env(sandbox, tmp_path)
    assert cli(["run"], env).returncode == 0
    batch_id = query(warehouse, "SELECT max(batch_id) FROM cleanup.batches")[0][0]
    client = client_to_review(warehouse, batch_id)
    theirs = {r[0]: r[1:] for r in query(
        warehouse, "SELECT action_id, action, source_id, survivor_source_id, reason FROM cleanup.actions "
                   "WHERE batch_id = ? AND organization_name = ?", [batch_id, client])}
    total = len(query(warehouse, "SELECT 1 FROM cleanup.actions WHERE batch_id = ?", [batch_id]))

    page = ReviewPage(env)
    try:
        browser.get(page.url)
        assert f"0 of {total}" not in browser.find_element(By.ID, "shown-count").text
        browser.find_element(By.CSS_SELECTOR, '#summary a[data-facet="client"][href*="client="]')
        link = next(a for a in browser.find_elements(By.CSS_SELECTOR, '#summary a[data-facet="client"]')
                    if a.text == client)
        link.click()  # the client's actions, and only those
        assert browser.find_element(By.ID, "shown-count").text.startswith(f"{len(theirs)} of {total} actions")
        cards = browser.find_elements(By.CSS_SELECTOR, ".action")
        assert {c.get_attribute("id") for c in cards} == set(theirs)
        for card in cards:  # why each was proposed, in words, with its evidence
            assert card.find_element(By.CSS_SELECTOR, ".why").text == f"Why: {theirs[card.get_attribute('id')][3]}"
        browser.save_screenshot(str(ARTIFACTS / "review_client.png"))

        pair = next(a for a, (act, _, survivor, _) in sorted(theirs.items()) if act == "delete" and survivor)
        card = browser.find_element(By.ID, pair)
        assert card.find_elements(By.CSS_SELECTOR, "table.evidence tr.agree")  # fields that agreed, with weights
        browser.find_element(By.ID, "approver").send_keys("ana")
        card.find_element(By.CSS_SELECTOR, ".dismiss-reason").send_keys("not a duplicate")
        card.find_element(By.CSS_SELECTOR, "button.dismiss").click()
        assert "Dismissed" in text_of(browser, "message", "Dismissed")
        assert text_of(browser, "shown-count", f"{len(theirs) - 1} of {total - 1}").startswith(
            f"{len(theirs) - 1} of {total - 1}")

        if any(a == "delete" and not s for a, _, s, _ in theirs.values()):  # orphans: a manager's to delete
            browser.find_element(By.ID, "approver").send_keys("bo")
            browser.find_element(By.ID, "approve").click()
            assert "ana may approve this" in text_of(browser, "error", "ana may approve this")
        approver = browser.find_element(By.ID, "approver")
        approver.clear()
        approver.send_keys("ana")
        browser.find_element(By.ID, "approve").click()
        approved = f"Approved {len(theirs) - 1} of {total - 1} actions"
        assert approved in text_of(browser, "message", approved)
        assert "ana (manager)" in browser.find_element(By.ID, "approval").text
        browser.save_screenshot(str(ARTIFACTS / "review_approved.png"))
    finally:
        page.stop()

    assert cli(["apply", batch_id], env).returncode == 0
    restored_action = next(a for a, (act, _, survivor, _) in sorted(theirs.items()) if act == "delete" and
                           a != pair and query(warehouse, "SELECT entity_type FROM cleanup.actions WHERE "
                                                          "action_id = ?", [a])[0][0] != "organization")
    restored = cli(["restore", restored_action], env)
    assert restored.returncode == 0, restored.stderr
    new_id = re.search(r"new record with id (\d+)", restored.stdout).group(1)

    page = ReviewPage(env)  # what was applied, and what can be restored
    try:
        browser.get(page.url.replace("/?", f"/batch/{batch_id}?"))
        applied = browser.find_element(By.ID, "applied").find_element(By.XPATH, "following-sibling::table").text
        assert "done" in applied and "msp-recon restore" in applied and "restored" in applied
    finally:
        page.stop()

    assert cli(["run"], env).returncode == 0  # next week
    next_batch = query(warehouse, "SELECT max(batch_id) FROM cleanup.batches")[0][0]
    proposed = {(r[0], r[1]) for r in query(warehouse, "SELECT source_id, action FROM cleanup.actions "
                                                       "WHERE batch_id = ?", [next_batch])}
    assert next_batch != batch_id and (theirs[pair][1], "delete") not in proposed and (new_id, "delete") not in proposed
