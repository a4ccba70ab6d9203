"""Monthly billing runs and imported bills.

A run bills every monthly / instalment customer for a period from its meters' readings between
two reading days (抄表日). Work is set-based per chunk of customers: the boundary readings,
the maximum demand and the existing bills are read with a handful of queries, the arithmetic
is billing.calculation, and bills and lines are written with bulk inserts. Each chunk is its
own transaction; a customer that already has its bill for the period is skipped, so a re-run
(or a run resumed after a worker died) never duplicates a bill.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Max, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.choices import CustomerOperatingStatusChoices, CustomerSettlementModeChoices
from customers.models import READING_DAY_MONTH_END, Customer, MeterPoint

from ..calculation import Computation, Contract, Line, TariffPrices, Usage, compute
from ..choices import BillingRunStatusChoices, BillKindChoices, BillLineKindChoices, TariffCategoryChoices
from ..models import (
    AdjustmentNote,
    Bill,
    BillingRun,
    BillLine,
    CustomerTariff,
    MeterReading,
    PaymentAllocation,
    PowerFactorAdjustment,
    Tariff,
)
from ..selectors import bills_with_balances, payment_unallocated
from .ledger import bill_statuses_refresh
from .payments import credit_apply, overpaid_release

CHUNK = 1000
REGISTERS = ("total_kwh", "critical_peak_kwh", "peak_kwh", "flat_kwh", "valley_kwh", "reactive_kvarh")
BILLED_MODES = (CustomerSettlementModeChoices.MONTHLY, CustomerSettlementModeChoices.INSTALMENTS)


def parse_period(period: str) -> tuple[int, int]:
    try:
        year, month = (int(part) for part in period.split("-"))
        dt.date(year, month, 1)
    except (ValueError, AttributeError):
        raise ValidationError({"period": _("A period is written YYYY-MM.")}) from None
    if len(period) != 7:
        raise ValidationError({"period": _("A period is written YYYY-MM.")})
    return year, month


def reading_date(year: int, month: int, reading_day: int) -> dt.date:
    last = calendar.monthrange(year, month)[1]
    return dt.date(year, month, last if reading_day == READING_DAY_MONTH_END else min(reading_day, last))


def period_bounds(period: str, reading_day: int) -> tuple[dt.date, dt.date]:
    """(start, end) reading dates: consumption is what the registers added between them."""
    year, month = parse_period(period)
    prev_year, prev_month = (year, month - 1) if month > 1 else (year - 1, 12)
    return reading_date(prev_year, prev_month, reading_day), reading_date(year, month, reading_day)


def tariff_prices(tariff: Tariff) -> TariffPrices:
    return TariffPrices(
        basic_capacity_price=tariff.basic_capacity_price,
        basic_demand_price=tariff.basic_demand_price,
        price_critical_peak=tariff.price_critical_peak,
        price_peak=tariff.price_peak,
        price_flat=tariff.price_flat,
        price_valley=tariff.price_valley,
        funds_per_kwh=tariff.funds_per_kwh,
        pf_standard=tariff.pf_standard,
        two_part=tariff.category == TariffCategoryChoices.LARGE_INDUSTRY,
    )


class TariffBook:
    """Tariff versions and customer assignments, read once per run."""

    def __init__(self, customer_ids: list[int]):
        self.versions: dict[str, list[Tariff]] = defaultdict(list)
        for tariff in Tariff.objects.order_by("code", "-valid_from"):
            self.versions[tariff.code].append(tariff)
        self.assignments: dict[int, list[tuple[dt.date, str]]] = defaultdict(list)
        rows = CustomerTariff.objects.filter(customer_id__in=customer_ids).order_by("customer_id", "-valid_from")
        for customer_id, valid_from, code in rows.values_list("customer_id", "valid_from", "tariff_code"):
            self.assignments[customer_id].append((valid_from, code))
        self.pf_tables: dict[Decimal, dict[Decimal, Decimal]] = defaultdict(dict)
        for standard, pf, percent in PowerFactorAdjustment.objects.values_list("standard", "power_factor", "percent"):
            self.pf_tables[standard][pf] = percent

    def for_customer(self, customer_id: int, on: dt.date) -> Tariff | None:
        code = next((c for valid_from, c in self.assignments.get(customer_id, []) if valid_from <= on), None)
        if code is None:
            return None
        return next((t for t in self.versions.get(code, []) if t.valid_from <= on), None)


@dataclass
class _MeterWindow:
    start: tuple | None = None
    end: tuple | None = None
    max_demand: Decimal | None = None


BOUNDARY_TOLERANCE_DAYS = 3  # a boundary reading may be this many days early (a missed read)


def _boundary_readings(meters: list[MeterPoint], start: dt.date, end: dt.date) -> dict[int, _MeterWindow]:
    """Per meter: its reading at the start of the period and at its end, and the highest
    demand recorded in between.

    The start reading is the last one in the few days up to `start`; for a meter that came
    into service during the period (a new or replacement meter) it is its first reading. The
    end reading is the last one in the few days up to `end`, or up to the day a replaced meter
    left service. Anything older is not used: a stale reading would bill the wrong days."""
    windows: dict[int, _MeterWindow] = {m.id: _MeterWindow() for m in meters}
    fields = ("meter_id", "read_on", *REGISTERS)
    tolerance = dt.timedelta(days=BOUNDARY_TOLERANCE_DAYS)
    ends = {m.id: min(end, m.removed_on) if m.removed_on else end for m in meters}
    new_in_period = {m.id for m in meters if (m.installed_on and m.installed_on > start) or m.replaces_id}
    ids = list(windows)
    rows = (
        MeterReading.objects.filter(meter_id__in=ids, read_on__gte=start - tolerance, read_on__lte=end)
        .order_by("meter_id", "read_on")
        .values_list(*fields)
    )
    inside: dict[int, list[tuple]] = defaultdict(list)
    for row in rows:
        meter_id, read_on = row[0], row[1]
        window = windows[meter_id]
        if read_on <= start:
            window.start = row  # ordered by date: the last one up to the start wins
        else:
            inside[meter_id].append(row)
        if ends[meter_id] - tolerance <= read_on <= ends[meter_id]:
            window.end = row
    for meter_id in new_in_period:
        if windows[meter_id].start is None and inside.get(meter_id):
            windows[meter_id].start = inside[meter_id][0]
    demand = (
        MeterReading.objects.filter(meter_id__in=ids, read_on__gt=start, read_on__lte=end)
        .values("meter_id")
        .annotate(peak=Max("max_demand_kw"))
    )
    for row in demand:
        windows[row["meter_id"]].max_demand = row["peak"]
    return windows


def _usage(meters: list[MeterPoint], windows: dict[int, _MeterWindow]) -> Usage | None:
    """The period's usage over all the customer's meters, or None when any meter in service
    lacks a start or end reading (billing part of the meters would under-bill silently)."""
    sums = dict.fromkeys(REGISTERS, Decimal("0"))
    demand = Decimal("0")
    if not meters:
        return None
    for meter in meters:
        window = windows.get(meter.id)
        if window is None or window.start is None or window.end is None or window.end[1] < window.start[1]:
            return None
        for i, name in enumerate(REGISTERS, start=2):
            sums[name] += (window.end[i] - window.start[i]) * meter.multiplier
        demand += (window.max_demand or Decimal("0")) * meter.multiplier
    return Usage(
        total_kwh=sums["total_kwh"],
        critical_peak_kwh=sums["critical_peak_kwh"],
        peak_kwh=sums["peak_kwh"],
        flat_kwh=sums["flat_kwh"],
        valley_kwh=sums["valley_kwh"],
        reactive_kvarh=sums["reactive_kvarh"],
        max_demand_kw=demand,
    )


def _bill_chunk(run: BillingRun, customers: list[Customer], tariffs: TariffBook) -> tuple[int, int, list[dict]]:
    created, existing_count, skipped = 0, 0, []
    ids = [c.id for c in customers]
    existing = set(
        Bill.objects.filter(customer_id__in=ids, period=run.period, kind=BillKindChoices.MONTHLY).values_list(
            "customer_id", flat=True
        )
    )
    todo = [c for c in customers if c.id not in existing]
    existing_count = len(customers) - len(todo)
    by_day: dict[int, list[Customer]] = defaultdict(list)
    for customer in todo:
        by_day[customer.reading_day].append(customer)
    bills: list[Bill] = []
    lines_for: list[list] = []
    instalments = _instalments_billed([c.id for c in todo], run.period)  # instalment settlement (rule 6)
    excesses: list[tuple[Customer, Decimal]] = []
    for reading_day, group in by_day.items():
        start, end = period_bounds(run.period, reading_day)
        meters_by_customer: dict[int, list[MeterPoint]] = defaultdict(list)
        meter_rows = MeterPoint.objects.filter(customer_id__in=[c.id for c in group]).filter(
            Q(removed_on__isnull=True) | Q(removed_on__gt=start),
            Q(installed_on__isnull=True) | Q(installed_on__lte=end),
        )
        for meter in meter_rows:
            meters_by_customer[meter.customer_id].append(meter)
        windows = _boundary_readings([m for ms in meters_by_customer.values() for m in ms], start, end)
        for customer in group:
            tariff = tariffs.for_customer(customer.id, end)
            if tariff is None:
                skipped.append({"account_no": customer.account_no, "reason": "no_tariff"})
                continue
            usage = _usage(meters_by_customer.get(customer.id, []), windows)
            if usage is None:
                skipped.append({"account_no": customer.account_no, "reason": "no_readings"})
                continue
            contract = Contract(
                customer.basic_charge_basis,
                Decimal(customer.contracted_capacity_kva),
                Decimal(customer.contract_demand_kw) if customer.contract_demand_kw else None,
            )
            try:
                result = compute(
                    tariff=tariff_prices(tariff),
                    usage=usage,
                    contract=contract,
                    pf_table=tariffs.pf_tables.get(tariff.pf_standard, {}),
                )
            except ValueError:
                skipped.append({"account_no": customer.account_no, "reason": "power_factor_table"})
                continue
            if customer.id in instalments:  # instalment settlement (rule 6): deduct what they billed
                excess = _instalment_true_up(result, instalments[customer.id])
                if excess > 0:
                    excesses.append((customer, excess))
            bills.append(
                Bill(
                    customer=customer,
                    period=run.period,
                    kind=BillKindChoices.MONTHLY,
                    number=f"{run.period.replace('-', '')}-{customer.account_no}",
                    period_start=start,
                    period_end=end,
                    issued_on=run.issue_date,
                    due_on=run.issue_date + dt.timedelta(days=customer.payment_terms_days),
                    total=result.total,
                    tariff=tariff,
                    total_kwh=usage.total_kwh,
                    reactive_kvarh=usage.reactive_kvarh,
                    max_demand_kw=usage.max_demand_kw,
                    power_factor=result.power_factor,
                    billing_run=run,
                )
            )
            lines_for.append(result.lines)
    with transaction.atomic():
        # No ignore_conflicts: if two runs for one period ever overlapped, the unique constraint
        # fails this chunk loudly, the run is marked failed, and its re-run skips what exists.
        Bill.objects.bulk_create(bills, batch_size=1000)
        BillLine.objects.bulk_create(
            [
                BillLine(
                    bill=bill,
                    kind=line.kind,
                    description=line.description,
                    quantity=line.quantity,
                    unit_price=line.unit_price,
                    amount=line.amount,
                    position=position,
                )
                for bill, lines in zip(bills, lines_for, strict=True)
                for position, line in enumerate(lines)
            ],
            batch_size=5000,
        )
        created = len(bills)
        if instalments:  # instalment settlement (rule 6): zero bills paid, over-estimates credited
            _instalment_true_up_finish([b for b in bills if b.customer_id in instalments], excesses, run.issue_date)
        # Credit from overpayments is used by the new bill straight away. The customers are locked
        # first, as payments do, so a payment in flight either sees the new bill or has left its
        # credit where this query sees it.
        list(
            Customer.objects.select_for_update()
            .filter(id__in=[b.customer_id for b in bills])
            .order_by("id")
            .values_list("id", flat=True)
        )
        with_credit = (
            payment_unallocated()
            .filter(customer_id__in=[b.customer_id for b in bills], status="posted", unallocated__gt=0)
            .values_list("customer_id", flat=True)
            .distinct()
        )
        for customer in Customer.objects.filter(id__in=list(with_credit)):
            credit_apply(customer=customer, on_day=run.issue_date)
    return created, existing_count, skipped


# --- Instalment settlement (分次结算), DESIGN.md rule 6: the month-end true-up -----------------
# The instalments of the period (billing.services.instalments) are receivables of their own:
# they stay, with their own payments and penalties. The monthly bill charges the full month and
# then deducts what the instalments billed (not what they collected), so the customer owes the
# unpaid instalments plus the difference, i.e. full charge − collected, with nothing counted
# twice. When the instalments billed more than the month's charge, the monthly bill is zero and
# the excess is given back on the instalments themselves (adjustment notes, latest first), and
# money already paid on them beyond their new amount is released as credit.


def _instalments_billed(customer_ids: list[int], period: str) -> dict[int, list[Bill]]:
    """The period's instalment bills per customer (annotated with balances), oldest due first.
    Read whatever the customer's mode is now: a customer who left instalment settlement during
    the month still has this month's instalments to deduct."""
    found: dict[int, list[Bill]] = defaultdict(list)
    rows = bills_with_balances(
        Bill.objects.filter(customer_id__in=customer_ids, period=period, kind=BillKindChoices.INSTALMENT)
    ).order_by("customer_id", "due_on", "id")
    for bill in rows:
        found[bill.customer_id].append(bill)
    return found


