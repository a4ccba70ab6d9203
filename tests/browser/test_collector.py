"""A collector's day in a real Chromium against a live server, in English and in Chinese: log in,
land on Today's work (biggest money at risk first), open a customer, log a call with its outcome,
record a promise to pay for tomorrow and see both on the customer page; a promise in the past is
refused with a clear error and not stored.

Same browser as test_smoke.py: Debian's Chromium, never a downloaded one. Screenshots of each
step go to test-artifacts/.
"""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.utils import timezone

from collection.models import Activity, PromiseToPay
from tests.browser.conftest import ARTIFACTS, PASSWORD, login, needs_chromium, switch_language
from tests.factories import CustomerFactory, RegionFactory, UserFactory, make_bill

pytestmark = [pytest.mark.browser, needs_chromium]


@pytest.fixture
def collectors_area():
    """A collector with three customers in arrears since the last days, and a customer of
    another collector with more money at risk than any of them (not theirs to see)."""
    collector = UserFactory(username="collector_wang", first_name="Wang", role="collector")
    collector.set_password(PASSWORD)
    collector.save()
    other = UserFactory(username="collector_li", role="collector")
    area = RegionFactory(code="BZ", name="Binjiang Area")
    today = timezone.localdate()
    customers = {}
    for key, account_no, name, amount, days in [
        ("steel", "3200000001", "Binjiang Steel", "120000.00", 2),
        ("cement", "3200000002", "Riverside Cement", "50000.00", 1),
        ("hospital", "3200000003", "East Hospital", "8000.00", 3),
        ("foreign", "3200000004", "Someone Else's Chemicals", "999999.00", 1),
    ]:
        customer = CustomerFactory(
            account_no=account_no, name=name, region=area, collector=other if key == "foreign" else collector
        )
        due_on = today - dt.timedelta(days=days)
        make_bill(customer, amount, due_on, number=f"BRW-{account_no}")
        customers[key] = customer
    return collector, customers


def _shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"collector-{name}.png"), full_page=True)


def _worklist_rows(page) -> list[str]:
    return [row.inner_text() for row in page.locator("#worklist tbody tr").all()]


def _do_the_work(page, *, customer, labels: dict, step: str, amount: str, note: str) -> None:
    """From the worklist: open the customer, log a call, record a promise for tomorrow, try one
    for yesterday. `labels` are the texts the user sees in the current language."""
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    yesterday = timezone.localdate() - dt.timedelta(days=1)

    with page.expect_navigation():
        page.locator("#worklist tbody tr", has_text=customer.account_no).get_by_role("link", name=customer.name).click()
    assert page.url.endswith(f"/customers/{customer.account_no}/")
    page.wait_for_selector("#activity-form")  # the collections panel arrives through htmx
    assert labels["panel"] in page.content()
    _shot(page, f"{step}-1-customer")

    form = page.locator("#activity-form")
    form.locator("select[name=kind]").select_option("call")
    form.locator("select[name=outcome]").select_option("reached")
    form.locator("textarea[name=note]").fill(note)
    with page.expect_navigation():
        form.get_by_role("button", name=labels["log"]).click()
    assert labels["logged"] in page.inner_text("main .alert-success")
    page.wait_for_selector("#activity-log")
    log = page.inner_text("#activity-log")
    assert labels["call"] in log and labels["reached"] in log and note in log
    _shot(page, f"{step}-2-call-logged")

    promise = page.locator("#promise-form")
    promise.locator("input[name=promised_on]").fill(tomorrow.isoformat())
    promise.locator("input[name=amount]").fill(amount)
    with page.expect_navigation():
        promise.get_by_role("button", name=labels["promise"]).click()
    assert labels["promised"] in page.inner_text("main .alert-success")
    page.wait_for_selector("#promises")
    promises = page.inner_text("#promises")
    assert tomorrow.isoformat() in promises and f"¥{D(amount):,.2f}" in promises
    assert note in page.inner_text("#activity-log")  # the call is still there with the promise
    _shot(page, f"{step}-3-promise-recorded")

    promise = page.locator("#promise-form")
    promise.locator("input[name=promised_on]").fill(yesterday.isoformat())
    promise.locator("input[name=amount]").fill("1.00")
    with page.expect_navigation():
        promise.get_by_role("button", name=labels["promise"]).click()
    assert labels["past"] in page.inner_text("main .alert-danger")
    page.wait_for_selector("#promises")
    assert yesterday.isoformat() not in page.inner_text("#promises")
    assert not PromiseToPay.objects.filter(customer=customer, promised_on=yesterday).exists()
    _shot(page, f"{step}-4-past-promise-refused")


ENGLISH = {
    "title": "Today's work",
    "panel": "Collections: calls, promises and notices",
    "log": "Log activity",
    "logged": "Activity recorded.",
    "call": "Call",
    "reached": "Reached the customer",
    "promise": "Record promise",
    "promised": "Promise recorded.",
    "past": "A promise is for today or a later day.",
}
# As locale/zh_Hans/LC_MESSAGES/django.po translates them.
CHINESE = {
    "title": "今日工作",
    "panel": "催收：电话、缴费承诺与通知",
    "log": "登记催收记录",
    "logged": "催收记录已保存。",
    "call": "电话",
    "reached": "已联系上客户",
    "promise": "登记缴费承诺",
    "promised": "缴费承诺已登记。",
    "past": "承诺日期须为今天或以后。",
}


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_collector_works_todays_list_in_english_and_in_chinese(browser_page, live_server, collectors_area):
    collector, customers = collectors_area
    page = browser_page

    login(page, live_server, collector.username)
    assert page.url == f"{live_server.url}/collection/worklist/"  # everyone lands on today's work
    assert page.inner_text("h1") == ENGLISH["title"]
    rows = _worklist_rows(page)
    # Only their own customers, the most money at risk first.
    assert [r.split("\n")[0] for r in rows] == ["Binjiang Steel", "Riverside Cement", "East Hospital"]
    assert "¥120,000.00" in rows[0] and "¥50,000.00" in rows[1] and "¥8,000.00" in rows[2]
    assert "Someone Else" not in page.content()
    _shot(page, "01-worklist")

    _do_the_work(
        page, customer=customers["steel"], labels=ENGLISH, step="02-en", amount="120000.00",
        note="Finance manager will pay tomorrow",
    )  # fmt: skip

    switch_language(page, "zh-hans")
    page.goto(f"{live_server.url}/")
    assert page.url.endswith("/collection/worklist/")
    assert page.inner_text("h1") == CHINESE["title"]
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    assert [r.split("\n")[0] for r in _worklist_rows(page)][:2] == ["Binjiang Steel", "Riverside Cement"]
    _shot(page, "03-worklist-zh")

    _do_the_work(
        page, customer=customers["cement"], labels=CHINESE, step="04-zh", amount="50000.00",
        note="财务科长说明天付款",
    )  # fmt: skip

    switch_language(page, "en")
    page.goto(f"{live_server.url}/")
    assert page.inner_text("h1") == ENGLISH["title"]
    _shot(page, "05-back-in-english")

    # What the pages showed is what was stored: one call and one promise per customer.
    for key, amount in (("steel", "120000.00"), ("cement", "50000.00")):
        customer = customers[key]
        assert list(PromiseToPay.objects.filter(customer=customer).values_list("amount", "created_by")) == [
            (D(amount), collector.pk)
        ]
        assert Activity.objects.filter(customer=customer, kind="call", outcome="reached", by=collector).count() == 1
