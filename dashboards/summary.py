"""Building the arrears summary: each customer's figures as of a date in a few set-based
queries, grouped by the dashboard's dimensions. A full rebuild computes every customer; the
incremental refresh recomputes only the customers whose bills, payments, penalties, forecasts
or archive changed since the last one, then regroups the stored positions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import F, Max, Sum
from django.utils import timezone

from billing.models import AdjustmentNote, Bill, Forecast, Payment, PaymentAllocation, PenaltyAccrual
from billing.selectors import overdue_bills_as_of
from customers.models import Customer

from .models import (
    DIMENSIONS,
    MEASURES,
    MONEY_MEASURES,
    ROLLUP_GRAINS,
    ArrearsPosition,
    ArrearsRollup,
    ArrearsSummary,
    SummaryDate,
    SummaryState,
)

ZERO = Decimal("0")
BUCKETS = ((30, "aged_0_30"), (60, "aged_31_60"), (90, "aged_61_90"), (180, "aged_91_180"), (None, "aged_over_180"))
DIM_FIELDS = {"region": "region_id", "industry": "industry", "grade": "credit_grade", "collector": "collector_id",
              "settlement_mode": "settlement_mode", "importance": "importance"}  # fmt: skip


def bucket_of(days: int) -> str:
    for limit, name in BUCKETS:
        if limit is None or days <= limit:
            return name
    return BUCKETS[-1][1]


def month_bounds(day: dt.date) -> tuple[dt.date, dt.date]:
    first = day.replace(day=1)
    return first, (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)


def _by_customer(queryset, field: str, value) -> dict[int, Decimal]:
    return {cid: total or ZERO for cid, total in queryset.values(field).annotate(t=value).values_list(field, "t")}


def positions(customers, as_of: dt.date) -> dict[int, dict]:
    """{customer id: {dimension…, measure…}} as of the date, for a customer queryset."""
    out: dict[int, dict] = {}
    for row in customers.values("pk", *DIM_FIELDS.values()):
        position = {dim: row[field] for dim, field in DIM_FIELDS.items()}
        position["grade"] = position["grade"] or ""
        position.update(dict.fromkeys(MONEY_MEASURES, ZERO), customers=1, overdue_customers=0)
        out[row["pk"]] = position
    if not out:
        return out
    bills = Bill.objects.filter(customer__in=customers)
    for cid, due_on, principal, penalty in overdue_bills_as_of(bills, as_of).values_list(
        "customer_id", "due_on", "principal_due", "penalty_due"
    ):
        position = out[cid]
        amount = principal + penalty
        position["arrears"] += amount
        position["principal_overdue"] += principal
        position["penalty_overdue"] += penalty
        position[bucket_of((as_of - due_on).days)] += amount
        position["overdue_customers"] = 1
    first, last = month_bounds(as_of)
    year = as_of.replace(month=1, day=1)
    allocations = PaymentAllocation.objects.filter(bill__customer__in=customers, allocated_on__lte=as_of)
    figures = {
        "due_month": _by_customer(bills.filter(due_on__range=(first, last), issued_on__lte=as_of), "customer_id",
                                  Sum("total")),
        "collected_month": _by_customer(allocations.filter(bill__due_on__range=(first, last)), "bill__customer_id",
                                        Sum("principal")),
        "due_ytd": _by_customer(bills.filter(due_on__range=(year, last), issued_on__lte=as_of), "customer_id",
                                Sum("total")),
        "collected_ytd": _by_customer(allocations.filter(bill__due_on__range=(year, last)), "bill__customer_id",
                                      Sum("principal")),
        "penalty_accrued_month": _by_customer(
            PenaltyAccrual.objects.filter(bill__customer__in=customers, accrued_on__range=(first, as_of)),
            "bill__customer_id", Sum("amount")),
        "penalty_collected_month": _by_customer(allocations.filter(allocated_on__gte=first), "bill__customer_id",
                                                Sum("penalty")),
        "received_month": _by_customer(allocations.filter(allocated_on__gte=first), "bill__customer_id",
                                       Sum(F("principal") + F("penalty"))),
        "billed_month": _by_customer(bills.filter(issued_on__range=(first, as_of)), "customer_id", Sum("total")),
    }  # fmt: skip
    for name, values in figures.items():
        for cid, total in values.items():
            out[cid][name] = total
    # Exposure from the latest daily statistics of the last three days (rule 7).
    seen: set[int] = set()
    for cid, exposure in (
        Forecast.objects.filter(customer__in=customers, day__range=(as_of - dt.timedelta(days=3), as_of))
        .order_by("customer_id", "-day")
        .values_list("customer_id", "exposure")
    ):
        if cid not in seen:
            seen.add(cid)
            out[cid]["exposure_uncovered"] = max(exposure, ZERO)
    return out


def group(rows) -> dict[tuple, dict]:
    totals: dict[tuple, dict] = {}
    for position in rows:
        key = tuple(position[d] for d in DIMENSIONS)
        into = totals.get(key)
        if into is None:
            totals[key] = {name: position[name] for name in MEASURES}
        else:
            for name in MEASURES:
                into[name] += position[name]
    return totals


def _write_summary(as_of: dt.date, grouped: dict[tuple, dict]) -> int:
    ArrearsSummary.objects.filter(as_of=as_of).delete()
    rows = [
        ArrearsSummary(as_of=as_of, **{f"{d}_id" if d in ("region", "collector") else d: v
                                       for d, v in zip(DIMENSIONS, key, strict=True)}, **values)
        for key, values in grouped.items()
    ]  # fmt: skip
    ArrearsSummary.objects.bulk_create(rows, batch_size=2000)
    _summary_written(as_of, len(rows))
    return len(rows)


def _grouped_insert(into, source, dimensions, as_of: dt.date, *, grain: str | None = None) -> int:
    """INSERT INTO into (as_of, [grain], dimensions…, measures…) SELECT the source's measures summed
    by `dimensions` (the source's rows of as_of only, when it is the summary). Dimensions of the
    target outside `dimensions` are left blank (null for the collector): the rollup's grains."""
    quote = connection.ops.quote_name

    def column(model, name):
        return quote(model._meta.get_field(name).column)

    targets = [column(into, d) for d in DIMENSIONS if d in dimensions or grain is not None]
    selected = [
        column(source, d) if d in dimensions else ("NULL" if d == "collector" else "''")
        for d in DIMENSIONS
        if d in dimensions or grain is not None
    ]
    grouped = ", ".join(column(source, d) for d in DIMENSIONS if d in dimensions)
    measures = [column(source, m) for m in MEASURES]
    where, params = "", [as_of]
    if grain is not None:
        targets.insert(0, column(into, "grain"))
        selected.insert(0, "%s")
        params.append(grain)
        where = f"WHERE {column(source, 'as_of')} = %s"
        params.append(as_of)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(into._meta.db_table)} "
            f"({column(into, 'as_of')}, {', '.join(targets)}, {', '.join(column(into, m) for m in MEASURES)}) "
            f"SELECT %s, {', '.join(selected)}, {', '.join(f'SUM({m})' for m in measures)} "
            f"FROM {quote(source._meta.db_table)} {where} GROUP BY {grouped}",
            params,
        )
        return cursor.rowcount