def _instalment_true_up(result: Computation, instalments: list[Bill]) -> Decimal:
    """Append the INSTALMENT_CREDIT line to the computed month; return the excess the
    instalments billed beyond the month's charge (0 when they billed less)."""
    billed = sum((b.total + b.adjustments_total for b in instalments), Decimal("0"))
    charge = max(result.total, Decimal("0"))
    credit = min(billed, charge)  # capped: a bill never goes below zero
    if billed:
        suffixes = " ".join(b.number.rsplit("-", 1)[-1] for b in instalments)
        result.lines.append(Line(BillLineKindChoices.INSTALMENT_CREDIT, None, None, -credit, suffixes[:200]))
    return billed - credit


def _instalment_true_up_finish(bills: list[Bill], excesses: list[tuple[Customer, Decimal]], day: dt.date) -> None:
    """After the chunk's monthly bills are written: those fully covered by instalments are
    paid (nothing left on them), and over-estimates are credited."""
    bill_statuses_refresh(b.pk for b in bills if b.total <= 0)
    for customer, excess in excesses:
        _instalment_excess_credit(customer, excess, bills, day)


def _instalment_excess_credit(customer: Customer, excess: Decimal, bills: list[Bill], day: dt.date) -> None:
    """Give back `excess` on the period's instalments, latest first, each by at most what it
    bills. Where an instalment was already paid beyond its new amount, the excess allocation is
    released (a negative allocation of the same payment), so that money becomes credit, and
    the credit goes to the customer's open bills, oldest due first (rule 2)."""
    customer = Customer.objects.select_for_update().get(pk=customer.pk)  # the lock payments take
    monthly = next(b for b in bills if b.customer_id == customer.pk)
    period = monthly.period
    instalments = bills_with_balances(
        Bill.objects.filter(customer=customer, period=period, kind=BillKindChoices.INSTALMENT)
    ).order_by("-due_on", "-id")
    touched = []
    left = excess
    for bill in instalments:
        if left <= 0:
            break
        reduce = min(left, bill.total + bill.adjustments_total)
        if reduce <= 0:
            continue
        left -= reduce
        touched.append(bill.pk)
        AdjustmentNote.objects.create(
            bill=bill,
            amount=-reduce,
            reason=_("Instalments above the month's charge, credited at month end (bill %(number)s)")
            % {"number": monthly.number},
        )
        release = bill.principal_paid - max(bill.total + bill.adjustments_total - reduce, Decimal("0"))
        if release <= 0:
            continue
        # Latest payment first: the earliest money stays where it was applied.
        paid_by = (
            PaymentAllocation.objects.filter(bill=bill)
            .values("payment_id")
            .annotate(net=Sum("principal"), last=Max("id"))
            .filter(net__gt=0)
            .order_by("-last")
        )
        releases = []
        for row in paid_by:
            if release <= 0:
                break
            take = min(release, row["net"])
            release -= take
            releases.append(
                PaymentAllocation(payment_id=row["payment_id"], bill=bill, principal=-take, allocated_on=day)
            )
        PaymentAllocation.objects.bulk_create(releases)
    bill_statuses_refresh(touched)
    credit_apply(customer=customer, on_day=day)


