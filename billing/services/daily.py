"""Daily statistics (电量每天有统计): each customer's consumption and charge for a day.

A day's consumption per meter is the register difference between the day's reading and the
previous day's, times the CT×PT multiplier. A missing reading is never taken as zero: the
day is interpolated between the nearest readings before and after it, or, when nothing
later has arrived yet, extrapolated from the meter's last four weeks — and marked
`estimated`. The next run recomputes every estimated day of the last five weeks, so a late
reading replaces its estimate (and the month-to-date totals after it).

The day's charge is the energy by time-of-use period at the tariff's prices, the basic
charge pro rata (the month's basic charge ÷ the days of the billing period) and the
government funds; the power-factor adjustment is left to the month-end bill.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from customers.choices import CustomerOperatingStatusChoices
from customers.models import Customer, MeterPoint

from ..calculation import money
from ..choices import TariffCategoryChoices
from ..models import DailyUsage, MeterReading, Tariff
from .bills import TariffBook, period_bounds

REGISTERS = ("total_kwh", "critical_peak_kwh", "peak_kwh", "flat_kwh", "valley_kwh", "reactive_kvarh")
KWH = Decimal("0.001")
ZERO = Decimal("0")
LOOKBACK_DAYS = 35  # how far back estimated days are recomputed, and readings searched
CHUNK = 2000


def billing_period_of(day: dt.date, reading_day: int) -> tuple[str, dt.date, dt.date]:
    """(period label, first day, last day) of the billing period that contains `day`: the
    days after one reading date up to and including the next."""
    label = f"{day.year}-{day.month:02d}"
    start, end = period_bounds(label, reading_day)
    if day > end:
        next_month = (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
        label = f"{next_month.year}-{next_month.month:02d}"
        start, end = period_bounds(label, reading_day)
    return label, start + dt.timedelta(days=1), end


@dataclass
class DayUsage:
    values: list[Decimal] = field(default_factory=lambda: [ZERO] * len(REGISTERS))
    estimated: bool = False


def _meter_days(readings: list[tuple], days: list[dt.date], multiplier: Decimal) -> dict[dt.date, DayUsage]:
    """Per day, the meter's consumption (× multiplier) from its sorted readings."""
    by_date = {r[0]: r[1:] for r in readings}
    dates = [r[0] for r in readings]
    out: dict[dt.date, DayUsage] = {}
    for day in days:
        today, yesterday = by_date.get(day), by_date.get(day - dt.timedelta(days=1))
        usage = DayUsage()
        if today is not None and yesterday is not None:
            usage.values = [max(a - b, ZERO) * multiplier for a, b in zip(today, yesterday, strict=True)]
        else:
            usage.estimated = True
            cut = bisect_left(dates, day)
            before, after = dates[:cut], dates[cut:]
            if before and after:
                # Spread the registers' growth between the neighbours evenly over the gap.
                lo, hi = before[-1], after[0]
                span = Decimal((hi - lo).days)
                usage.values = [
                    max(b - a, ZERO) * multiplier / span for a, b in zip(by_date[lo], by_date[hi], strict=True)
                ]
            elif len(before) >= 2:
                lo = before[bisect_left(before, before[-1] - dt.timedelta(days=28))]
                hi = before[-1]
                if hi > lo:
                    span = Decimal((hi - lo).days)
                    usage.values = [
                        max(b - a, ZERO) * multiplier / span for a, b in zip(by_date[lo], by_date[hi], strict=True)
                    ]
        usage.values = [v.quantize(KWH, rounding=ROUND_HALF_UP) for v in usage.values]
        out[day] = usage
    return out


def _charges(tariff: Tariff | None, customer: Customer, usage: list[Decimal], days_in_period: int):
    """(energy, basic pro rata, funds) for a day's usage at the tariff."""
    if tariff is None:
        return ZERO, ZERO, ZERO
    total, critical, peak, flat, valley, _reactive = usage
    if tariff.time_of_use:
        energy = (
            critical * (tariff.price_critical_peak or tariff.price_peak)
            + peak * tariff.price_peak
            + flat * tariff.price_flat
            + valley * tariff.price_valley
        )
    else:
        energy = total * tariff.price_flat
    basic = ZERO
    if tariff.category == TariffCategoryChoices.LARGE_INDUSTRY:
        if customer.basic_charge_basis == "demand" and customer.contract_demand_kw:
            basic = Decimal(customer.contract_demand_kw) * tariff.basic_demand_price / days_in_period
        else:
            basic = Decimal(customer.contracted_capacity_kva) * tariff.basic_capacity_price / days_in_period
    return money(energy), money(basic), money(total * tariff.funds_per_kwh)


