"""Payments from every channel, their allocation, credit and reversal (DESIGN.md rule 2).

Allocation follows Civil Code Art. 560–561 unless the contract says otherwise: the oldest due
bill first; within a bill, penalty before principal. What is left stays on the payment as
credit and is used by the next bill. A reversal (bank return) writes negative allocations
that re-open exactly what the payment had paid.

Concurrency: every write for a customer locks the customer's row first, so two payments for
one customer arriving at once are allocated one after the other and never both take the
same outstanding amount.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.choices import CustomerOperatingStatusChoices
from customers.models import Customer

from ..choices import PaymentChannelChoices, PaymentStatusChoices
from ..models import Bill, Payment, PaymentAllocation, PaymentReversal
from ..selectors import bills_with_balances, open_bills, payment_unallocated
from .ledger import bill_statuses_refresh
from .penalties import penalties_accrue, penalties_recalculate
from .prepaid import PREPAID_MODES, prepaid_account_for, prepaid_top_up, prepaid_top_up_reverse

FEN = Decimal("0.01")
ZERO = Decimal("0.00")
MAX_AMOUNT = Decimal("999999999999.99")


class DuplicatePayment(Exception):
    """The channel reference was posted before (the bank sent the same transaction twice)."""

    def __init__(self, existing: Payment):
        super().__init__(f"payment {existing.channel}/{existing.external_ref} already posted")
        self.existing = existing


@dataclass
class _Source:
    payment: Payment
    available: Decimal


def validate_amount(amount) -> Decimal:
    if not isinstance(amount, Decimal):
        raise ValidationError({"amount": _("Enter an amount in yuan.")})
    if not amount.is_finite() or amount <= 0:
        raise ValidationError({"amount": _("The amount must be more than zero.")})
    if amount != amount.quantize(FEN):
        raise ValidationError({"amount": _("The amount has at most 2 decimal places (fen).")})
    if amount > MAX_AMOUNT:
        raise ValidationError({"amount": _("The amount is too large.")})
    return amount


def validate_received_at(received_at: dt.datetime | None) -> None:
    """For the entry points (API, counter form, bank file): a received date at most
    PAYMENT_MAX_BACKDATE_DAYS back. A typo in the year would otherwise wipe out months of
    penalty; older money is posted with today's date and the difference settled by a manager's
    waiver. (Loading history, e.g. the demo, calls payment_record directly.)"""
    if received_at is None:
        return
    oldest = timezone.localdate() - dt.timedelta(days=settings.PAYMENT_MAX_BACKDATE_DAYS)
    if timezone.localdate(received_at) < oldest:
        raise ValidationError(
            {
                "received_at": _("A payment is posted at most %(days)d days back (not before %(date)s).")
                % {"days": settings.PAYMENT_MAX_BACKDATE_DAYS, "date": oldest}
            }
        )


def _lock_customer(customer: Customer) -> Customer:
    return Customer.objects.select_for_update().get(pk=customer.pk)


def _allocate(customer: Customer, sources: list[_Source], on_day: dt.date) -> list[PaymentAllocation]:
    """Apply the sources, in order, to the customer's open bills (oldest due first, penalty
    before principal). The caller holds the customer's lock."""
    allocations: list[PaymentAllocation] = []
    sources = [s for s in sources if s.available > 0]
    if not sources:
        return allocations
    current = sources.pop(0)
    for bill in open_bills(customer, as_of=on_day):
        for part in ("penalty", "principal"):
            due = bill.penalty_due if part == "penalty" else bill.principal_due
            while due > 0 and current is not None:
                take = min(due, current.available)
                allocations.append(
                    PaymentAllocation(payment=current.payment, bill=bill, allocated_on=on_day, **{part: take})
                )
                due -= take
                current.available -= take
                if current.available == 0:
                    current = sources.pop(0) if sources else None
            if current is None:
                break
        if current is None:
            break
    # One row per payment and bill, penalty and principal together.
    merged: dict[tuple[int, int], PaymentAllocation] = {}
    for row in allocations:
        key = (row.payment.pk, row.bill.pk)
        if key in merged:
            merged[key].penalty += row.penalty
            merged[key].principal += row.principal
        else:
            merged[key] = row
    rows = PaymentAllocation.objects.bulk_create(list(merged.values()))
    bill_statuses_refresh(row.bill_id for row in rows)
    return rows


def _credit_sources(customer: Customer) -> list[_Source]:
    # Top-ups belong to the prepaid balance: they never pay bills as credit.
    payments = payment_unallocated(
        Payment.objects.filter(customer=customer, status=PaymentStatusChoices.POSTED, prepaid_entry__isnull=True)
    ).order_by("received_at", "id")
    return [_Source(p, p.unallocated) for p in payments if p.unallocated > 0]