# --- end of instalment settlement ------------------------------------------------------------


def billing_run_start(
    *, period: str, issue_date: dt.date | None = None, requested_by: User | None = None
) -> BillingRun:
    """Record a run for the period; the work is done by billing_run_execute (a batch task)."""
    year, month = parse_period(period)
    issue_date = issue_date or timezone.localdate()
    if not dt.date(year, month, 1) <= issue_date <= timezone.localdate():
        # An early date would issue bills already long overdue (and before any penalty rule).
        raise ValidationError(
            {
                "issue_date": _("Bills for %(period)s are issued within that month or later, and not after today.")
                % {"period": period}
            }  # fmt: skip
        )
    active = BillingRun.objects.filter(
        period=period, status__in=[BillingRunStatusChoices.PENDING, BillingRunStatusChoices.RUNNING]
    ).first()
    if active is not None:
        return active  # one run of a period at a time; asking again shows the same run
    try:
        with transaction.atomic():
            return BillingRun.objects.create(period=period, issue_date=issue_date, requested_by=requested_by)
    except IntegrityError:  # a simultaneous request created it first
        return BillingRun.objects.get(
            period=period, status__in=[BillingRunStatusChoices.PENDING, BillingRunStatusChoices.RUNNING]
        )


def billing_run_execute(*, run_id: int) -> BillingRun:
    """Bill every customer due for the run's period, chunk by chunk, recording progress."""
    claimed = BillingRun.objects.filter(
        pk=run_id, status__in=[BillingRunStatusChoices.PENDING, BillingRunStatusChoices.FAILED]
    ).update(status=BillingRunStatusChoices.RUNNING, started_at=timezone.now())
    run = BillingRun.objects.get(pk=run_id)
    if not claimed:
        return run  # another worker has it, or it is done: nothing happens twice
    customers = (
        Customer.objects.filter(settlement_mode__in=BILLED_MODES)
        .exclude(operating_status=CustomerOperatingStatusChoices.CLOSED)
        .order_by("id")
    )
    ids = list(customers.values_list("id", flat=True))
    BillingRun.objects.filter(pk=run.pk).update(customers_total=len(ids), customers_done=0, skipped=[])
    tariffs = TariffBook(ids)
    try:
        for offset in range(0, len(ids), CHUNK):
            chunk = list(Customer.objects.filter(id__in=ids[offset : offset + CHUNK]).order_by("id"))
            created, existing, skipped = _bill_chunk(run, chunk, tariffs)
            run.refresh_from_db()
            BillingRun.objects.filter(pk=run.pk).update(
                customers_done=F("customers_done") + len(chunk),
                bills_created=F("bills_created") + created,
                already_billed=F("already_billed") + existing,
                skipped=run.skipped + skipped,
            )
    except Exception:
        BillingRun.objects.filter(pk=run.pk).update(status=BillingRunStatusChoices.FAILED, finished_at=timezone.now())
        raise
    # Counted from the bills themselves, so a run re-executed after a failure reports its own
    # bills once (those of the failed attempt are its own too) and never double counts.
    mine = Bill.objects.filter(billing_run=run).count()
    BillingRun.objects.filter(pk=run.pk).update(
        status=BillingRunStatusChoices.DONE,
        finished_at=timezone.now(),
        bills_created=mine,
        already_billed=Bill.objects.filter(period=run.period, kind=BillKindChoices.MONTHLY, customer_id__in=ids)
        .exclude(billing_run=run)
        .count(),
    )
    run.refresh_from_db()
    return run