def _compute_chunk(customers: list[Customer], days: list[dt.date], tariffs: TariffBook) -> list[DailyUsage]:
    meters_of: dict[int, list[MeterPoint]] = defaultdict(list)
    for meter in MeterPoint.objects.filter(customer__in=customers):
        meters_of[meter.customer_id].append(meter)
    low = days[0] - dt.timedelta(days=LOOKBACK_DAYS + 1)
    high = min(days[-1] + dt.timedelta(days=LOOKBACK_DAYS), timezone.localdate())
    readings: dict[int, list[tuple]] = defaultdict(list)
    rows = (
        MeterReading.objects.filter(meter__customer__in=customers, read_on__range=(low, high))
        .order_by("meter_id", "read_on")
        .values_list("meter_id", "read_on", *REGISTERS)
    )
    for meter_id, *rest in rows.iterator(chunk_size=10000):
        readings[meter_id].append(tuple(rest))
    result: list[DailyUsage] = []
    for customer in customers:
        meters = [
            m
            for m in meters_of.get(customer.id, [])
            if readings.get(m.id) or (m.active and (m.removed_on is None or m.removed_on >= days[0]))
        ]
        if not meters:
            continue
        per_meter = [_meter_days(readings.get(m.id, []), days, m.multiplier) for m in meters]
        for day in days:
            values = [ZERO] * len(REGISTERS)
            estimated = False
            for meter_days, meter in zip(per_meter, meters, strict=True):
                if meter.removed_on and day > meter.removed_on:
                    continue
                if meter.installed_on and day <= meter.installed_on:
                    continue  # a new meter counts from the day after its first reading
                usage = meter_days[day]
                estimated |= usage.estimated
                values = [a + b for a, b in zip(values, usage.values, strict=True)]
            period, start, end = billing_period_of(day, customer.reading_day)
            tariff = tariffs.for_customer(customer.id, day)
            energy, basic, funds = _charges(tariff, customer, values, (end - start).days + 1)
            result.append(
                DailyUsage(
                    customer=customer,
                    day=day,
                    period=period,
                    kwh=values[0],
                    critical_peak_kwh=values[1],
                    peak_kwh=values[2],
                    flat_kwh=values[3],
                    valley_kwh=values[4],
                    reactive_kvarh=values[5],
                    energy_charge=energy,
                    basic_charge=basic,
                    funds_charge=funds,
                    charge=energy + basic + funds,
                    mtd_kwh=ZERO,
                    mtd_charge=ZERO,
                    estimated=estimated,
                )
            )
    return result


_UPDATE_FIELDS = [
    "period",
    "kwh",
    "critical_peak_kwh",
    "peak_kwh",
    "flat_kwh",
    "valley_kwh",
    "reactive_kvarh",
    "energy_charge",
    "basic_charge",
    "funds_charge",
    "charge",
    "estimated",
]


def _refresh_month_to_date(customer_ids: list[int], first_day: dt.date, last_day: dt.date) -> None:
    """Recompute the month-to-date totals of every row of the periods touched."""
    rows = list(
        DailyUsage.objects.filter(customer_id__in=customer_ids, day__gte=first_day - dt.timedelta(days=31))
        .order_by("customer_id", "day")
        .only("id", "customer_id", "day", "period", "kwh", "charge", "mtd_kwh", "mtd_charge")
    )
    changed = []
    running: dict[tuple[int, str], list[Decimal]] = {}
    for row in rows:
        total = running.setdefault((row.customer_id, row.period), [ZERO, ZERO])
        total[0] += row.kwh
        total[1] += row.charge
        if row.day >= first_day and (row.mtd_kwh != total[0] or row.mtd_charge != total[1]):
            row.mtd_kwh, row.mtd_charge = total[0], total[1]
            changed.append(row)
    DailyUsage.objects.bulk_update(changed, ["mtd_kwh", "mtd_charge"], batch_size=2000)


def daily_stats_compute(*, first_day: dt.date, last_day: dt.date, customers: QuerySet[Customer] | None = None) -> int:
    """Compute (or recompute) the statistics of every day in the range. Returns rows written."""
    customers = customers if customers is not None else Customer.objects.all()
    customers = customers.exclude(operating_status=CustomerOperatingStatusChoices.CLOSED).order_by("id")
    days = [first_day + dt.timedelta(days=n) for n in range((last_day - first_day).days + 1)]
    ids = list(customers.values_list("id", flat=True))
    tariffs = TariffBook(ids)
    written = 0
    for offset in range(0, len(ids), CHUNK):
        chunk = list(Customer.objects.filter(id__in=ids[offset : offset + CHUNK]))
        rows = _compute_chunk(chunk, days, tariffs)
        with transaction.atomic():
            DailyUsage.objects.bulk_create(
                rows,
                batch_size=2000,
                update_conflicts=True,
                unique_fields=["customer", "day"],
                update_fields=_UPDATE_FIELDS,
            )
            _refresh_month_to_date([c.id for c in chunk], first_day, last_day)
        written += len(rows)
    return written


def daily_stats_run(*, day: dt.date) -> int:
    """The daily job: the day itself, and every estimated day of the last five weeks again
    (a late reading turns its estimate into the real figure). Safe to run twice."""
    written = daily_stats_compute(first_day=day, last_day=day)
    since = day - dt.timedelta(days=LOOKBACK_DAYS)
    pending = (
        DailyUsage.objects.filter(estimated=True, day__gte=since, day__lt=day)
        .values_list("customer_id", "day")
        .order_by("day")
    )
    firsts: dict[int, dt.date] = {}
    for customer_id, estimated_day in pending:
        firsts.setdefault(customer_id, estimated_day)
    by_start: dict[dt.date, list[int]] = defaultdict(list)
    for customer_id, first in firsts.items():
        by_start[first].append(customer_id)
    for first, ids in by_start.items():
        written += daily_stats_compute(
            first_day=first, last_day=day - dt.timedelta(days=1), customers=Customer.objects.filter(id__in=ids)
        )
    return written