def _summary_written(as_of: dt.date, rows: int) -> None:
    """After a date's summary is replaced: its rollups (every grain: some hundred rows for the
    coarse ones) and its entry among the summary dates, whose time versions every cached
    dashboard answer."""
    ArrearsRollup.objects.filter(as_of=as_of).delete()
    for grain in ROLLUP_GRAINS:
        _grouped_insert(ArrearsRollup, ArrearsSummary, grain, as_of, grain=",".join(grain))
    SummaryDate.objects.update_or_create(as_of=as_of, defaults={"rows": rows, "built_at": timezone.now()})


def _summary_from_positions(as_of: dt.date) -> int:
    """Replace the date's summary with the stored positions grouped, in one INSERT … SELECT: for a
    province (100,000 positions, some 40,000 combinations) reading them into Python and writing
    the rows back with bulk_create took most of a refresh's 10 s."""
    ArrearsSummary.objects.filter(as_of=as_of).delete()
    rows = _grouped_insert(ArrearsSummary, ArrearsPosition, DIMENSIONS, as_of)
    _summary_written(as_of, rows)
    return rows


def _position_row(cid: int, as_of: dt.date, position: dict) -> ArrearsPosition:
    values = {("region_id" if k == "region" else "collector_id" if k == "collector" else k): v
              for k, v in position.items()}  # fmt: skip
    return ArrearsPosition(customer_id=cid, as_of=as_of, **values)


