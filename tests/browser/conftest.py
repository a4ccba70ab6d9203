"""Shared by the browser tests: Debian's Chromium (never a downloaded browser), a page per
test, screenshots under test-artifacts/, and the login step."""

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "browser-test-pw-1"

# Skipped where no Chromium is installed, except under CI, where .ci/run installs it.
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None and os.environ.get("GRIDCOLLECT_REQUIRE_SERVICES") != "1",
    reason="no Chromium installed (CI installs Debian's chromium)",
)


@pytest.fixture
def browser_page():
    # Playwright's sync API runs an event loop in this thread; the ORM calls made by the test
    # itself are synchronous and safe here.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(15_000)
        yield page
        browser.close()


def login(page, live_server, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    with page.expect_navigation():
        page.click("button[type=submit]")


def switch_language(page, code: str) -> None:
    """The language menu of the navigation bar ("en" or "zh-hans"); the page reloads."""
    with page.expect_navigation():
        page.select_option("#language-form select", code)
