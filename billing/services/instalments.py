"""Instalment settlement (分次结算), DESIGN.md rule 6.

A customer in `instalments` mode prepays each billing period in N ≥ 3 instalments. Each
instalment is an ordinary receivable — a `Bill` of kind `instalment` with one line, its own
issue and due dates and the number `<YYYYMM>-<account>-I<k>` — so penalties (rule 1),
allocation (rule 2), statements and the reconciliation treat it like any other bill.

- **Dates** come from `instalment_schedule`, the one place that knows them. The archive holds
  no agreed dates yet, so the billing period (between two reading days) is split evenly:
  instalment k of N is due at the end of the k-th equal part and issued `lead` days before
  (`INSTALMENT_ISSUE_LEAD_DAYS`, default 5), never before the period's first day. A stored
  agreement schedule replaces that function and nothing else.
- **Amounts** are re-estimated at each issue ("re-estimated from the latest forecast before
  each due date"): instalment k = (projected month charge × prepay ratio − what the period's
  instalments already bill) ÷ (N − k + 1), half-up to the fen. The projection is the latest
  `Forecast` dated inside the period, on or before the issue date; without one, the previous
  monthly bill's charge (its lines before any instalment credit); without that, nothing is
  issued and the month-end bill carries the whole charge.
- **Issue** is a daily job, `instalment_issue_due(day)`: every instalment of the period that
  contains `day` whose issue date has come and that does not exist yet. The bill number is the
  idempotency key (checked under the customer's row lock, and unique in the database), so a
  second run creates nothing. An instalment is never issued once its period has ended or its
  month-end bill exists: the month-end bill already charges what it would have.
- **Month-end true-up** lives in billing.services.bills (the billing run): the monthly bill
  deducts what the period's instalments billed, and an over-estimate becomes credit.
- **Terms** (prepay ratio, number of instalments) change through `instalment_terms_change`,
  which records an `InstalmentChange` and updates the archive through customers.services, so
  the customer's history names who changed it and why. Instalments already issued stand; the
  next ones use the new terms.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import MaxValueValidator
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.permissions import can_edit_archive
from customers.choices import CustomerOperatingStatusChoices, CustomerSettlementModeChoices
from customers.models import MIN_INSTALMENTS_PER_MONTH, Customer
from customers.services import customer_update

from ..calculation import money
from ..choices import BillKindChoices, BillLineKindChoices
from ..models import Bill, BillLine, CustomerTariff, Forecast, InstalmentChange, Tariff
from ..selectors import bills_with_balances
from .bills import parse_period, period_bounds, reading_date
from .payments import credit_apply

CHUNK = 500
ZERO = Decimal("0.00")
MAX_RATIO = Decimal("2")
RATIO_PLACES = Decimal("0.001")
MAX_INSTALMENTS_PER_MONTH = next(
    v.limit_value
    for v in Customer._meta.get_field("instalments_per_month").validators
    if isinstance(v, MaxValueValidator)
)


def issue_lead_days() -> int:
    """Days between an instalment's issue and due dates (configuration, default 5)."""
    return int(getattr(settings, "INSTALMENT_ISSUE_LEAD_DAYS", 5))


# --- dates ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class InstalmentSlot:
    index: int  # k, from 1
    issued_on: dt.date
    due_on: dt.date


def period_containing(day: dt.date, reading_day: int) -> str:
    """The billing period (YYYY-MM) whose consumption includes `day`: the period ends on its
    month's reading day, so a day after it belongs to the next month's period."""
    if day <= reading_date(day.year, day.month, reading_day):
        return f"{day.year}-{day.month:02d}"
    following = day.replace(day=28) + dt.timedelta(days=4)
    return f"{following.year}-{following.month:02d}"


def instalment_number(customer: Customer, period: str, index: int) -> str:
    return f"{period.replace('-', '')}-{customer.account_no}-I{index}"


