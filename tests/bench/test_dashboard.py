"""`seed_demo --scale` (billing.demo_scale) and the dashboard benchmark (bench/dashboard.py) at a
tiny size: the bulk history holds together as the services would have left it, and the summary
agrees with a live computation. No timing is asserted."""

import datetime as dt
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count, Max, Min, Q, Sum
from django.utils import timezone

from bench.common import Latencies
from bench.dashboard import export_filter, inprocess_measure, load, summary_measure
from billing.demo import ARCHETYPES
from billing.demo_scale import demo_payments_import
from billing.models import Bill, BillLine, MeterReading, Payment, PaymentAllocation, PenaltyAccrual
from billing.selectors import bills_with_balances, payment_unallocated
from billing.services.penalties import _rounded_total, penalties_accrue
from billing.services.statements import reconcile
from customers.models import Customer, Region
from dashboards.models import ArrearsSummary
from tests.factories import make_bill

pytestmark = pytest.mark.django_db

CUSTOMERS = 200


@pytest.fixture
def province():
    out = StringIO()
    call_command("seed_demo", scale=CUSTOMERS, seed=7, stdout=out)
    return out.getvalue()


def test_it_refuses_customers_and_scale_together():
    with pytest.raises(CommandError, match="not both"):
        call_command("seed_demo", scale=10, customers=10, stdout=StringIO())


def test_a_scaled_seed_is_a_consistent_province(province):
    """One seed for these checks: a seed is the slow part of this file."""
    _every_area_behaviour_and_grade(province)
    _it_reconciles_and_nothing_is_over_allocated()
    _the_penalty_days_are_the_nightly_jobs()


def _every_area_behaviour_and_grade(province):
    assert Customer.objects.count() == CUSTOMERS
    assert Region.objects.filter(kind="area").count() == 30  # every area of the pool
    assert "Written in bulk" in province
    for archetype in ARCHETYPES:
        assert f"{archetype} " in province.split("Payment behaviour", 1)[1].splitlines()[0]
    open_customers = Customer.objects.exclude(operating_status="closed")
    assert not open_customers.filter(credit_grade="").exists()
    assert set(open_customers.values_list("credit_grade", flat=True)) <= {"AAA", "AA", "A", "B", "C"}
    # Readings for one customer in a hundred only; bills for every billed customer and month.
    read = set(MeterReading.objects.values_list("meter__customer", flat=True).distinct())
    assert 1 <= len(read) <= CUSTOMERS // 100
    billed = open_customers.filter(settlement_mode__in=["monthly", "instalments"])
    assert Bill.objects.values("customer").distinct().count() == billed.count()
    assert Bill.objects.values("period").distinct().count() == 13


def _it_reconciles_and_nothing_is_over_allocated():
    assert reconcile() == []
    assert not bills_with_balances().filter(Q(principal_due__lt=0) | Q(penalty_due__lt=0)).exists()
    assert not payment_unallocated().filter(unallocated__lt=0).exists()
    # Every bill's lines add up to it; its status follows its balance.
    lines = dict(BillLine.objects.values("bill").annotate(s=Sum("amount")).values_list("bill", "s"))
    for bill in bills_with_balances():
        assert lines[bill.pk] == bill.total
        settled = bill.principal_due == 0 and bill.penalty_due == 0
        assert (bill.status == "paid") == settled, bill.number
    # Some of each: paid bills, overdue bills, partly paid bills, credit on a payment.
    assert Bill.objects.filter(status="paid").exists() and Bill.objects.filter(status="partly_paid").exists()
    today = timezone.localdate()
    assert Bill.objects.filter(due_on__lt=today).exclude(status="paid").exists()
    assert payment_unallocated().filter(unallocated__gt=0).exists()
    assert PaymentAllocation.objects.filter(penalty__gt=0).exists()