def _marks() -> tuple[dt.datetime, int]:
    return timezone.now(), PenaltyAccrual.objects.aggregate(m=Max("id"))["m"] or 0


@transaction.atomic
def summary_rebuild(*, as_of: dt.date | None = None, keep_positions: bool | None = None) -> int:
    """Recompute every customer as of the date and replace that date's summary. For today (the
    default) the positions are kept for the incremental refresh. Returns the summary rows."""
    today = timezone.localdate()
    as_of = as_of or today
    keep_positions = as_of == today if keep_positions is None else keep_positions
    watermark, accrual_mark = _marks()
    computed = positions(Customer.objects.all(), as_of)
    if keep_positions:
        ArrearsPosition.objects.all().delete()
        ArrearsPosition.objects.bulk_create([_position_row(c, as_of, p) for c, p in computed.items()], batch_size=2000)
        state = SummaryState.objects.select_for_update().first() or SummaryState(as_of=as_of, watermark=watermark)
        state.as_of, state.watermark, state.accrual_watermark = as_of, watermark, accrual_mark
        state.rebuilt_at = state.refreshed_at = timezone.now()
        state.customers_refreshed = len(computed)
        state.save()
        return _summary_from_positions(as_of)
    return _write_summary(as_of, group(computed.values()))


def changed_customers(since: dt.datetime, accrual_mark: int) -> set[int]:
    """Customers whose figures may have moved since the watermark."""
    ids: set[int] = set()
    ids |= set(Bill.objects.filter(created_at__gt=since).values_list("customer_id", flat=True))
    ids |= set(Payment.objects.filter(created_at__gt=since).values_list("customer_id", flat=True))
    ids |= set(PaymentAllocation.objects.filter(created_at__gt=since).values_list("bill__customer_id", flat=True))
    ids |= set(AdjustmentNote.objects.filter(created_at__gt=since).values_list("bill__customer_id", flat=True))
    ids |= set(PenaltyAccrual.objects.filter(id__gt=accrual_mark).values_list("bill__customer_id", flat=True))
    ids |= set(Forecast.objects.filter(computed_at__gt=since).values_list("customer_id", flat=True))
    ids |= set(Customer.objects.filter(updated_at__gt=since).values_list("pk", flat=True))
    return ids


@transaction.atomic
def summary_refresh() -> int:
    """Bring today's summary up to date with what changed since the last refresh; rebuilds when
    the day has turned (or there is none yet). Returns the customers recomputed. Idempotent:
    with nothing changed it recomputes nothing."""
    today = timezone.localdate()
    state = SummaryState.objects.select_for_update().first()
    if state is None or state.as_of != today:
        summary_rebuild(as_of=today)
        return Customer.objects.count()
    watermark, accrual_mark = _marks()
    ids = changed_customers(state.watermark, state.accrual_watermark)
    if ids:
        computed = positions(Customer.objects.filter(pk__in=ids), today)
        ArrearsPosition.objects.filter(customer_id__in=ids).delete()
        ArrearsPosition.objects.bulk_create([_position_row(c, today, p) for c, p in computed.items()], batch_size=2000)
        _summary_from_positions(today)
    state.watermark, state.accrual_watermark, state.refreshed_at = watermark, accrual_mark, timezone.now()
    state.customers_refreshed = len(ids)
    state.save()
    return len(ids)


def month_ends(as_of: dt.date, months: int = 13) -> list[dt.date]:
    """The last day of each of the `months` months up to as_of's (as_of itself for its month)."""
    ends, day = [], as_of
    for _ in range(months):
        ends.append(day)
        day = day.replace(day=1) - dt.timedelta(days=1)
    return sorted(ends)


def summary_rebuild_history(*, as_of: dt.date | None = None, months: int = 13, force: bool = False) -> list[dt.date]:
    """The month-end summaries the 13-month trend reads (missing ones, or all with force)."""
    as_of = as_of or timezone.localdate()
    done = set(SummaryDate.objects.values_list("as_of", flat=True))
    built = []
    for day in month_ends(as_of, months):
        if force or day not in done or day == as_of:
            if day == timezone.localdate():
                summary_rebuild(as_of=day)
            else:
                summary_rebuild(as_of=day, keep_positions=False)
            built.append(day)
    return built