def instalment_schedule(*, customer: Customer, period: str, count: int | None = None) -> list[InstalmentSlot]:
    """Issue and due dates of the period's instalments.

    No agreed dates are stored in the archive yet, so the period between the two reading days
    (start, end] is split into N equal parts: instalment k is due on start + ⌊length × k ÷ N⌋
    days (the last on the closing reading day) and issued `issue_lead_days()` before it, but
    never before the period's first day. E.g. N = 3 over 31 Oct → 30 Nov (30 days): due 10,
    20 and 30 Nov, issued 5, 15 and 25 Nov. Replace this function to follow an agreement.
    """
    count = customer.instalments_per_month if count is None else count
    if not count:
        return []
    start, end = period_bounds(period, customer.reading_day)
    first_day = start + dt.timedelta(days=1)
    length = (end - start).days
    lead = dt.timedelta(days=issue_lead_days())
    slots = []
    for k in range(1, count + 1):
        due = start + dt.timedelta(days=length * k // count)
        slots.append(InstalmentSlot(k, max(due - lead, first_day), due))
    return slots


# --- amounts -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Projection:
    """The month charge an instalment is planned on, and where the figure came from."""

    amount: Decimal
    source: str  # "forecast" | "previous_bill"
    reference: str  # the forecast's day or the bill's number


def month_projection(*, customer: Customer, period: str, on: dt.date) -> Projection | None:
    """The latest forecast of this period's charge made on or before `on`; else the previous
    monthly bill's charge; else None. A forecast dated before the period projects the previous
    period, so it is not used: that period's real bill is the better figure."""
    start, _end = period_bounds(period, customer.reading_day)
    forecast = (
        Forecast.objects.filter(customer=customer, day__gt=start, day__lte=on)
        .order_by("-day")
        .only("day", "projected_month_charge")
        .first()
    )
    if forecast is not None:
        return Projection(forecast.projected_month_charge, "forecast", forecast.day.isoformat())
    previous = (
        Bill.objects.filter(customer=customer, kind=BillKindChoices.MONTHLY, period__lt=period)
        .order_by("-period")
        .first()
    )
    if previous is None:
        return None
    # The month's charge, not what was left to pay after the instalments it deducted.
    charge = previous.lines.exclude(kind=BillLineKindChoices.INSTALMENT_CREDIT).aggregate(s=Sum("amount"))["s"]
    return Projection(charge or ZERO, "previous_bill", previous.number)


def instalment_amount(
    *, projected: Decimal, ratio: Decimal, already_billed: Decimal, index: int, count: int
) -> Decimal:
    """(projected × ratio − already billed) ÷ (N − k + 1), rounded half-up to the fen: what is
    still to be prepaid, spread over the instalments left (this one included)."""
    return money((projected * ratio - already_billed) / (count - index + 1))


def _billed(bills) -> Decimal:
    """What the given instalment bills charge: totals plus their adjustment notes."""
    return sum((b.total + b.adjustments_total for b in bills), ZERO)


def _tariff_on(customer: Customer, day: dt.date) -> Tariff | None:
    """The customer's tariff version on the day: recorded on the instalment so its penalty
    rate (e.g. residential) is the one its monthly bill would get."""
    code = (
        CustomerTariff.objects.filter(customer=customer, valid_from__lte=day)
        .order_by("-valid_from")
        .values_list("tariff_code", flat=True)
        .first()
    )
    if code is None:
        return None
    return Tariff.objects.filter(code=code, valid_from__lte=day).order_by("-valid_from").first()


# --- the daily issue job -------------------------------------------------------------------


@dataclass
class InstalmentIssueResult:
    created: list[Bill] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)  # {"account_no", "number", "reason"}


def _period_instalments(customer: Customer, period: str):
    return bills_with_balances(Bill.objects.filter(customer=customer, period=period, kind=BillKindChoices.INSTALMENT))


