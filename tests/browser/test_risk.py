"""Staff see a customer's credit grade, its reasons and its history in a real Chromium, in
English and in Chinese; a collector rescores the customer from its page."""

import datetime as dt

import pytest
from django.utils import timezone

from risk.models import CreditScore
from risk.services import published_scorecard, score_one
from tests.browser.conftest import ARTIFACTS, PASSWORD, login, needs_chromium, switch_language
from tests.factories import CustomerFactory, RegionFactory, UserFactory, make_bill

pytestmark = [pytest.mark.browser, needs_chromium]


@pytest.fixture
def graded():
    collector = UserFactory(username="collector_zhao", role="collector")
    collector.set_password(PASSWORD)
    collector.save()
    customer = CustomerFactory(account_no="3300000001", name="Hillside Steel", industry="steel",
                               region=RegionFactory(code="HS", name="Hillside"), collector=collector)  # fmt: skip
    today = timezone.localdate()
    for months in range(1, 8):
        make_bill(customer, "20000.00", today - dt.timedelta(days=30 * months), number=f"RB-{months}")
    # Scored a month ago and today: the history shows two scores.
    card = published_scorecard()
    CreditScore.objects.create(customer=customer, scorecard=card, as_of=today - dt.timedelta(days=30), score=82,
                               grade="AA", score_grade="AA", breakdown=[])  # fmt: skip
    score_one(customer=customer)
    return collector, customer


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_staff_see_the_grade_its_reasons_and_history_in_english_and_chinese(browser_page, live_server, graded):
    collector, customer = graded
    page = browser_page
    login(page, live_server, collector.username)
    page.goto(f"{live_server.url}/customers/{customer.account_no}/")
    panel = page.locator("#risk-panel")
    panel.wait_for()
    score = CreditScore.objects.filter(customer=customer).order_by("-as_of").first()
    # Seven unpaid bills, the oldest 210 days overdue and no agreement: forced to C.
    assert score.grade == "C" and score.override == "long_arrears"
    assert "C" in page.inner_text("#risk-grade")
    breakdown = page.inner_text("#risk-breakdown")
    assert "paid 0 of the last 7 bills on time" in breakdown
    assert "Steel: energy-intensive industry" in breakdown
    assert "Three months of arrears without an agreement" in page.inner_text("#risk-override")
    assert page.locator("#risk-trend tbody tr").count() == 2  # a month ago (AA) and today (C)
    page.screenshot(path=str(ARTIFACTS / "risk-01-grade-english.png"), full_page=True)

    switch_language(page, "zh-hans")
    page.locator("#risk-panel").wait_for()
    breakdown = page.inner_text("#risk-breakdown")
    assert "最近7期电费按时缴纳0期" in breakdown
    assert "钢铁：高耗能行业" in breakdown
    assert "欠费超过三个月且无协议" in page.inner_text("#risk-override")
    page.screenshot(path=str(ARTIFACTS / "risk-02-grade-chinese.png"), full_page=True)

    # Rescoring from the page (the same day's score is replaced, not added).
    with page.expect_response(lambda r: "rescore" in r.url):
        page.click("#risk-rescore button")
    page.locator("#risk-panel").wait_for()
    assert CreditScore.objects.filter(customer=customer).count() == 2
    switch_language(page, "en")
    page.screenshot(path=str(ARTIFACTS / "risk-03-after-rescore.png"), full_page=True)
