"""The managers' dashboard in a real Chromium against a live server with demo data: a manager
sees the charts render, drills from the arrears tile into the bill list and finds the same
total, switches to 中文 and back and exports a table as CSV; an area leader sees only their
area; a collector works an item of today's list. A screenshot per step goes to test-artifacts/."""

import csv
import io
import re
from pathlib import Path

import pytest
from django.core.management import call_command

from dashboards.models import ArrearsSummary
from dashboards.summary import summary_rebuild, summary_rebuild_history
from risk.services import score_run
from tests.browser.conftest import ARTIFACTS, login, needs_chromium, switch_language

pytestmark = [pytest.mark.browser, needs_chromium]
DEMO_PASSWORD = "gridcollect-demo"


def _shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"dashboard-{name}.png"), full_page=True)


def _amount(text: str) -> str:
    """¥1,234.56 → 1234.56 (the digits a user compares)."""
    return re.sub(r"[^\d.\-]", "", text)


@pytest.fixture
def demo():
    # A small demo portfolio: the same generator as `make run`, fewer customers and months.
    call_command("seed_demo", customers=40, months=4, verbosity=0)
    from django.utils import timezone

    score_run(as_of=timezone.localdate())
    summary_rebuild_history(months=4)  # the trend's month-ends
    summary_rebuild()
    assert ArrearsSummary.objects.exists()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_manager_leader_and_collector_in_the_browser(browser_page, live_server, demo):
    page = browser_page

    # Manager: the dashboard with its charts.
    login(page, live_server, "manager", DEMO_PASSWORD)
    page.goto(f"{live_server.url}/dashboard/")
    page.wait_for_function("() => document.querySelectorAll('canvas[data-chart]').length > 0 && "
                           "[...document.querySelectorAll('canvas[data-chart]')].every(c => c.width > 0)")  # fmt: skip
    assert page.evaluate("() => window.Chart && Object.keys(Chart.instances).length") >= 3
    tile = page.inner_text("#tile-arrears")
    assert _amount(tile) and float(_amount(tile)) > 0
    _shot(page, "01-manager-dashboard")

    # Drill from the tile into the bills that make it up: the list's total is the tile.
    with page.expect_navigation():
        page.click("#tile-arrears")
    assert "/bills/" in page.url and "overdue_on=" in page.url
    assert _amount(page.inner_text("#amount-due")) == _amount(tile)
    _shot(page, "02-manager-drill-down-bills")

    # 中文 and back.
    page.goto(f"{live_server.url}/dashboard/")
    switch_language(page, "zh-hans")
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    assert "欠费" in page.inner_text("h1")
    page.wait_for_function("() => Object.keys(Chart.instances).length >= 3")
    _shot(page, "03-manager-dashboard-chinese")
    switch_language(page, "en")
    assert page.inner_text("h1").startswith("Arrears dashboard")

    # Export the aging table as CSV: its rows are the dashboard's buckets.
    page.click("#export-menu")
    link = page.locator("a.dropdown-item", has_text="CSV").first
    with page.expect_download() as download:
        link.click()
    rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8-sig"))))
    assert len(rows) >= 2
    _shot(page, "04-manager-export")
    page.click("#user-menu")
    with page.expect_navigation():
        page.click("#logout")

    # Area leader: only their area's figures.
    login(page, live_server, "leader01", DEMO_PASSWORD)
    page.goto(f"{live_server.url}/dashboard/")
    leader_tile = page.inner_text("#tile-arrears")
    assert float(_amount(leader_tile) or 0) <= float(_amount(tile))
    _shot(page, "05-leader-dashboard")
    page.click("#user-menu")
    with page.expect_navigation():
        page.click("#logout")

    # Collector: today's work, one item worked (a call logged).
    login(page, live_server, "collector01", DEMO_PASSWORD)
    assert "/collection/worklist/" in page.url
    _shot(page, "06-collector-worklist")
    assert page.locator("#worklist tbody tr").count() > 0  # the demo's collectors have arrears to chase
    with page.expect_navigation():
        page.locator("#worklist tbody tr a").first.click()
    page.locator("#activity-form").wait_for()
    page.select_option("#activity-form select[name=kind]", "call")
    page.select_option("#activity-form select[name=outcome]", "reached")
    page.fill("#activity-form textarea[name=note]", "Finance promised to check the payment run")
    with page.expect_navigation():
        page.click("#activity-form button[type=submit]")
    assert "Finance promised to check the payment run" in page.inner_text("#activity-log")
    _shot(page, "07-collector-logged-a-call")