@transaction.atomic
def instalment_issue(*, customer: Customer, period: str, slot: InstalmentSlot, day: dt.date) -> tuple[Bill | None, str]:
    """Issue one instalment if it is still due to be issued. Returns (bill, "") or (None, reason);
    reason "exists" means an earlier run issued it. Holds the customer's row lock, the same lock
    payments take, so two runs (or a run and a payment) never interleave."""
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    number = instalment_number(customer, period, slot.index)
    if Bill.objects.filter(number=number).exists():
        return None, "exists"
    if customer.settlement_mode != CustomerSettlementModeChoices.INSTALMENTS:
        return None, "not_in_instalments"
    if Bill.objects.filter(customer=customer, period=period, kind=BillKindChoices.MONTHLY).exists():
        return None, "already_billed"
    start, end = period_bounds(period, customer.reading_day)
    if day > end:
        return None, "period_ended"
    issued_on, due_on = slot.issued_on, slot.due_on
    if day > due_on:
        # Caught up after its due date (the job did not run): never a receivable that is overdue
        # the day it is issued. It is issued today with the usual notice instead.
        issued_on, due_on = day, day + dt.timedelta(days=issue_lead_days())
    projection = month_projection(customer=customer, period=period, on=issued_on)
    if projection is None:
        return None, "no_forecast"
    count = customer.instalments_per_month or 0
    if slot.index > count:
        return None, "not_in_plan"
    already = _billed(_period_instalments(customer, period))
    amount = instalment_amount(
        projected=projection.amount,
        ratio=customer.prepay_ratio,
        already_billed=already,
        index=slot.index,
        count=count,
    )
    if amount <= 0:
        return None, "nothing_to_prepay"
    bill = Bill.objects.create(
        customer=customer,
        period=period,
        kind=BillKindChoices.INSTALMENT,
        number=number,
        period_start=start,
        period_end=end,
        issued_on=issued_on,
        due_on=due_on,
        total=amount,
        tariff=_tariff_on(customer, issued_on),
    )
    # The working, language-neutral like the other lines' descriptions:
    # "2/3: (300000.00 × 0.900 − 90000.00) ÷ 2; forecast 2026-10-15"
    working = (
        f"{slot.index}/{count}: ({projection.amount} × {customer.prepay_ratio} − {already}) ÷ "
        f"{count - slot.index + 1}; {projection.source} {projection.reference}"
    )
    BillLine.objects.create(
        bill=bill,
        kind=BillLineKindChoices.INSTALMENT,
        description=working[:200],
        quantity=None,
        unit_price=None,
        amount=amount,
        position=0,
    )
    # An overpayment kept as credit pays the new instalment straight away.
    credit_apply(customer=customer, on_day=issued_on)
    return bill, ""


def instalment_issue_due(*, day: dt.date | None = None) -> InstalmentIssueResult:
    """Issue every instalment whose issue date is on or before `day` (default today), for the
    period containing `day`, that does not exist yet. Safe to run twice, and to replay a day."""
    day = day or timezone.localdate()
    result = InstalmentIssueResult()
    ids = list(
        Customer.objects.filter(settlement_mode=CustomerSettlementModeChoices.INSTALMENTS)
        .exclude(operating_status=CustomerOperatingStatusChoices.CLOSED)
        .order_by("id")
        .values_list("id", flat=True)
    )
    for offset in range(0, len(ids), CHUNK):
        customers = list(Customer.objects.filter(id__in=ids[offset : offset + CHUNK]).order_by("id"))
        todo: list[tuple[Customer, str, InstalmentSlot]] = []
        for customer in customers:
            period = period_containing(day, customer.reading_day)
            for slot in instalment_schedule(customer=customer, period=period):
                if slot.issued_on <= day:
                    todo.append((customer, period, slot))
        # Most of a month's slots exist already: one query finds them, the rest are issued.
        existing = set(
            Bill.objects.filter(number__in=[instalment_number(c, p, s.index) for c, p, s in todo]).values_list(
                "number", flat=True
            )
        )
        for customer, period, slot in todo:
            number = instalment_number(customer, period, slot.index)
            if number in existing:
                continue
            bill, reason = instalment_issue(customer=customer, period=period, slot=slot, day=day)
            if bill is not None:
                result.created.append(bill)
            elif reason != "exists":
                result.skipped.append({"account_no": customer.account_no, "number": number, "reason": reason})
    return result