@transaction.atomic
def bill_import(
    *,
    customer: Customer,
    period: str,
    external_ref: str,
    issued_on: dt.date,
    due_on: dt.date,
    lines: list[dict],
) -> Bill:
    """A bill computed by an external billing system, for customers billed elsewhere.
    Idempotent by (customer, external_ref): the same bill sent twice is returned, not doubled."""
    parse_period(period)
    if not external_ref:
        raise ValidationError({"external_ref": _("An imported bill needs the external system's reference.")})
    existing = Bill.objects.filter(customer=customer, external_ref=external_ref).first()
    if existing is not None:
        return existing
    if due_on < issued_on:
        raise ValidationError({"due_on": _("The due date cannot be before the issue date.")})
    if not lines:
        raise ValidationError({"lines": _("A bill needs at least one line.")})
    total = sum((line["amount"] for line in lines), Decimal("0"))
    bill = Bill.objects.create(
        customer=customer,
        period=period,
        kind=BillKindChoices.IMPORTED,
        number=f"EXT-{customer.account_no}-{external_ref}"[:40],
        issued_on=issued_on,
        due_on=due_on,
        total=total,
        external_ref=external_ref,
    )
    BillLine.objects.bulk_create(
        [
            BillLine(
                bill=bill,
                kind=line.get("kind") or BillLineKindChoices.OTHER,
                description=line.get("description", ""),
                quantity=line.get("quantity"),
                unit_price=line.get("unit_price"),
                amount=line["amount"],
                position=i,
            )
            for i, line in enumerate(lines)
        ]
    )
    credit_apply(customer=customer, on_day=issued_on)
    return bill


@transaction.atomic
def bill_adjust(*, bill: Bill, amount: Decimal, reason: str, created_by: User | None) -> AdjustmentNote:
    """Correct an issued bill with an adjustment note; the bill itself never changes."""
    if not reason.strip():
        raise ValidationError({"reason": _("Give the reason for the correction.")})
    if amount == 0 or amount != amount.quantize(Decimal("0.01")):
        raise ValidationError({"amount": _("Enter a non-zero amount with at most 2 decimals.")})
    note = AdjustmentNote.objects.create(bill=bill, amount=amount, reason=reason.strip(), created_by=created_by)
    bill_statuses_refresh([bill.pk])
    if amount < 0:
        # A credit note on a bill already paid: the excess goes back to credit, then to open bills.
        overpaid_release(bill_ids=[bill.pk], on_day=timezone.localdate())
        credit_apply(customer=bill.customer)
    return note
