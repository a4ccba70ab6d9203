"""The arrears summary: a full rebuild against hand-added figures, a past date, and the
incremental refresh recomputing only what changed."""

import datetime as dt
from collections import Counter
from decimal import Decimal as D

import pytest
from django.db.models import Sum
from django.utils import timezone

from billing.services.payments import payment_record
from customers.services import customer_grades_set
from dashboards.models import ArrearsPosition, ArrearsRollup, ArrearsSummary, SummaryState
from dashboards.summary import summary_rebuild, summary_refresh
from tests.factories import make_bill

pytestmark = pytest.mark.django_db


def totals(as_of, **filters):
    return ArrearsSummary.objects.filter(as_of=as_of, **filters).aggregate(
        arrears=Sum("arrears"), customers=Sum("customers"), overdue=Sum("overdue_customers"),
        a0=Sum("aged_0_30"), a31=Sum("aged_31_60"), a61=Sum("aged_61_90"), a91=Sum("aged_91_180"),
    )  # fmt: skip


@pytest.fixture
def book(portfolio):
    today = timezone.localdate()
    make_bill(portfolio["a1"], "10000.00", today - dt.timedelta(days=40), number="D-1")
    make_bill(portfolio["a1"], "2000.00", today - dt.timedelta(days=5), number="D-2")
    make_bill(portfolio["a2"], "3000.00", today - dt.timedelta(days=100), number="D-3")
    make_bill(portfolio["b1"], "5000.00", today - dt.timedelta(days=10), number="D-4")
    # Enough to clear the bill and any penalty the payment settles first; the rest is credit.
    payment_record(customer=portfolio["b1"], amount=D("6000.00"), channel="counter", external_ref="D-P1")
    return today


def test_rebuild_adds_up_by_bucket_and_area(book, regions):
    summary_rebuild()
    # No penalty job has run: arrears are the open principal. a1: 10,000 (40 days → 31–60)
    # + 2,000 (5 days → 0–30); a2: 3,000 (100 days → 91–180); b1 paid: nothing.
    assert totals(book) == {"arrears": D("15000.00"), "customers": 3, "overdue": 2, "a0": D("2000.00"),
                            "a31": D("10000.00"), "a61": D("0.00"), "a91": D("3000.00")}  # fmt: skip
    assert totals(book, region=regions["a"])["arrears"] == D("15000.00")
    assert totals(book, region=regions["b"]) == {"arrears": D("0.00"), "customers": 1, "overdue": 0, "a0": D("0.00"),
                                                 "a31": D("0.00"), "a61": D("0.00"), "a91": D("0.00")}  # fmt: skip
    assert summary_rebuild() == ArrearsSummary.objects.filter(as_of=book).count()  # a rebuild replaces, not adds


def test_a_past_date_counts_what_was_owed_then(book):
    past = book - dt.timedelta(days=20)
    summary_rebuild(as_of=past)
    # 20 days ago: D-1 was 20 days overdue (0–30), D-3 80 days (61–90); D-2 and D-4 not yet due.
    assert totals(past) == {"arrears": D("13000.00"), "customers": 3, "overdue": 2, "a0": D("10000.00"),
                            "a31": D("0.00"), "a61": D("3000.00"), "a91": D("0.00")}  # fmt: skip
    assert SummaryState.objects.count() == 0  # a past date leaves today's positions alone


def test_refresh_recomputes_only_the_customers_that_changed(book, portfolio):
    summary_rebuild()
    assert summary_refresh() == 0
    payment_record(customer=portfolio["a2"], amount=D("4000.00"), channel="counter", external_ref="D-P2")
    assert summary_refresh() == 1  # a2 only
    assert totals(book) == {"arrears": D("12000.00"), "customers": 3, "overdue": 1, "a0": D("2000.00"),
                                 "a31": D("10000.00"), "a61": D("0.00"), "a91": D("0.00")}  # fmt: skip
    assert summary_refresh() == 0  # nothing changed since: nothing recomputed


def test_dashboard_answers_are_cached_until_the_next_refresh(book, portfolio, manager, api_as):
    summary_rebuild()
    api = api_as(manager)
    first = api.get("/api/v1/dashboard/arrears/", {"group_by": "region"}).json()
    assert first["totals"]["arrears"] == "15000.00"
    # A payment changes nothing shown until the summary is refreshed; then the answer is new.
    payment_record(customer=portfolio["a2"], amount=D("4000.00"), channel="counter", external_ref="D-P3")
    assert api.get("/api/v1/dashboard/arrears/", {"group_by": "region"}).json() == first
    summary_refresh()
    assert api.get("/api/v1/dashboard/arrears/", {"group_by": "region"}).json()["totals"]["arrears"] == "12000.00"


def test_a_grade_from_the_scoring_run_reaches_the_summary_at_the_next_refresh(book, portfolio):
    summary_rebuild()
    assert summary_refresh() == 0
    a1, a2 = portfolio["a1"], portfolio["a2"]
    customer_grades_set({a2.pk: "C"})
    assert summary_refresh() == 1  # the grade is a dimension: a2 moves to another summary row
    assert ArrearsPosition.objects.get(customer=a2).grade == "C"
    grades = dict(
        ArrearsRollup.objects.filter(as_of=book, grain="region,grade", region=a2.region).values_list(
            "grade", "customers"
        )
    )
    assert grades == dict(Counter([a1.credit_grade, "C"]))