# --- terms ---------------------------------------------------------------------------------


def _validate_terms(customer: Customer, prepay_ratio, instalments_per_month, reason: str) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not isinstance(prepay_ratio, Decimal) or not prepay_ratio.is_finite():
        errors["prepay_ratio"] = [_("Enter the prepayment ratio as a number, e.g. 0.9.")]
    elif not (ZERO < prepay_ratio <= MAX_RATIO):
        errors["prepay_ratio"] = [_("The prepayment ratio must be more than 0 and at most 2.")]
    elif prepay_ratio != prepay_ratio.quantize(RATIO_PLACES):
        errors["prepay_ratio"] = [_("The prepayment ratio has at most 3 decimal places.")]
    in_mode = customer.settlement_mode == CustomerSettlementModeChoices.INSTALMENTS
    if instalments_per_month is None:
        if in_mode:
            errors["instalments_per_month"] = [_("Instalment settlement needs at least 3 instalments a month.")]
    elif isinstance(instalments_per_month, bool) or not isinstance(instalments_per_month, int):
        errors["instalments_per_month"] = [_("Enter a whole number of instalments.")]
    elif not (MIN_INSTALMENTS_PER_MONTH <= instalments_per_month <= MAX_INSTALMENTS_PER_MONTH):
        errors["instalments_per_month"] = [
            _("Between %(min)d and %(max)d instalments a month.")
            % {"min": MIN_INSTALMENTS_PER_MONTH, "max": MAX_INSTALMENTS_PER_MONTH}
        ]
    if not (reason or "").strip():
        errors["reason"] = [_("Give the reason for the change.")]
    elif len(reason.strip()) > InstalmentChange._meta.get_field("reason").max_length:
        errors["reason"] = [_("The reason is at most 300 characters.")]
    return errors


@transaction.atomic
def instalment_terms_change(
    *,
    customer: Customer,
    prepay_ratio: Decimal,
    instalments_per_month: int | None,
    reason: str,
    changed_by: User | AnonymousUser,
) -> InstalmentChange:
    """Change a customer's prepayment ratio (调整预付比例) and number of instalments, with the
    reason. Managers and area leaders only (they keep the archive). Validated before anything
    is written: a rejected change stores nothing."""
    if not can_edit_archive(changed_by):
        raise PermissionDenied(_("Only managers and area leaders may change instalment terms."))
    locked = Customer.objects.select_for_update().get(pk=customer.pk)
    errors = _validate_terms(locked, prepay_ratio, instalments_per_month, reason)
    if not errors and (prepay_ratio, instalments_per_month) == (locked.prepay_ratio, locked.instalments_per_month):
        errors["__all__"] = [_("These are already the customer's terms.")]
    if errors:
        raise ValidationError(errors)
    reason = reason.strip()
    change = InstalmentChange.objects.create(
        customer=locked,
        old_ratio=locked.prepay_ratio,
        new_ratio=prepay_ratio,
        old_count=locked.instalments_per_month,
        new_count=instalments_per_month,
        reason=reason,
        changed_by=changed_by,
    )
    # The archive's own history records the user; its change-reason column holds 100 characters.
    locked._change_reason = reason[:100]
    customer_update(
        customer=locked,
        data={"prepay_ratio": prepay_ratio, "instalments_per_month": instalments_per_month},
        updated_by=changed_by,
    )
    customer.prepay_ratio, customer.instalments_per_month = locked.prepay_ratio, locked.instalments_per_month
    return change


# --- the plan as staff see it ----------------------------------------------------------------


