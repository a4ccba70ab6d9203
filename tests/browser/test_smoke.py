"""A real Chromium against a live server: what a collector and a manager see.

Playwright drives the Chromium installed from Debian's packages (never a downloaded browser);
the test is skipped where no Chromium is installed, except under CI, where .ci/run installs it.
Screenshots of each step are saved under test-artifacts/ for people to look at.
"""

import datetime as dt
from decimal import Decimal as D

import pytest

from tests.browser.conftest import ARTIFACTS, PASSWORD, login, needs_chromium
from tests.factories import ContactFactory, MeterPointFactory, make_bill

pytestmark = [pytest.mark.browser, needs_chromium]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_collector_finds_a_customer_and_reads_its_bill_in_both_languages(
    browser_page, live_server, portfolio, collector
):
    collector.set_password(PASSWORD)
    collector.save()
    customer = portfolio["a1"]
    MeterPointFactory(customer=customer, meter_no="BR-1", multiplier=D("100"))
    ContactFactory(customer=customer, name="王强")
    bill = make_bill(customer, "12345.67", "2099-01-01", issued_on=dt.date(2026, 11, 1), number="BR-BILL-1")
    page = browser_page

    login(page, live_server, "collector_a")
    page.goto(f"{live_server.url}/customers/")
    assert page.locator("#customers tbody tr").count() == 2  # only the collector's own customers
    page.fill("#id_q", "Hospital")
    page.wait_for_function("document.querySelectorAll('#customers tbody tr').length === 1")  # htmx, no reload
    page.screenshot(path=str(ARTIFACTS / "01-collector-customer-search.png"))

    page.goto(f"{live_server.url}/customers/{customer.account_no}/")
    page.wait_for_selector("#customer-bills")  # the billing panel arrives through htmx
    assert "¥12,345.67" in page.inner_text("#customer-bills")
    assert "王强" in page.inner_text("#contacts")
    page.screenshot(path=str(ARTIFACTS / "02-collector-customer-page.png"), full_page=True)

    page.goto(f"{live_server.url}/billing/bills/{bill.pk}/")
    assert "¥12,345.67" in page.inner_text("#bill-total")
    with page.expect_navigation():
        page.select_option("#language-form select", "zh-hans")
    assert "电费构成" in page.content()
    page.screenshot(path=str(ARTIFACTS / "03-bill-in-chinese.png"), full_page=True)
    with page.expect_navigation():
        page.select_option("#language-form select", "en")
    assert "Bill composition" in page.content()

    page.goto(f"{live_server.url}/customers/{portfolio['b1'].account_no}/")
    assert "outside what you may see" in page.content()  # another collector's customer is a 404