def _the_penalty_days_are_the_nightly_jobs():
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    # Every overdue day is there through yesterday: the job finds nothing to add.
    assert penalties_accrue(through=yesterday) == 0
    # The rows of a bill add up to its rounded running total (¥1 minimum), one row a day, none missing.
    per_bill = PenaltyAccrual.objects.values("bill").annotate(
        exact=Sum("exact_amount"), amount=Sum("amount"), first=Min("accrued_on"), last=Max("accrued_on"), n=Count("id")
    )
    for row in per_bill:
        assert row["amount"] == _rounded_total(row["exact"], Decimal("1.00")), row
        assert row["n"] == (row["last"] - row["first"]).days + 1, row
    # The service itself writes the same rows for open bills (their payments as they are).
    open_bills = list(
        Bill.objects.exclude(status="paid").filter(penalties__isnull=False).distinct().order_by("id")[:10]
    )
    assert open_bills
    rows = PenaltyAccrual.objects.filter(bill__in=open_bills).order_by("bill", "accrued_on")
    fields = ("bill", "accrued_on", "principal", "rate", "amount")
    bulk = list(rows.values_list(*fields))
    rows.delete()
    penalties_accrue(through=yesterday, bills=Bill.objects.filter(pk__in=[b.pk for b in open_bills]))
    assert list(rows.values_list(*fields)) == bulk


def test_the_summary_after_a_days_payments_equals_the_live_figures(province):
    before = Payment.objects.count()
    figures = summary_measure(runs=1, payments=20, seed=3, budget=300, history=True)

    assert figures.imported == [20] and figures.refreshed[0] >= 20
    assert figures.live_matches, figures.mismatches
    assert len(figures.history_days) == 13 and figures.rebuild_rows > 0
    today = timezone.localdate()
    assert ArrearsSummary.objects.filter(as_of=today).aggregate(n=Sum("customers"))["n"] == CUSTOMERS
    assert inprocess_measure(calls=2).summary_rows == ArrearsSummary.objects.filter(as_of=today).count()
    # The day's import is as consistent as the seed: paid oldest first, penalty before principal.
    assert Payment.objects.count() - before == 20
    assert reconcile() == []
    assert not bills_with_balances().filter(Q(principal_due__lt=0) | Q(penalty_due__lt=0)).exists()
    imported = demo_payments_import(count=5, seed=9)
    assert imported.payments == 5
    balances = {bill.pk: bill for bill in bills_with_balances(Bill.objects.filter(customer__in=imported.customer_ids))}
    for payment in Payment.objects.filter(customer__in=imported.customer_ids, external_ref__startswith="IMPORT-"):
        allocations = list(payment.allocations.order_by("bill__due_on"))
        first_due = balances[allocations[0].bill_id].due_on
        older = [b for b in balances.values() if b.customer_id == payment.customer_id and b.due_on < first_due]
        settled = older + [balances[a.bill_id] for a in allocations[:-1]]
        assert all(b.principal_due == b.penalty_due == 0 for b in settled)  # oldest first
        last = allocations[-1]
        assert last.principal == 0 or balances[last.bill_id].penalty_due == 0  # penalty before principal


def test_the_export_filter_reaches_its_target(portfolio):
    today = timezone.localdate()
    for n, customer in enumerate(portfolio.values()):
        for month in range(3):
            make_bill(customer, "100.00", today - dt.timedelta(days=30 * month + n), number=f"X-{n}-{month}")
    query, bills = export_filter(5)
    assert bills == 5 and Bill.objects.filter(due_on__gte=dt.date.fromisoformat(query.split("=", 1)[1])).count() == 5


def test_the_load_counts_every_request_of_every_client():
    calls = []
    result = load(lambda n: (calls.append(n), (200, b""))[1], clients=3, requests=9, think=(0.01, 0.02), seconds=30)
    assert isinstance(result, Latencies) and result.count == len(calls) == 9 and result.errors == 0
    assert set(calls) == {0, 1, 2}  # each client makes its requests with its own credentials