PLAN_STATES = {
    "issued": gettext_lazy("Issued"),
    "planned": gettext_lazy("Planned (estimate)"),
    "not_issued": gettext_lazy("Not issued"),
}


@dataclass
class PlanRow:
    index: int
    number: str
    issued_on: dt.date
    due_on: dt.date
    amount: Decimal | None  # what the issued instalment bills, or the estimate of a planned one
    state: str  # "issued" | "planned" | "not_issued" (the period closed without it)
    bill: Bill | None = None  # annotated with balances

    @property
    def state_label(self) -> str:
        return str(PLAN_STATES[self.state])

    @property
    def paid(self) -> Decimal:
        return self.bill.principal_paid if self.bill else ZERO

    @property
    def principal_due(self) -> Decimal:
        return self.bill.principal_due if self.bill else ZERO

    @property
    def penalty_due(self) -> Decimal:
        return self.bill.penalty_due if self.bill else ZERO


@dataclass
class InstalmentPlan:
    customer: Customer
    period: str
    period_start: dt.date
    period_end: dt.date
    count: int | None
    ratio: Decimal
    projection: Projection | None
    target: Decimal | None
    rows: list[PlanRow]
    monthly_bill: Bill | None

    @property
    def billed(self) -> Decimal:
        return sum((r.amount or ZERO for r in self.rows if r.state == "issued"), ZERO)

    @property
    def paid(self) -> Decimal:
        return sum((r.paid for r in self.rows), ZERO)

    @property
    def outstanding(self) -> Decimal:
        return sum((r.principal_due + r.penalty_due for r in self.rows), ZERO)


def instalment_plan(*, customer: Customer, period: str | None = None, as_of: dt.date | None = None) -> InstalmentPlan:
    """This period's instalments: issued ones with what is paid and outstanding, planned ones
    estimated the way the job will issue them, from the latest projection as of `as_of`."""
    as_of = as_of or timezone.localdate()
    period = period or period_containing(as_of, customer.reading_day)
    parse_period(period)
    start, end = period_bounds(period, customer.reading_day)
    issued = {b.number: b for b in _period_instalments(customer, period).order_by("due_on", "id")}
    monthly = Bill.objects.filter(customer=customer, period=period, kind=BillKindChoices.MONTHLY).first()
    projection = month_projection(customer=customer, period=period, on=min(as_of, end))
    count = customer.instalments_per_month
    ratio = customer.prepay_ratio
    target = money(projection.amount * ratio) if projection else None
    rows: list[PlanRow] = []
    running = _billed(issued.values())
    for slot in instalment_schedule(customer=customer, period=period):
        number = instalment_number(customer, period, slot.index)
        bill = issued.pop(number, None)
        if bill is not None:
            rows.append(PlanRow(slot.index, number, bill.issued_on, bill.due_on, _billed([bill]), "issued", bill=bill))
            continue
        if monthly is not None or as_of > end:
            # Never issued, and now it never will be: the month-end bill charges it.
            rows.append(PlanRow(slot.index, number, slot.issued_on, slot.due_on, None, "not_issued"))
            continue
        estimate = None
        if projection is not None and count:
            estimate = instalment_amount(
                projected=projection.amount, ratio=ratio, already_billed=running, index=slot.index, count=count
            )
            estimate = max(estimate, ZERO)
            running += estimate
        rows.append(PlanRow(slot.index, number, slot.issued_on, slot.due_on, estimate, "planned"))
    # Instalments issued under earlier terms (a larger N) are still the customer's receivables.
    for bill in issued.values():
        index = int(bill.number.rsplit("-I", 1)[1])
        rows.append(PlanRow(index, bill.number, bill.issued_on, bill.due_on, _billed([bill]), "issued", bill=bill))
    rows.sort(key=lambda r: (r.due_on, r.index))
    return InstalmentPlan(customer, period, start, end, count, ratio, projection, target, rows, monthly)
