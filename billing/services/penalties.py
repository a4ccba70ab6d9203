"""Late-payment penalties (违约金), DESIGN.md rule 1.

Day D's penalty on a bill is the principal unpaid at the start of D (a payment on D lowers
the accrual from D + 1) times the day's rate: the contract rate if the customer has one,
else 1‰ for residential tariffs, else 3‰ when the bill was due in an earlier calendar year
(arrears carried across a year end) and 2‰ otherwise. Accrual starts the day after the due date.

Each row stores the exact product and the change in the bill's rounded running total
max(round(Σ exact), ¥1), so the fen-valued rows always add up to the rounded total and the
¥1 minimum. A back-dated payment or a reversal writes one recalculation row per bill.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, QuerySet, Subquery
from django.utils.translation import gettext as _

from core.roles import is_manager
from customers.models import Customer

from ..choices import BillStatusChoices, TariffCategoryChoices
from ..models import Bill, PenaltyAccrual, PenaltyRule, PenaltyWaiver
from ..selectors import bills_with_balances
from .ledger import bill_statuses_refresh

FEN = Decimal("0.01")
ZERO = Decimal("0")


def _rule_for(day: dt.date, rules: list[PenaltyRule]) -> PenaltyRule:
    for rule in rules:  # newest first
        if rule.valid_from <= day:
            return rule
    raise ValidationError(_("No penalty rule is in force on %(day)s.") % {"day": day})


def daily_rate(bill: Bill, day: dt.date, rule: PenaltyRule) -> tuple[Decimal, bool]:
    """(rate, carried across a year end) for the bill on that day."""
    cross_year = day.year > bill.due_on.year
    override = bill.customer.penalty_rate_override
    if override is not None:
        return override, cross_year
    if bill.tariff is not None and bill.tariff.category == TariffCategoryChoices.RESIDENTIAL:
        return rule.residential_rate, cross_year
    return (rule.cross_year_rate if cross_year else rule.current_year_rate), cross_year


def _rounded_total(exact: Decimal, minimum: Decimal) -> Decimal:
    if exact <= 0:
        return ZERO
    return max(exact.quantize(FEN, rounding=ROUND_HALF_UP), minimum)


def _accrue_day(bills: QuerySet[Bill], day: dt.date, rules: list[PenaltyRule]) -> int:
    rule = _rule_for(day, rules)
    already = PenaltyAccrual.objects.filter(bill=OuterRef("pk"), accrued_on=day, is_correction=False)
    if connection.vendor == "postgresql":
        # Lock the customers concerned, in id order, as payments do: a back-dated payment that
        # commits while the day is being computed would otherwise find no row to correct, and
        # the day would accrue on the principal it had already paid. The balances below are read
        # after the locks are held.
        due = bills.filter(due_on__lt=day).exclude(status=BillStatusChoices.PAID).values("customer_id")
        list(Customer.objects.select_for_update().filter(id__in=due).order_by("id").values_list("id", flat=True))
    candidates = (
        # Paid bills (the cached status, kept in step by every payment) are skipped before the
        # balance subqueries run; the partial index on unpaid bills serves this filter.
        bills_with_balances(bills.filter(due_on__lt=day).exclude(status=BillStatusChoices.PAID), before=day)
        .filter(principal_due__gt=0)
        .exclude(Exists(already))
        .select_related("customer", "tariff")
    )
    rows = []
    for bill in candidates.iterator(chunk_size=2000):
        rate, cross_year = daily_rate(bill, day, rule)
        exact = bill.principal_due * rate
        new_total = _rounded_total(bill.penalty_exact + exact, rule.minimum_amount)
        rows.append(
            PenaltyAccrual(
                bill=bill,
                accrued_on=day,
                principal=bill.principal_due,
                rate=rate,
                cross_year=cross_year,
                exact_amount=exact,
                amount=new_total - bill.penalty_accrued,
            )
        )
    # ignore_conflicts: a concurrent run for the same day loses quietly instead of failing.
    PenaltyAccrual.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True)
    return len(rows)


def penalties_accrue(*, through: dt.date, bills: QuerySet[Bill] | None = None, since: dt.date | None = None) -> int:
    """Accrue every missing day up to and including `through`. Safe to run twice: a day that
    already has its row is skipped. Returns the number of rows written."""
    bills = Bill.objects.all() if bills is None else bills
    rules = list(PenaltyRule.objects.order_by("-valid_from"))
    if since is None:
        # Catch up from the oldest day any overdue open bill still lacks, so missed runs
        # (a stopped worker, a holiday) are filled in order.
        last = (
            PenaltyAccrual.objects.filter(bill=OuterRef("pk"), is_correction=False)
            .order_by("-accrued_on")
            .values("accrued_on")[:1]
        )
        pending = (
            bills_with_balances(bills.filter(due_on__lt=through).exclude(status=BillStatusChoices.PAID))
            .filter(principal_due__gt=0)
            .annotate(last_accrued=Subquery(last))
            .values_list("due_on", "last_accrued")
        )
        starts = [(last or due) + dt.timedelta(days=1) for due, last in pending]
        if not starts:
            return 0
        since = min(starts)
    written = 0
    day = since
    while day <= through:
        with transaction.atomic():
            written += _accrue_day(bills, day, rules)
        day += dt.timedelta(days=1)
    return written


def penalties_recalculate(*, bills: Iterable[Bill], from_day: dt.date, on_day: dt.date | None = None) -> None:
    """After a back-dated payment or a reversal: recompute every day from `from_day` that is
    already accrued, and write a correction row dated on each day whose amount changed.

    A day's effective penalty is its original row plus every earlier correction of that day,
    so a second back-dated payment corrects what the first one left, not the original again.
    The fen amounts of the corrections bring the bill's rows back to max(round(Σ exact), ¥1)."""
    rules = list(PenaltyRule.objects.order_by("-valid_from"))
    for bill in bills:
        effective: dict[dt.date, Decimal] = {}
        rows = PenaltyAccrual.objects.filter(bill=bill, accrued_on__gte=from_day).values_list(
            "accrued_on", "exact_amount"
        )
        for day, exact in rows:
            effective[day] = effective.get(day, ZERO) + exact
        corrections = []
        for day in sorted(effective):
            principal = max(bills_with_balances(Bill.objects.filter(pk=bill.pk), before=day).get().principal_due, ZERO)
            rate, cross_year = daily_rate(bill, day, _rule_for(day, rules))
            delta = principal * rate - effective[day]
            if delta:
                corrections.append(
                    PenaltyAccrual(
                        bill=bill,
                        accrued_on=day,
                        principal=principal,
                        rate=rate,
                        cross_year=cross_year,
                        exact_amount=delta,
                        amount=ZERO,
                        is_correction=True,
                    )
                )
        if not corrections:
            continue
        current = bills_with_balances(Bill.objects.filter(pk=bill.pk)).get()
        exact_total = current.penalty_exact + sum((c.exact_amount for c in corrections), ZERO)
        minimum = _rule_for(corrections[-1].accrued_on, rules).minimum_amount
        # Spread the change of the rounded total over the corrections (the last takes the rest).
        remaining = _rounded_total(exact_total, minimum) - current.penalty_accrued
        for correction in corrections[:-1]:
            correction.amount = correction.exact_amount.quantize(FEN, rounding=ROUND_HALF_UP)
            remaining -= correction.amount
        corrections[-1].amount = remaining
        PenaltyAccrual.objects.bulk_create(corrections)


@transaction.atomic
def penalty_waive(*, bill: Bill, amount: Decimal, reason: str, approved_by: User) -> PenaltyWaiver:
    """A manager waives (part of) a bill's outstanding penalty, with a reason."""
    if not is_manager(approved_by):
        raise PermissionDenied(_("Only a manager may waive a penalty."))
    if not reason.strip():
        raise ValidationError({"reason": _("Give the reason for the waiver.")})
    if amount <= 0 or amount != amount.quantize(FEN):
        raise ValidationError({"amount": _("Enter a positive amount in yuan with at most 2 decimals.")})
    # The customer's lock first, like payments: a waiver and a payment never take the same penalty.
    Customer.objects.select_for_update().get(pk=bill.customer_id)
    locked = Bill.objects.select_for_update().get(pk=bill.pk)
    outstanding = bills_with_balances(Bill.objects.filter(pk=locked.pk)).get().penalty_due
    if amount > outstanding:
        raise ValidationError(
            {"amount": _("Only %(due)s of penalty is outstanding on this bill.") % {"due": outstanding}}
        )
    waiver = PenaltyWaiver.objects.create(bill=locked, amount=amount, reason=reason.strip(), approved_by=approved_by)
    bill_statuses_refresh([locked.pk])
    return waiver
