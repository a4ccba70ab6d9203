"""Daily forecasts and exposure (电费每日有预测), DESIGN.md rule 7.

exposure = unbilled charge + arrears − (valid guarantees and deposits + prepaid balance +
unapplied credit), where the unbilled charge is what the daily statistics charged since the
end of the last monthly bill, and arrears are the customer's billed and unpaid principal and
penalty. A negative exposure means the customer is fully covered.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.db import transaction
from django.db.models import Exists, Max, OuterRef, Q, QuerySet, Sum

from customers.choices import CustomerOperatingStatusChoices
from customers.models import Customer

from ..calculation import Contract, Usage, compute, money
from ..forecasting import project_period
from ..models import Bill, DailyUsage, Forecast, Guarantee, Payment, PrepaidEntry
from ..selectors import bills_with_balances, payment_unallocated
from .bills import TariffBook, tariff_prices
from .daily import billing_period_of

ZERO = Decimal("0")
HISTORY_DAYS = 35
CHUNK = 2000


def cover_by_customer(customer_ids: list[int], day: dt.date) -> dict[int, Decimal]:
    """Guarantees and deposits valid on the day, prepaid balances and unapplied credit."""
    cover: dict[int, Decimal] = defaultdict(lambda: ZERO)
    valid = Guarantee.objects.filter(
        Q(valid_to__isnull=True) | Q(valid_to__gte=day),
        customer_id__in=customer_ids,
        valid_from__lte=day,
    ).filter(Q(released_on__isnull=True) | Q(released_on__gt=day))
    for customer_id, total in valid.values("customer_id").annotate(s=Sum("amount")).values_list("customer_id", "s"):
        cover[customer_id] += total
    prepaid = (
        PrepaidEntry.objects.filter(account__customer_id__in=customer_ids, day__lte=day)
        .values("account__customer_id")
        .annotate(s=Sum("amount"))
        .values_list("account__customer_id", "s")
    )
    for customer_id, total in prepaid:
        cover[customer_id] += max(total, ZERO)
    credit = payment_unallocated(Payment.objects.filter(customer_id__in=customer_ids, status="posted")).values_list(
        "customer_id", "unallocated"
    )
    for customer_id, unallocated in credit:
        if unallocated > 0:
            cover[customer_id] += unallocated
    return cover


def arrears_by_customer(customer_ids: list[int]) -> dict[int, Decimal]:
    arrears: dict[int, Decimal] = defaultdict(lambda: ZERO)
    rows = bills_with_balances(Bill.objects.filter(customer_id__in=customer_ids)).values_list(
        "customer_id", "principal_due", "penalty_due"
    )
    for customer_id, principal, penalty in rows:
        if principal > 0 or penalty > 0:
            arrears[customer_id] += max(principal, ZERO) + max(penalty, ZERO)
    return arrears


def _projected_charge(customer: Customer, tariffs: TariffBook, rows: list[DailyUsage], projected_kwh: float, day, pf):
    tariff = tariffs.for_customer(customer.id, day)
    if tariff is None or projected_kwh <= 0:
        return ZERO
    recent = rows[-28:]
    kwh = sum((r.kwh for r in recent), ZERO)
    scale = Decimal(str(round(projected_kwh, 3))) / kwh if kwh else ZERO
    usage = Usage(
        total_kwh=Decimal(str(round(projected_kwh, 3))),
        critical_peak_kwh=sum((r.critical_peak_kwh for r in recent), ZERO) * scale,
        peak_kwh=sum((r.peak_kwh for r in recent), ZERO) * scale,
        flat_kwh=sum((r.flat_kwh for r in recent), ZERO) * scale,
        valley_kwh=sum((r.valley_kwh for r in recent), ZERO) * scale,
        reactive_kvarh=sum((r.reactive_kvarh for r in recent), ZERO) * scale,
        max_demand_kw=None,
    )
    contract = Contract(
        customer.basic_charge_basis,
        Decimal(customer.contracted_capacity_kva),
        Decimal(customer.contract_demand_kw) if customer.contract_demand_kw else None,
    )
    try:
        return compute(
            tariff=tariff_prices(tariff), usage=usage, contract=contract, pf_table=pf.get(tariff.pf_standard, {})
        ).total
    except ValueError:
        return ZERO


def forecasts_run(*, day: dt.date, customers: QuerySet[Customer] | None = None) -> int:
    """Forecast and exposure of every customer for the day (after its statistics). Idempotent."""
    customers = customers if customers is not None else Customer.objects.all()
    ids = list(
        customers.exclude(operating_status=CustomerOperatingStatusChoices.CLOSED)
        .order_by("id")
        .values_list("id", flat=True)
    )
    tariffs = TariffBook(ids)
    written = 0
    for offset in range(0, len(ids), CHUNK):
        chunk_ids = ids[offset : offset + CHUNK]
        chunk = list(Customer.objects.filter(id__in=chunk_ids))
        usage: dict[int, list[DailyUsage]] = defaultdict(list)
        for row in DailyUsage.objects.filter(
            customer_id__in=chunk_ids, day__gt=day - dt.timedelta(days=HISTORY_DAYS), day__lte=day
        ).order_by("customer_id", "day"):
            usage[row.customer_id].append(row)
        last_billed = dict(
            Bill.objects.filter(customer_id__in=chunk_ids, kind="monthly", period_end__isnull=False)
            .values("customer_id")
            .annotate(end=Max("period_end"))
            .values_list("customer_id", "end")
        )
        cover = cover_by_customer(chunk_ids, day)
        instalments_billed = dict(
            Bill.objects.filter(customer_id__in=chunk_ids, kind="instalment", issued_on__lte=day)
            .exclude(
                Exists(Bill.objects.filter(customer=OuterRef("customer"), kind="monthly", period=OuterRef("period")))
            )
            .values("customer_id")
            .annotate(s=Sum("total"))
            .values_list("customer_id", "s")
        )
        arrears = arrears_by_customer(chunk_ids)
        rows = []
        for customer in chunk:
            history_rows = usage.get(customer.id, [])
            history = {r.day: float(r.kwh) for r in history_rows}
            _label, start, end = billing_period_of(day, customer.reading_day)
            next_day, projected, method = project_period(history, day, start, end)
            billed_to = last_billed.get(customer.id)
            unbilled = sum((r.charge for r in history_rows if billed_to is None or r.day > billed_to), ZERO)
            # Instalments of the open period already billed part of that consumption (and sit in arrears
            # while unpaid): count it once.
            unbilled = max(unbilled - instalments_billed.get(customer.id, ZERO), ZERO)
            if customer.settlement_mode in ("prepaid_remote", "prepaid_card"):
                unbilled = ZERO  # charged against the prepaid balance every day
            projected_charge = _projected_charge(customer, tariffs, history_rows, projected, day, tariffs.pf_tables)
            exposure = unbilled + arrears.get(customer.id, ZERO) - cover.get(customer.id, ZERO)
            rows.append(
                Forecast(
                    customer=customer,
                    day=day,
                    method=method,
                    next_day_kwh=Decimal(str(round(next_day, 3))),
                    projected_month_kwh=Decimal(str(round(projected, 3))),
                    projected_month_charge=money(projected_charge),
                    unbilled_charge=money(unbilled),
                    arrears=money(arrears.get(customer.id, ZERO)),
                    cover=money(cover.get(customer.id, ZERO)),
                    exposure=money(exposure),
                )
            )
        with transaction.atomic():
            Forecast.objects.bulk_create(
                rows,
                batch_size=2000,
                update_conflicts=True,
                unique_fields=["customer", "day"],
                update_fields=[
                    "method",
                    "next_day_kwh",
                    "projected_month_kwh",
                    "projected_month_charge",
                    "unbilled_charge",
                    "arrears",
                    "cover",
                    "exposure",
                ],
            )
        written += len(rows)
    return written
