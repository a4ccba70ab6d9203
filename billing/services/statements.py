"""The customer account: a statement whose balance is the sum of its entries, and the
reconciliation that proves it against the outstanding amounts derived from allocations."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Max, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.models import Customer

from ..models import AdjustmentNote, Bill, BillLine, Payment, PaymentReversal, PenaltyAccrual, PenaltyWaiver
from ..selectors import bills_with_balances, payment_unallocated

ZERO = Decimal("0.00")


@dataclass
class Entry:
    date: dt.date
    kind: str
    reference: str
    description: str
    amount: Decimal  # positive: the customer owes more; negative: money received or waived
    balance: Decimal = ZERO


def statement_entries(customer: Customer) -> list[Entry]:
    entries: list[Entry] = []
    for bill in Bill.objects.filter(customer=customer).order_by("issued_on", "id"):
        entries.append(
            Entry(bill.issued_on, "bill", bill.number, _("Bill for %(period)s") % {"period": bill.period}, bill.total)
        )
    for note in AdjustmentNote.objects.filter(bill__customer=customer).select_related("bill"):
        entries.append(
            Entry(timezone.localdate(note.created_at), "adjustment", note.bill.number, note.reason, note.amount)
        )
    penalties = (
        PenaltyAccrual.objects.filter(bill__customer=customer)
        .annotate(month=TruncMonth("accrued_on"))
        .values("bill__number", "month")
        .annotate(total=Sum("amount"), last=Max("accrued_on"))
        .order_by("month", "bill__number")
    )
    for row in penalties:
        if row["total"]:
            entries.append(
                Entry(
                    row["last"],
                    "penalty",
                    row["bill__number"],
                    _("Late-payment penalty, %(month)s") % {"month": row["month"].strftime("%Y-%m")},
                    row["total"],
                )
            )
    for waiver in PenaltyWaiver.objects.filter(bill__customer=customer).select_related("bill"):
        entries.append(
            Entry(timezone.localdate(waiver.created_at), "waiver", waiver.bill.number, waiver.reason, -waiver.amount)
        )
    for payment in Payment.objects.filter(customer=customer):
        label = _("Payment, %(channel)s") % {"channel": payment.get_channel_display()}
        entries.append(
            Entry(timezone.localdate(payment.received_at), "payment", payment.external_ref, label, -payment.amount)
        )
    for reversal in PaymentReversal.objects.filter(payment__customer=customer).select_related("payment"):
        entries.append(
            Entry(
                reversal.reversed_on,
                "reversal",
                reversal.payment.external_ref,
                reversal.reason,
                reversal.payment.amount,
            )
        )
    order = {"bill": 0, "adjustment": 1, "penalty": 2, "waiver": 3, "payment": 4, "reversal": 5}
    entries.sort(key=lambda e: (e.date, order[e.kind]))
    balance = ZERO
    for entry in entries:
        balance += entry.amount
        entry.balance = balance
    return entries


@dataclass
class AccountSummary:
    principal_due: Decimal
    penalty_due: Decimal
    credit: Decimal

    @property
    def balance(self) -> Decimal:
        return self.principal_due + self.penalty_due - self.credit


def account_summary(customer: Customer) -> AccountSummary:
    """What is owed, derived from allocations rather than from the statement's entries."""
    totals = bills_with_balances(Bill.objects.filter(customer=customer)).aggregate(
        principal=Sum("principal_due"), penalty=Sum("penalty_due")
    )
    credit = sum(
        (p.unallocated for p in payment_unallocated(Payment.objects.filter(customer=customer, status="posted"))),
        ZERO,
    )
    return AccountSummary(totals["principal"] or ZERO, totals["penalty"] or ZERO, credit)


FEN = Decimal("0.01")


def _by_customer(queryset, customer_field: str, value: str) -> dict[int, Decimal]:
    rows = queryset.values(customer_field).annotate(s=Sum(value)).values_list(customer_field, "s")
    # Quantized: SQLite returns sums of NUMERIC as binary floats (…0.0000000001 off).
    return {customer_id: Decimal(total or 0).quantize(FEN) for customer_id, total in rows}


def reconcile(customers=None) -> list[str]:
    """Problems found, one line each. Set-based over all customers:

    - the sum of each customer's statement entries (bills, notes, penalties, waivers,
      payments, reversals) equals what is outstanding derived from the allocations
      (principal due + penalty due − unapplied credit);
    - every bill's total equals the sum of its lines;
    - no bill is over-allocated and no payment is allocated beyond its amount.
    """
    problems: list[str] = []
    customers = Customer.objects.all() if customers is None else customers
    ids = customers.values("id")
    bills = Bill.objects.filter(customer_id__in=ids)
    line_sums = dict(
        BillLine.objects.filter(bill__in=bills).values("bill_id").annotate(s=Sum("amount")).values_list("bill_id", "s")
    )
    for bill_id, number, total in bills.values_list("id", "number", "total"):
        if line_sums.get(bill_id, ZERO) != total:
            problems.append(f"bill {number}: total {total} != lines {line_sums.get(bill_id, ZERO)}")
    for bill in bills_with_balances(bills).filter(principal_due__lt=0):
        problems.append(f"bill {bill.number}: over-allocated, principal due {bill.principal_due}")
    for payment in payment_unallocated(Payment.objects.filter(customer_id__in=ids)).filter(unallocated__lt=0):
        problems.append(f"payment {payment.pk}: allocated {payment.allocated} of {payment.amount}")

    entries: dict[int, Decimal] = {}
    for sign, totals in (
        (1, _by_customer(bills, "customer_id", "total")),
        (1, _by_customer(AdjustmentNote.objects.filter(bill__in=bills), "bill__customer_id", "amount")),
        (1, _by_customer(PenaltyAccrual.objects.filter(bill__in=bills), "bill__customer_id", "amount")),
        (-1, _by_customer(PenaltyWaiver.objects.filter(bill__in=bills), "bill__customer_id", "amount")),
        (-1, _by_customer(Payment.objects.filter(customer_id__in=ids), "customer_id", "amount")),
        (
            1,
            _by_customer(
                PaymentReversal.objects.filter(payment__customer_id__in=ids), "payment__customer_id", "payment__amount"
            ),
        ),
    ):
        for customer_id, total in totals.items():
            entries[customer_id] = entries.get(customer_id, ZERO) + sign * total
    derived: dict[int, Decimal] = {}
    for customer_id, principal, penalty in bills_with_balances(bills).values_list(
        "customer_id", "principal_due", "penalty_due"
    ):
        derived[customer_id] = derived.get(customer_id, ZERO) + principal + penalty
    posted = payment_unallocated(Payment.objects.filter(customer_id__in=ids, status="posted"))
    for customer_id, unallocated in posted.values_list("customer_id", "unallocated"):
        derived[customer_id] = derived.get(customer_id, ZERO) - unallocated
    accounts = dict(customers.values_list("id", "account_no"))
    for customer_id in sorted(set(entries) | set(derived)):
        if entries.get(customer_id, ZERO) != derived.get(customer_id, ZERO):
            problems.append(
                f"customer {accounts.get(customer_id, customer_id)}: entries {entries.get(customer_id, ZERO)} "
                f"!= derived {derived.get(customer_id, ZERO)}"
            )
    return problems
