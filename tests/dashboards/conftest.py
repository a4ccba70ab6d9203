"""A small book for the dashboard tests: two areas, five customers differing in every
dimension, bills in every aging bucket, the last few days' penalties, part payments today, an
activity and cut-off orders — and the summary built from it, today and at last month's end.

    area A (leader_a): a1 collector_a steel     grade C  monthly        normal   7,000 >180 + 10,000 31–60 + 2,000 ≤30
                       a2 collector_a hospital  grade A  monthly        class 1  3,000 91–180 + 4,000 61–90
                       a3 (no collector) manuf. no grade instalments    normal   1,500 ≤30, 500 paid today
    area B:            b1 collector_b chemical  grade B  prepaid_remote normal   800 61–90 + 5,000 ≤30, 3,000 paid
                       b2 collector_b manuf.    grade AA monthly        normal   nothing overdue (a bill due later)
"""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.utils import timezone

from billing.services.payments import payment_record
from billing.services.penalties import penalties_accrue
from collection.models import CutoffOrder
from collection.services import activity_log
from dashboards.summary import month_bounds, summary_rebuild
from tests.factories import CustomerFactory, make_bill


@pytest.fixture
def today():
    return timezone.localdate()


@pytest.fixture
def last_month_end(today):
    return month_bounds(today)[0] - dt.timedelta(days=1)


@pytest.fixture
def book(regions, collector, other_collector, today, last_month_end):
    a, b = regions["a"], regions["b"]
    customers = {
        "a1": CustomerFactory(account_no="3200000001", name="Steel A1", region=a, collector=collector,
                              industry="steel", credit_grade="C"),
        "a2": CustomerFactory(account_no="3200000002", name="Hospital A2", region=a, collector=collector,
                              industry="hospital", credit_grade="A", importance="class_1"),
        "a3": CustomerFactory(account_no="3200000003", name="Works A3", region=a, collector=None,
                              industry="manufacturing", settlement_mode="instalments", instalments_per_month=3),
        "b1": CustomerFactory(account_no="3200000004", name="Chem B1", region=b, collector=other_collector,
                              industry="chemical", credit_grade="B", settlement_mode="prepaid_remote"),
        "b2": CustomerFactory(account_no="3200000005", name="Works B2", region=b, collector=other_collector,
                              industry="manufacturing", credit_grade="AA"),
    }  # fmt: skip

    def bill(key, amount, due_days_ago, n):
        return make_bill(customers[key], amount, today - dt.timedelta(days=due_days_ago), number=f"DB-{key}-{n}")

    bill("a1", "7000.00", 200, 1)
    bill("a1", "10000.00", 40, 2)
    bill("a1", "2000.00", 5, 3)
    bill("a2", "3000.00", 100, 1)
    bill("a2", "4000.00", 75, 2)
    bill("a3", "1500.00", 20, 1)
    bill("b1", "800.00", 65, 1)
    bill("b1", "5000.00", 10, 2)
    bill("b2", "1200.00", -10, 1)
    # A few days of penalty are enough to show it is counted (accruing 200 days is slow).
    penalties_accrue(through=today - dt.timedelta(days=1), since=today - dt.timedelta(days=4))
    payment_record(customer=customers["a3"], amount=D("500.00"), channel="counter", external_ref="DB-P1")
    payment_record(customer=customers["b1"], amount=D("3000.00"), channel="counter", external_ref="DB-P2")
    activity_log(customer=customers["a1"], kind="call", by=collector, outcome="promised", note="Pays next week")
    CutoffOrder.objects.create(customer=customers["a1"], status="proposed", reason="Arrears over 30 days",
                               planned_at=timezone.now() + dt.timedelta(days=3))  # fmt: skip
    CutoffOrder.objects.create(customer=customers["b1"], status="executed", reason="Arrears over 30 days",
                               planned_at=timezone.now() - dt.timedelta(days=1))  # fmt: skip
    summary_rebuild(as_of=last_month_end)
    summary_rebuild()
    return customers
