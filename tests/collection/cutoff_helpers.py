"""Helpers of the cut-off tests (pages and API): times relative to now, a served notice ladder,
an order moved to its due time, a customer paid up."""

import datetime as dt
from decimal import Decimal as D

from django.utils import timezone

from billing.selectors import bills_with_balances
from billing.services.payments import payment_record
from billing.services.penalties import penalties_accrue
from collection.models import CutoffOrder, DunningNotice
from collection.services import dunning_notice_approve, dunning_run
from tests.factories import make_bill

DUE_DAYS_AGO = 45


def at_ten(days_from_today: int) -> dt.datetime:
    day = timezone.localdate() + dt.timedelta(days=days_from_today)
    return timezone.make_aware(dt.datetime.combine(day, dt.time(10, 0)))


def serve_notices(customer, leader, *, suspension_sent_at: dt.datetime) -> None:
    """A bill due 45 days ago and the whole ladder: reminder, demand and an approved
    suspension notice, each dated as if served on its day (the last at `suspension_sent_at`)."""
    due = timezone.localdate() - dt.timedelta(days=DUE_DAYS_AGO)
    make_bill(customer, "10000.00", due, number=f"CUT-{customer.account_no}")
    for offset in (1, 10, 31):
        dunning_run(day=due + dt.timedelta(days=offset))
    suspension = DunningNotice.objects.get(customer=customer, level__code="suspension")
    dunning_notice_approve(notice=suspension, approved_by=leader)
    for code, offset in (("reminder", 1), ("demand", 10)):
        served = timezone.make_aware(dt.datetime.combine(due + dt.timedelta(days=offset), dt.time(9, 0)))
        DunningNotice.objects.filter(customer=customer, level__code=code).update(sent_at=served)
    DunningNotice.objects.filter(pk=suspension.pk).update(sent_at=suspension_sent_at)


def make_due_now(order: CutoffOrder) -> CutoffOrder:
    """The planned time has come and the re-notice was given 40 minutes before it."""
    planned = timezone.now() - dt.timedelta(minutes=1)
    CutoffOrder.objects.filter(pk=order.pk).update(planned_at=planned, renotice_at=planned - dt.timedelta(minutes=40))
    DunningNotice.objects.filter(customer=order.customer, level__code="suspension").update(
        sent_at=planned - dt.timedelta(days=5)
    )
    order.refresh_from_db()
    return order


def pay_everything(customer, ref: str) -> None:
    penalties_accrue(through=timezone.localdate())
    owed = sum((b.principal_due + b.penalty_due for b in bills_with_balances(customer.bills.all())), D("0"))
    payment_record(customer=customer, amount=owed, channel="bank_transfer", external_ref=ref)
