"""The data sources of the scorecard, gathered for a chunk of customers as of a date in a
handful of set-based queries (never a query per customer), using only what was known on that
date — so the backtest can score the past honestly.

Each source gives, per customer, a `Fact`: a numeric value the criterion maps to points (None
when there is not enough history) and the figures its reason is written from.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db.models import Count, F, Max, Q, Subquery, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from billing.choices import BillKindChoices
from billing.models import Bill, Guarantee, PrepaidEntry
from collection.models import PaymentArrangement, PromiseToPay
from core.formatting import money
from customers.choices import CustomerConditionChoices as CONDITION
from customers.choices import CustomerIndustryChoices as INDUSTRY
from customers.choices import CustomerOperatingStatusChoices as STATUS
from customers.models import Customer, ServiceVisit

from .choices import CriterionSourceChoices as SRC

ZERO = Decimal("0")
YEAR = dt.timedelta(days=365)
STATUS_VALUE = {STATUS.NORMAL: 1.0, STATUS.REDUCED: 0.5, STATUS.SUSPENDED: 0.2, STATUS.BANKRUPT: 0.0,
                STATUS.CLOSED: 0.0}  # fmt: skip
CONDITION_VALUE = {"good": 1.0, "fair": 0.6, "poor": 0.2}
LONG_ARREARS_DAYS = 90
NEW_CUSTOMER_BILLS = 6


@dataclass
class Fact:
    value: float | None
    facts: dict = field(default_factory=dict)


@dataclass
class CustomerInputs:
    customer: Customer
    sources: dict[str, Fact] = field(default_factory=dict)
    bills_count: int = 0
    theft_on: dt.date | None = None
    oldest_overdue_days: int = 0
    arranged: bool = False
    average_bill: Decimal = ZERO
    cover: Decimal = ZERO


def _pct(value: float) -> str:
    return f"{Decimal(value * 100).quantize(Decimal('1'), rounding=ROUND_HALF_UP)}%"


def gather(customers: list[Customer], as_of: dt.date) -> dict[int, CustomerInputs]:
    ids = [c.pk for c in customers]
    out = {c.pk: CustomerInputs(c) for c in customers}
    year_ago = as_of - YEAR

    # Bills issued by the day, with what had been paid on them by their due date and by the day.
    # Allocations carry the day they count from (a reversal writes negative ones), so sums up to
    # a date are what was known then.
    bills = (
        Bill.objects.filter(customer_id__in=ids, issued_on__lte=as_of)
        .annotate(
            paid_by_due=Sum("allocations__principal", filter=Q(allocations__allocated_on__lte=F("due_on"))),
            paid_by_day=Sum("allocations__principal", filter=Q(allocations__allocated_on__lte=as_of)),
            last_paid=Max("allocations__allocated_on", filter=Q(allocations__allocated_on__lte=as_of)),
        )
        .values_list("customer_id", "kind", "due_on", "total", "total_kwh", "period", "paid_by_due", "paid_by_day",
                     "last_paid")
    )  # fmt: skip
    recent: dict[int, list] = defaultdict(list)
    overdue: dict[int, Decimal] = defaultdict(lambda: ZERO)
    oldest: dict[int, dt.date] = {}
    kwh: dict[int, dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    totals: dict[int, dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))  # by period
    complete: dict[int, set[str]] = defaultdict(set)  # periods with their month's bill (not instalments only)
    for customer_id, kind, due_on, total, total_kwh, period, paid_by_due, paid_by_day, last_paid in bills:
        out[customer_id].bills_count += 1
        # An instalment (分次结算) is a part payment of the month's forecast charge and carries no
        # kWh: counted as a month, it read as a 100% drop while the month's bill was not yet out.
        if kind != BillKindChoices.INSTALMENT:
            kwh[customer_id][period] += total_kwh or ZERO
        unpaid = total - (paid_by_day or ZERO)
        if due_on < as_of and unpaid > 0:
            overdue[customer_id] += unpaid
            if customer_id not in oldest or due_on < oldest[customer_id]:
                oldest[customer_id] = due_on
        if year_ago < due_on <= as_of:
            totals[customer_id][period] += total
            if kind != BillKindChoices.INSTALMENT:
                complete[customer_id].add(period)
            on_time = (paid_by_due or ZERO) >= total
            # Days late: until paid in full, or until the day for what is still open.
            days = (as_of - due_on).days if unpaid > 0 else max(0, ((last_paid or due_on) - due_on).days)
            recent[customer_id].append((on_time, days))

    for customer_id, data in out.items():
        # Per month, not per bill: an instalment customer's month is its instalments plus the month's
        # bill (which deducts them), and the arrears and cover ratios and the guarantee asked are in
        # months of the average bill. A month with only some of its instalments out is not complete.
        by_period = totals.get(customer_id, {})
        months = [p for p in by_period if p in complete[customer_id]] or list(by_period)
        amount = sum((by_period[p] for p in months), ZERO)
        data.average_bill = (amount / len(months)).quantize(Decimal("0.01")) if months else ZERO
        rows = recent.get(customer_id, [])
        if rows:
            kept = sum(1 for on_time, _d in rows if on_time)
            data.sources[SRC.ON_TIME_RATIO] = Fact(kept / len(rows), {"on_time": kept, "count": len(rows)})
            worst = max(days for _t, days in rows)
            data.sources[SRC.WORST_DAYS_OVERDUE] = Fact(float(worst), {"days": worst})
        else:
            data.sources[SRC.ON_TIME_RATIO] = Fact(None)
            data.sources[SRC.WORST_DAYS_OVERDUE] = Fact(None)
        owed = overdue.get(customer_id, ZERO)
        if data.average_bill > 0:
            ratio = float(owed / data.average_bill)
            data.sources[SRC.ARREARS_RATIO] = Fact(ratio, {"arrears": money(owed), "share": _pct(ratio)})
        else:
            data.sources[SRC.ARREARS_RATIO] = Fact(None)
        if customer_id in oldest:
            data.oldest_overdue_days = (as_of - oldest[customer_id]).days
        data.sources[SRC.CONSUMPTION_TREND] = _trend(kwh.get(customer_id, {}), as_of)

    # Commitments broken within the year before the day.
    broken: dict[int, int] = defaultdict(int)
    for model in (PromiseToPay, PaymentArrangement):
        rows = (
            model.objects.filter(customer_id__in=ids, status="broken", resolved_on__gt=year_ago, resolved_on__lte=as_of)
            .values("customer_id")
            .annotate(n=Count("id"))
            .values_list("customer_id", "n")
        )
        for customer_id, n in rows:
            broken[customer_id] += n
    arranged = set(
        PaymentArrangement.objects.filter(customer_id__in=ids, made_on__lte=as_of)
        .filter(Q(resolved_on__isnull=True) | Q(resolved_on__gt=as_of))
        .values_list("customer_id", flat=True)
    )

    # Cover held on the day: guarantees in force and the prepaid balance.
    cover: dict[int, Decimal] = defaultdict(lambda: ZERO)
    guarantees = (
        Guarantee.objects.filter(customer_id__in=ids, valid_from__lte=as_of)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gte=as_of))
        .filter(Q(released_on__isnull=True) | Q(released_on__gt=as_of))
        .values("customer_id")
        .annotate(s=Sum("amount"))
        .values_list("customer_id", "s")
    )
    for customer_id, amount in guarantees:
        cover[customer_id] += amount
    prepaid = (
        PrepaidEntry.objects.filter(account__customer_id__in=ids, day__lte=as_of)
        .values("account__customer_id")
        .annotate(s=Sum("amount"))
        .values_list("account__customer_id", "s")
    )
    for customer_id, amount in prepaid:
        cover[customer_id] += max(amount or ZERO, ZERO)
    thefts = dict(
        ServiceVisit.objects.filter(customer_id__in=ids, kind="theft", visited_on__lte=as_of)
        .values("customer_id")
        .annotate(last=Max("visited_on"))
        .values_list("customer_id", "last")
    )

    archive = _archive_as_of(ids, as_of)
    energy_intensive = set(settings.RISK_ENERGY_INTENSIVE_INDUSTRIES)
    for customer_id, data in out.items():
        customer = data.customer
        status, condition_code, line_ageing, industry = archive.get(
            customer_id,
            (customer.operating_status, customer.equipment_condition, customer.line_ageing, customer.industry),
        )
        data.arranged = customer_id in arranged
        data.theft_on = thefts.get(customer_id)
        data.sources[SRC.BROKEN_COMMITMENTS] = Fact(
            float(broken.get(customer_id, 0)), {"count": broken.get(customer_id, 0)}
        )
        data.sources[SRC.OPERATING_STATUS] = Fact(STATUS_VALUE.get(status, 1.0), {"status": STATUS(status).label})
        intensive = industry in energy_intensive
        data.sources[SRC.POLICY_INDUSTRY] = Fact(
            0.0 if intensive else 1.0,
            {"industry": INDUSTRY(industry).label,
             "assessment": _("energy-intensive industry") if intensive else _("not energy-intensive")},
        )  # fmt: skip
        condition = CONDITION_VALUE.get(condition_code, 0.6) - (0.3 if line_ageing else 0)
        data.sources[SRC.EQUIPMENT_LINES] = Fact(
            max(condition, 0.0),
            {"condition": CONDITION(condition_code).label,
             "lines": _("ageing supply lines") if line_ageing else _("supply lines in order")},
        )  # fmt: skip
        held = data.cover = cover.get(customer_id, ZERO)
        if data.average_bill > 0:
            months = float(held / data.average_bill)
            data.sources[SRC.COVER_RATIO] = Fact(months, {"cover": money(held), "months": f"{months:.1f}"})
        else:
            data.sources[SRC.COVER_RATIO] = Fact(None)
    return out


def _archive_as_of(ids: list[int], as_of: dt.date) -> dict[int, tuple]:
    """(operating status, equipment condition, line ageing, industry) as the archive's history
    had them at the end of a past day, for the customers with a history row by then. Today's
    score reads the archive as it is; a past day's (the backtest) must not see a bankruptcy
    recorded after it. Without a history row by then, the archive as it is is all there is."""
    if as_of >= timezone.localdate():
        return {}
    history = Customer.history.model
    cutoff = timezone.make_aware(dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time.min))
    latest = (
        history.objects.filter(id__in=ids, history_date__lt=cutoff)
        .values("id")
        .annotate(last=Max("history_id"))
        .values("last")
    )
    rows = history.objects.filter(history_id__in=Subquery(latest)).values_list(
        "id", "operating_status", "equipment_condition", "line_ageing", "industry"
    )
    return {row[0]: row[1:] for row in rows}


def _shift(period: str, months: int) -> str:
    year, month = map(int, period.split("-"))
    index = year * 12 + month - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _trend(by_period: dict[str, Decimal], as_of: dt.date) -> Fact:
    """The last three billed months against the same months a year before; without a year of
    history, against the three months before them (the reason says which)."""
    billed = sorted(p for p, kwh in by_period.items())
    if len(billed) < 4:
        return Fact(None)
    last = billed[-1]
    recent = [_shift(last, -i) for i in range(3)]
    now = sum((by_period.get(p, ZERO) for p in recent), ZERO)
    year_before = [_shift(p, -12) for p in recent]
    if all(p in by_period for p in year_before):
        base, basis = sum((by_period[p] for p in year_before), ZERO), _("the same months last year")
    else:
        before = [_shift(last, -i) for i in range(3, 6)]
        present = [p for p in before if p in by_period]
        if not present:
            return Fact(None)
        base = sum((by_period[p] for p in present), ZERO) * Decimal(3) / len(present)
        basis = _("the three months before")
    if base <= 0:
        return Fact(None)
    change = float(now / base) - 1.0
    return Fact(change, {"change": f"{change * 100:+.0f}%", "basis": basis})
