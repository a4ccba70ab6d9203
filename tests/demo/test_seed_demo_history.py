"""The demo history (billing.demo, `seed_demo --months`): readings, bills, payments and penalties
that look like a real portfolio's and that the billing ledger agrees with."""

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import F, Sum
from django.utils import timezone

from billing.demo import ARCHETYPES, _exact_problems, demo_history_seed
from billing.models import (
    Bill,
    BillingRun,
    BillLine,
    CustomerTariff,
    MeterReading,
    Payment,
    PaymentAllocation,
    PaymentReversal,
    PenaltyAccrual,
)
from billing.selectors import payment_unallocated
from billing.services.readings import CUMULATIVE
from billing.services.statements import reconcile
from customers.demo import demo_portfolio_seed
from customers.models import Contact, Customer, MeterPoint, ServiceVisit

pytestmark = pytest.mark.django_db

BILLED = ("monthly", "instalments")
# Pinned to the 3rd week of the previous month, so the assertions never depend on whether the
# tests run on the 1st of a month (when the last bill was issued today and nothing is yet paid).
TODAY = timezone.localdate().replace(day=1) - timedelta(days=10)


def history(*, customers: int = 12, seed: int = 5, months: int = 3, prepaid: bool = True):
    demo_portfolio_seed(customers=customers, seed=seed, with_users=False, today=TODAY)
    if prepaid:
        # One prepaid customer whatever the archive drew: it is read, but never billed here.
        first = Customer.objects.filter(settlement_mode__in=BILLED).exclude(operating_status="closed").first()
        Customer.objects.filter(pk=first.pk).update(settlement_mode="prepaid_remote", remote_control_agreement=True)
    return demo_history_seed(customers=Customer.objects.all(), seed=seed, months=months, today=TODAY)


def ledger_agrees() -> None:
    if connection.vendor == "postgresql":
        assert reconcile() == []
    else:
        # SQLite sums NUMERIC in binary floating point; the exact re-check is what holds there.
        assert _exact_problems() == []


def billed_periods(today: date, months: int) -> list[str]:
    first = today.replace(day=1)
    periods = []
    for back in range(months, 0, -1):
        index = first.year * 12 + first.month - 1 - back
        periods.append(f"{index // 12}-{index % 12 + 1:02d}")
    return periods


def test_every_meter_in_service_is_read_daily_with_registers_that_only_grow():
    result = history()

    meters = MeterPoint.objects.filter(customer__operating_status__in=["normal", "reduced", "suspended", "bankrupt"])
    readings = defaultdict(list)
    for row in MeterReading.objects.order_by("meter_id", "read_on").values_list("meter_id", "read_on", *CUMULATIVE):
        readings[row[0]].append(row[1:])
    assert set(readings) == set(meters.values_list("pk", flat=True))
    assert result.readings == sum(len(rows) for rows in readings.values())
    for meter in meters:
        rows = readings[meter.pk]
        start = max(rows[0][0], meter.installed_on or rows[0][0])
        assert rows[0][0] == start  # read from its installation day, or from the start of the history
        assert rows[-1][0] == TODAY - timedelta(days=1)
        assert [r[0] for r in rows] == [start + timedelta(days=i) for i in range(len(rows))]  # daily
        for previous, current in zip(rows, rows[1:], strict=False):
            assert all(b >= a for a, b in zip(previous[1:], current[1:], strict=True)), meter
        for _day, total, critical, peak, flat, valley, _reactive in rows:
            assert total == critical + peak + flat + valley
    assert MeterReading.objects.filter(max_demand_kw__gt=0).count() == result.readings


def test_billable_customers_get_a_bill_per_complete_month_whose_total_is_its_lines():
    result = history()

    periods = billed_periods(TODAY, 3)
    assert result.periods == periods
    billable = Customer.objects.filter(settlement_mode__in=BILLED).exclude(operating_status="closed")
    # Every open customer has a tariff: billed ones for their bills, prepaid ones for the daily charge.
    assert set(CustomerTariff.objects.values_list("customer_id", flat=True)) == set(
        Customer.objects.exclude(operating_status="closed").values_list("pk", flat=True)
    )
    history_start = MeterReading.objects.order_by("read_on").values_list("read_on", flat=True).first()
    for customer in billable:
        # Instalment customers also have this month's instalments: the monthly bills are what is checked.
        periods_billed = set(Bill.objects.filter(customer=customer, kind="monthly").values_list("period", flat=True))
        if all((m.installed_on or history_start) <= history_start for m in customer.meter_points.all()):
            assert periods_billed == set(periods), customer.account_no
        else:
            assert periods_billed <= set(periods)  # a meter installed later: billed from then
    lines = dict(BillLine.objects.values("bill_id").annotate(s=Sum("amount")).values_list("bill_id", "s"))
    for bill in Bill.objects.filter(kind="monthly"):
        assert bill.total == lines[bill.pk] and bill.total > 0
        assert bill.issued_on <= TODAY and bill.issued_on.day == 1
        assert bill.power_factor is None or Decimal("0.75") <= bill.power_factor <= Decimal("0.99")
    assert not Bill.objects.exclude(customer__in=billable).exists()  # prepaid: read, not billed
    assert not Payment.objects.exclude(customer__in=billable).filter(prepaid_entry__isnull=True).exists()
    assert BillingRun.objects.filter(status="done").count() == 3
    ledger_agrees()


