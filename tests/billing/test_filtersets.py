"""The bill FilterSet's drill-down filters, in the API and the list: arrears on a date with that
day's amounts, days overdue, the customer's dimensions, and the list's footer total."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.urls import reverse
from django.utils import timezone

from billing.services.payments import payment_record
from tests.factories import make_bill

pytestmark = pytest.mark.django_db


@pytest.fixture
def ledger(portfolio):
    """a1: 10,000 due 40 days ago, half paid today; a2: 3,000 due 100 days ago; b1: 500 due later."""
    today = timezone.localdate()
    make_bill(portfolio["a1"], "10000.00", today - dt.timedelta(days=40), number="F-1")
    make_bill(portfolio["a2"], "3000.00", today - dt.timedelta(days=100), number="F-2")
    make_bill(portfolio["b1"], "500.00", today + dt.timedelta(days=5), number="F-3")
    payment_record(customer=portfolio["a1"], amount=D("5000.00"), channel="counter", external_ref="F-P1")
    return today


def numbers(response) -> dict[str, tuple[str, str]]:
    assert response.status_code == 200, response.content
    return {b["number"]: (b["principal_due"], b["penalty_due"]) for b in response.json()["results"]}


def test_overdue_on_shows_what_was_unpaid_that_day(api_as, manager, ledger):
    api = api_as(manager)
    yesterday = ledger - dt.timedelta(days=1)
    # Yesterday today's payment had not arrived: a1's bill owed all its principal and the penalty
    # through yesterday (the payment accrued it before paying it first).
    before = numbers(api.get("/api/v1/bills/", {"overdue_on": yesterday.isoformat()}))
    assert set(before) == {"F-1", "F-2"} and before["F-1"][0] == "10000.00" and D(before["F-1"][1]) > 0
    now = numbers(api.get("/api/v1/bills/", {"overdue_on": ledger.isoformat()}))
    assert D(now["F-1"][0]) < D("10000.00") and now["F-1"][1] == "0.00" and now["F-2"] == ("3000.00", "0.00")
    # 50 days ago a1's bill was not yet due; on the calendar's last day everything is.
    fifty_days_ago = (ledger - dt.timedelta(days=50)).isoformat()
    assert set(numbers(api.get("/api/v1/bills/", {"overdue_on": fifty_days_ago}))) == {"F-2"}
    assert numbers(api.get("/api/v1/bills/", {"overdue_on": "9999-12-31"})).keys() == {"F-1", "F-2", "F-3"}


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [(None, 30, set()), (31, 60, {"F-1"}), (61, 90, set()), (91, 180, {"F-2"}), (181, None, set()), (40, 40, {"F-1"})],
)
def test_days_overdue_select_the_aging_buckets(api_as, manager, ledger, low, high, expected):
    params = {"overdue_on": ledger.isoformat()}
    params |= {"overdue_days_min": low} if low is not None else {}
    params |= {"overdue_days_max": high} if high is not None else {}
    assert set(numbers(api_as(manager).get("/api/v1/bills/", params))) == expected


def test_the_customers_dimensions_filter_bills(api_as, manager, collector, ledger, portfolio, regions):
    api = api_as(manager)
    portfolio["a2"].credit_grade = "C"
    portfolio["a2"].importance = "class_1"
    portfolio["a2"].save()
    assert set(numbers(api.get("/api/v1/bills/", {"grade": "C"}))) == {"F-2"}
    assert set(numbers(api.get("/api/v1/bills/", {"grade": "none"}))) == {"F-1", "F-3"}
    assert set(numbers(api.get("/api/v1/bills/", {"importance": "class_1"}))) == {"F-2"}
    assert set(numbers(api.get("/api/v1/bills/", {"collector": collector.pk}))) == {"F-1", "F-2"}
    assert set(numbers(api.get("/api/v1/bills/", {"collector": "none"}))) == set()
    assert set(numbers(api.get("/api/v1/bills/", {"region": regions["district_b"].pk}))) == {"F-3"}  # its subtree
    assert set(numbers(api.get("/api/v1/bills/", {"settlement_mode": "monthly", "industry": "manufacturing"}))) == {
        "F-1", "F-2", "F-3"}  # fmt: skip


@pytest.mark.parametrize(
    "params",
    [
        {"overdue_on": "2026-02-30"},
        {"overdue_days_min": "-1"},
        {"overdue_days_max": "many"},
        {"grade": "not a grade"},
        {"collector": "x"},
        {"region": "0"},
        {"industry": "mining"},
    ],
)
def test_bad_drill_down_filters_are_400s(api_as, manager, ledger, params):
    response = api_as(manager).get("/api/v1/bills/", params)
    assert response.status_code == 400 and set(params) <= set(response.json())


def test_the_calendars_edges_are_no_500(api_as, manager, ledger):
    api = api_as(manager)
    assert api.get("/api/v1/bills/", {"overdue_on": "0001-01-01", "overdue_days_min": 5}).status_code == 200
    assert api.get("/api/v1/bills/", {"overdue_on": "0001-01-02", "overdue_days_max": 36500}).status_code == 200


def test_the_list_footer_totals_the_filtered_rows(client, manager, ledger):
    client.force_login(manager)
    response = client.get(reverse("billing:bill_list"), {"overdue_on": ledger.isoformat(), "page_size": 25})
    totals = response.context["totals"]
    rows = response.context["page"].object_list
    assert totals["total"] == D("13000.00") == sum(b.total for b in rows)
    assert totals["amount_due"] == sum(b.principal_due + b.penalty_due for b in rows) < D("13000.00")
    html = response.content.decode()
    assert 'id="bill-totals"' in html and f"¥{totals['amount_due']:,.2f}" in html and "Amount due on" in html
    assert "Overdue on" in html  # the drill-down filter is named above the table
    assert client.get(reverse("billing:bill_list")).context["totals"] is None  # unfiltered: no pass over every bill


def test_a_drill_down_filter_is_kept_by_the_form_and_can_be_dropped(client, manager, ledger):
    client.force_login(manager)
    html = client.get(reverse("billing:bill_list"), {"overdue_on": ledger.isoformat(), "q": "F-"}).content.decode()
    assert f'<input type="hidden" name="overdue_on" value="{ledger.isoformat()}">' in html
    assert f'href="{reverse("billing:bill_list")}?q=F-"' in html  # the chip's link without it
