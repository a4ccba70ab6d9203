"""Reads of billing facts, used by billing's services and by the floors above.

Outstanding amounts are always derived from the immutable rows (bill total, adjustment
notes, penalty accruals and waivers, allocations), never stored.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import DecimalField, Exists, F, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce, Round
from django.utils import timezone

from customers.models import Customer
from customers.selectors import customers_visible_to

from .models import AdjustmentNote, Bill, Payment, PaymentAllocation, PenaltyAccrual, PenaltyWaiver

ZERO = Decimal("0.00")
_MONEY = DecimalField(max_digits=16, decimal_places=2)


def _sum(model, value: str, *conditions: Q, **filters) -> Coalesce:
    # order_by(): a model ordered by "bill" would otherwise join bill and customer into every
    # subquery for an ordering a sum never uses (and clash with an outer select_related).
    rows = (
        model.objects.filter(*conditions, bill=OuterRef("pk"), **filters)
        .order_by()
        .values("bill")
        .annotate(s=Sum(value))
        .values("s")
    )
    return Coalesce(Subquery(rows, output_field=_MONEY), Value(ZERO), output_field=_MONEY)


def bills_with_balances(
    queryset: QuerySet[Bill] | None = None, *, before: dt.date | None = None, penalty_through: dt.date | None = None
) -> QuerySet[Bill]:
    """Bills annotated with `principal_due` and `penalty_due` (one subquery each, no join fan-out).

    With `before`, only what had happened before that day counts: the principal on which
    that day's penalty accrues (a payment on day D lowers the accrual from D + 1).
    With `penalty_through`, penalty days after that date are left out: what a payment
    received on that day owes first (a back-dated payment does not pay later days' penalty)."""
    queryset = Bill.objects.all() if queryset is None else queryset
    adj = {"created_at__date__lt": before} if before else {}
    alloc = {"allocated_on__lt": before} if before else {}
    # Corrections are dated on the day they correct, so one date filter serves both kinds.
    penalty_days = (Q(accrued_on__lte=penalty_through),) if penalty_through else ()
    return queryset.annotate(
        adjustments_total=_sum(AdjustmentNote, "amount", **adj),
        principal_paid=_sum(PaymentAllocation, "principal", **alloc),
        penalty_paid=_sum(PaymentAllocation, "penalty", **alloc),
        penalty_accrued=_sum(PenaltyAccrual, "amount", *penalty_days),
        penalty_exact=_sum(PenaltyAccrual, "exact_amount"),
        penalty_waived=_sum(PenaltyWaiver, "amount"),
    ).annotate(
        # Rounded in SQL: SQLite sums decimals as floats, and a paid bill must compare as exactly 0.
        principal_due=Round(F("total") + F("adjustments_total") - F("principal_paid"), 2, output_field=_MONEY),
        penalty_due=Round(F("penalty_accrued") - F("penalty_waived") - F("penalty_paid"), 2, output_field=_MONEY),
    )


def with_balances(queryset: QuerySet[Bill]) -> QuerySet[Bill]:
    """Today's balances, unless the bills already carry a day's (the `overdue_on` filter's):
    lists filter first and annotate after, so a filter may choose the day."""
    return queryset if "principal_due" in queryset.query.annotations else bills_with_balances(queryset)


def open_bills(customer: Customer, *, as_of: dt.date | None = None) -> QuerySet[Bill]:
    """The customer's bills with anything left to pay, oldest due first (Civil Code Art. 560)."""
    return (
        bills_with_balances(Bill.objects.filter(customer=customer), penalty_through=as_of)
        .filter(Q(principal_due__gt=0) | Q(penalty_due__gt=0))
        .order_by("due_on", "id")
    )


def bill_totals(queryset: QuerySet[Bill]) -> dict[str, Decimal]:
    """Σ total, principal due and penalty due of annotated bills (today's balances from
    `bills_with_balances`, a past day's from `overdue_bills_as_of`): the bill list's footer."""
    # Aliases other than the annotations' names: an aggregate named like one replaces it.
    sums = queryset.order_by().aggregate(
        sum_total=Sum("total"), sum_principal=Sum("principal_due"), sum_penalty=Sum("penalty_due")
    )
    sums = {
        name: sums[alias] if sums[alias] is not None else ZERO
        for name, alias in (("total", "sum_total"), ("principal_due", "sum_principal"), ("penalty_due", "sum_penalty"))
    }
    sums["amount_due"] = sums["principal_due"] + sums["penalty_due"]
    return sums


def payment_unallocated(queryset: QuerySet[Payment] | None = None) -> QuerySet[Payment]:
    """Payments annotated with `unallocated`: the credit they still carry."""
    queryset = Payment.objects.all() if queryset is None else queryset
    allocated = (
        PaymentAllocation.objects.filter(payment=OuterRef("pk"))
        .values("payment")
        .annotate(s=Sum(F("principal") + F("penalty")))
        .values("s")
    )
    return queryset.annotate(
        allocated=Coalesce(Subquery(allocated, output_field=_MONEY), Value(ZERO), output_field=_MONEY)
    ).annotate(unallocated=Round(F("amount") - F("allocated"), 2, output_field=_MONEY))


def customer_credit(customer: Customer) -> Decimal:
    """Money received and not yet applied to any bill (overpayment kept as credit)."""
    rows = payment_unallocated(Payment.objects.filter(customer=customer, status="posted", prepaid_entry__isnull=True))
    return sum((p.unallocated for p in rows if p.unallocated > 0), ZERO)


def has_open_bills():
    return Exists(bills_with_balances(Bill.objects.filter(customer=OuterRef("pk"))).filter(principal_due__gt=0))


def bills_visible_to(user) -> QuerySet[Bill]:
    return Bill.objects.filter(customer__in=customers_visible_to(user))


def overdue_bills_by_customer(day: dt.date, customers: QuerySet[Customer] | None = None) -> dict[int, list[Bill]]:
    """Each customer's bills past due on `day` with principal still unpaid, oldest first —
    the arrears the dunning run, cut-off gate, worklist and recovery figures all start from."""
    bills = Bill.objects.filter(due_on__lt=day).exclude(status="paid")
    if customers is not None:
        bills = bills.filter(customer__in=customers)
    rows = bills_with_balances(bills).filter(principal_due__gt=0).order_by("customer_id", "due_on", "id")
    by_customer: dict[int, list[Bill]] = {}
    for bill in rows:
        by_customer.setdefault(bill.customer_id, []).append(bill)
    return by_customer


def overdue_bills_as_of(queryset: QuerySet[Bill], as_of: dt.date) -> QuerySet[Bill]:
    """Bills overdue on `as_of` with what was unpaid of them that day: `principal_due` and
    `penalty_due` count payments and penalty up to and including the day. The one definition
    of "arrears on a date" — the dashboards' summary adds these up, the bill list's
    `overdue_on` filter shows them, so a drill-down's rows add up to the figure it came from.

    Give it bills without balances (`with_balances` afterwards leaves these as they are)."""
    bills = queryset.filter(due_on__lt=as_of, issued_on__lte=as_of)
    if as_of >= timezone.localdate():
        bills = bills.exclude(status="paid")  # nothing paid today can be unpaid today
    # The calendar's last day has no next one (a date a client may send): nothing follows it anyway.
    before = as_of + dt.timedelta(days=1) if as_of < dt.date.max else None
    return bills_with_balances(bills, before=before, penalty_through=as_of).filter(
        Q(principal_due__gt=0) | Q(penalty_due__gt=0)
    )


def customers_with_arrears_as_of(customers: QuerySet[Customer], as_of: dt.date) -> QuerySet[Customer]:
    """Customers annotated with `in_arrears_as_of` (anything overdue on the day, by
    `overdue_bills_as_of`) and `arrears_as_of` (its principal and penalty). The archive's list
    filters reach this through `settings.CUSTOMER_ARREARS_AS_OF`, since the archive may not
    import billing (DESIGN.md "Floors")."""
    overdue = overdue_bills_as_of(Bill.objects.filter(customer=OuterRef("pk")), as_of)
    amount = overdue.values("customer").annotate(s=Sum(F("principal_due") + F("penalty_due"))).values("s")
    return customers.annotate(
        in_arrears_as_of=Exists(overdue),
        arrears_as_of=Coalesce(Subquery(amount, output_field=_MONEY), Value(ZERO), output_field=_MONEY),
    )