def test_payments_follow_each_behaviour_with_penalties_credit_and_a_bank_return():
    result = history(customers=16, seed=5)

    assert set(result.archetypes) == set(ARCHETYPES)
    by_account = result.archetype_of
    # Top-ups of the prepaid accounts (the last month) are payments too, counted apart.
    assert result.payments == Payment.objects.filter(prepaid_entry__isnull=True).count() > 0
    paid = Bill.objects.filter(status="paid")
    assert paid.exists()
    for payment in Payment.objects.filter(prepaid_entry__isnull=True).select_related("customer"):
        assert payment.external_ref.startswith(f"DEMO-{payment.customer.account_no}-")
        assert payment.received_at.date() < TODAY
    assert Payment.objects.values("channel").distinct().count() >= 2
    # The customers in deep arrears owe for their last months, with penalties running.
    for account, archetype in by_account.items():
        bills = Bill.objects.filter(customer__account_no=account, kind="monthly").order_by("period")
        if archetype == "prompt":
            # Paid before the due date (a returned payment is paid again within days).
            assert not bills.filter(due_on__lt=TODAY - timedelta(days=20)).exclude(status="paid").exists(), account
        if archetype in ("sliding", "arrears"):
            overdue = bills.filter(due_on__lt=TODAY).exclude(status="paid")
            assert overdue.exists(), account
            assert PenaltyAccrual.objects.filter(bill__in=overdue).aggregate(s=Sum("amount"))["s"] > 0
    assert result.overdue_bills > 0 and result.customers_in_arrears > 0
    # Credit: an overpayment still on the account, or one that a later bill (or this month's
    # instalments) has already used.
    credit = payment_unallocated(Payment.objects.filter(status="posted", prepaid_entry__isnull=True)).filter(
        unallocated__gt=Decimal("0.005")
    )
    used_later = PaymentAllocation.objects.filter(
        reversal__isnull=True, bill__issued_on__gt=F("payment__received_at__date")
    ).exists()
    assert credit.exists() or used_later
    # A bank return, with its reason, that re-opened what the payment had paid.
    reversal = PaymentReversal.objects.select_related("payment").get()
    assert reversal.reason.startswith("银行退票")
    assert reversal.payment.status == "reversed"
    net = PaymentAllocation.objects.filter(payment=reversal.payment).aggregate(s=Sum("principal"))["s"]
    assert net == 0
    ledger_agrees()


def test_a_customer_sliding_into_trouble_uses_less_and_less():
    result = history(customers=16, seed=5, months=4)

    sliding = [account for account, archetype in result.archetype_of.items() if archetype == "sliding"]
    assert sliding
    start = MeterReading.objects.order_by("read_on").values_list("read_on", flat=True).first()
    for account in sliding:
        if MeterPoint.objects.filter(customer__account_no=account, installed_on__gt=start).exists():
            continue  # its first bill covers part of a month only
        bills = Bill.objects.filter(customer__account_no=account, kind="monthly").order_by("period")
        kwh = list(bills.values_list("total_kwh", flat=True))
        # Down to a third or a half over the last 2–3 months: more than any season moves it.
        assert kwh[-1] < kwh[0], (account, kwh)


def _wipe() -> None:
    from billing.models import ControlCommand, DailyUsage, Forecast, InstalmentChange, PrepaidAccount, PrepaidEntry
    from customers.models import Notification

    for model in (PrepaidEntry, ControlCommand, PrepaidAccount, DailyUsage, Forecast, InstalmentChange, Notification):
        model.objects.all().delete()
    for model in (PaymentAllocation, PaymentReversal, Payment, PenaltyAccrual, BillLine, Bill, BillingRun):
        model.objects.all().delete()
    for model in (MeterReading, CustomerTariff, ServiceVisit, Contact, MeterPoint, Customer):
        model.objects.all().delete()


def _snapshot() -> tuple:
    bills = sorted(Bill.objects.values_list("customer__account_no", "period", "total", "status"))
    payments = sorted(Payment.objects.values_list("external_ref", "amount", "channel", "received_at", "status"))
    penalties = PenaltyAccrual.objects.aggregate(s=Sum("amount"))["s"]
    return bills, payments, penalties


def test_the_same_seed_gives_the_same_history():
    history(seed=9, prepaid=False)
    first = _snapshot()
    _wipe()

    history(seed=9, prepaid=False)

    assert _snapshot() == first
    assert first[0] and first[1]


def test_the_command_adds_the_history_unless_told_not_to():
    out = StringIO()
    call_command("seed_demo", customers=6, seed=3, months=2, no_users=True, stdout=out)

    assert "History" in out.getvalue() and "payments" in out.getvalue()
    assert MeterReading.objects.exists() and Bill.objects.exists()
    ledger_agrees()

    out = StringIO()
    call_command("seed_demo", customers=6, seed=4, no_users=True, no_history=True, stdout=out)
    newest = Customer.objects.order_by("-account_no")[:6]
    assert not MeterReading.objects.filter(meter__customer__in=newest).exists()
    assert not Bill.objects.filter(customer__in=newest).exists()
    assert "History" not in out.getvalue()


def test_the_command_refuses_a_history_length_it_cannot_bill():
    with pytest.raises(CommandError, match="--months"):
        call_command("seed_demo", customers=2, months=0, no_users=True, stdout=StringIO())


def test_the_last_months_look_as_the_daily_jobs_left_them():
    from billing.models import DailyUsage, Forecast, PrepaidAccount

    history()
    open_customers = Customer.objects.exclude(operating_status="closed")
    yesterday = TODAY - timedelta(days=1)
    assert (
        DailyUsage.objects.filter(day=yesterday).count()
        == open_customers.filter(meter_points__isnull=False).distinct().count()
    )
    assert Forecast.objects.filter(day=yesterday).exists()
    prepaid = open_customers.filter(settlement_mode__in=["prepaid_remote", "prepaid_card"])
    assert PrepaidAccount.objects.filter(customer__in=prepaid).count() == prepaid.count()
    assert reconcile() == []