@transaction.atomic
def payment_record(
    *,
    customer: Customer,
    amount: Decimal,
    channel: str,
    external_ref: str = "",
    received_at: dt.datetime | None = None,
    recorded_by: User | None = None,
) -> Payment:
    """Post a payment and allocate it. Raises ValidationError for bad input and
    DuplicatePayment when the channel reference was already posted."""
    amount = validate_amount(amount)
    if channel not in PaymentChannelChoices.values:
        raise ValidationError({"channel": _("Unknown payment channel %(channel)s.") % {"channel": channel}})
    received_at = received_at or timezone.now()
    if received_at > timezone.now() + dt.timedelta(minutes=5):
        raise ValidationError({"received_at": _("A payment cannot be received in the future.")})
    external_ref = (external_ref or "").strip()
    customer = _lock_customer(customer)
    if customer.operating_status == CustomerOperatingStatusChoices.CLOSED:
        raise ValidationError({"customer": _("The account %(account)s is closed.") % {"account": customer.account_no}})
    if external_ref:
        existing = Payment.objects.filter(channel=channel, external_ref=external_ref).first()
        if existing is not None:
            raise DuplicatePayment(existing)
    try:
        with transaction.atomic():
            payment = Payment.objects.create(
                customer=customer,
                amount=amount,
                channel=channel,
                external_ref=external_ref,
                received_at=received_at,
                recorded_by=recorded_by,
            )
    except IntegrityError:
        # Lost a race with the same reference posted for another customer at the same moment.
        raise DuplicatePayment(Payment.objects.get(channel=channel, external_ref=external_ref)) from None
    # --- prepaid (DESIGN.md rule 5) -------------------------------------------------------------
    # A payment for a customer with a prepaid account tops the account up instead of paying
    # bills: the prepaid balance is what the daily charges are taken from.
    if customer.settlement_mode in PREPAID_MODES and prepaid_account_for(customer) is not None:
        prepaid_top_up(payment=payment)
        return payment
    # --- end prepaid ----------------------------------------------------------------------------
    day = timezone.localdate(received_at)
    customer_bills = Bill.objects.filter(customer=customer)
    # Penalty accrued through the day of payment is due first (penalty before principal).
    penalties_accrue(through=day, bills=customer_bills)
    rows = _allocate(customer, [_Source(payment, amount)], day)
    # A back-dated payment lowers the principal of days already accrued after it; what was paid
    # on those days beyond the corrected penalty goes back to credit and on to open bills.
    touched = [Bill.objects.get(pk=pk) for pk in {r.bill_id for r in rows}]
    penalties_recalculate(bills=touched, from_day=day + dt.timedelta(days=1))
    if overpaid_release(bill_ids=[b.pk for b in touched], on_day=timezone.localdate()):
        _allocate(customer, _credit_sources(customer), timezone.localdate())
    return payment


def overpaid_release(*, bill_ids, on_day: dt.date) -> bool:
    """Where a bill now has more paid than it owes (its penalty was recalculated down, or a
    credit note lowered it), take the excess back from its latest allocations as negative
    allocations: the money becomes the payment's credit again. Returns whether any was released."""
    released = False
    for bill in bills_with_balances(Bill.objects.filter(pk__in=list(bill_ids))):
        excess = {"penalty": max(-bill.penalty_due, ZERO), "principal": max(-bill.principal_due, ZERO)}
        if not any(excess.values()):
            continue
        rows = []
        for allocation in PaymentAllocation.objects.filter(bill=bill, reversal__isnull=True).order_by("-id"):
            for part in ("penalty", "principal"):
                take = min(excess[part], getattr(allocation, part))
                if take > 0:
                    rows.append(
                        PaymentAllocation(
                            payment_id=allocation.payment_id, bill=bill, allocated_on=on_day, **{part: -take}
                        )
                    )
                    excess[part] -= take
            if not any(excess.values()):
                break
        PaymentAllocation.objects.bulk_create(rows)
        released = released or bool(rows)
    if released:
        bill_statuses_refresh(bill_ids)
    return released


@transaction.atomic
def credit_apply(*, customer: Customer, on_day: dt.date | None = None) -> list[PaymentAllocation]:
    """Use the customer's credit (overpayments) on its open bills, e.g. right after a new bill."""
    customer = _lock_customer(customer)
    return _allocate(customer, _credit_sources(customer), on_day or timezone.localdate())


@transaction.atomic
def payment_reverse(
    *, payment: Payment, reason: str, reversed_on: dt.date | None = None, reversed_by: User | None = None
) -> PaymentReversal:
    """A returned payment: undo its allocations with negative rows; the bills it paid re-open."""
    if not reason.strip():
        raise ValidationError({"reason": _("Give the reason for the reversal (e.g. the bank's return code).")})
    _lock_customer(payment.customer)
    payment = Payment.objects.select_for_update().get(pk=payment.pk)
    if payment.status == PaymentStatusChoices.REVERSED:
        raise ValidationError({"payment": _("This payment has already been reversed.")})
    reversed_on = reversed_on or timezone.localdate()
    received_on = timezone.localdate(payment.received_at)
    if not received_on <= reversed_on <= timezone.localdate():
        raise ValidationError(
            {"reversed_on": _("A reversal is dated between the payment (%(paid)s) and today.") % {"paid": received_on}}
        )
    reversal = PaymentReversal.objects.create(
        payment=payment, reason=reason.strip(), reversed_on=reversed_on, reversed_by=reversed_by
    )
    # Each allocation is undone on its own date: the money never arrived, so for penalty
    # purposes the bills were never paid (rule 2: a reversal re-opens what the payment paid).
    undo = [
        PaymentAllocation(
            payment=payment,
            bill_id=allocation.bill_id,
            penalty=-allocation.penalty,
            principal=-allocation.principal,
            allocated_on=allocation.allocated_on,
            reversal=reversal,
        )
        for allocation in PaymentAllocation.objects.filter(payment=payment)
        if allocation.penalty or allocation.principal
    ]
    PaymentAllocation.objects.bulk_create(undo)
    totals = {row.bill_id for row in undo}
    Payment.objects.filter(pk=payment.pk).update(status=PaymentStatusChoices.REVERSED)
    bill_statuses_refresh(totals)
    if hasattr(payment, "prepaid_entry"):
        prepaid_top_up_reverse(payment=payment)  # a returned top-up leaves the prepaid balance too
    # The money never arrived: the days after the payment accrue on the re-opened principal.
    penalties_recalculate(bills=Bill.objects.filter(pk__in=list(totals)), from_day=received_on + dt.timedelta(days=1))
    return reversal
