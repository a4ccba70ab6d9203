"""From due date to cut-off and back: reminder, demand, suspension notice, approvals, the
re-notice, the trip, payment and restore — with the gate refusing at each missing step, and an
important user who is never tripped remotely. Dates are relative to today (a cut-off is
always planned for a time to come)."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from billing.models import ControlCommand
from billing.services.payments import payment_record
from collection.cutoff import (
    cutoff_approve,
    cutoff_execute,
    cutoff_gate,
    cutoff_propose,
    cutoff_record_power_admin,
    cutoff_renotice,
    cutoff_restore_due,
)
from collection.models import DunningNotice
from collection.services import dunning_notice_approve, dunning_run
from tests.factories import ContactFactory, MeterPointFactory, UserFactory, make_bill

pytestmark = pytest.mark.django_db
DUE_DAYS_AGO = 45


def missing(order, now):
    return [item.key for item in cutoff_gate(order, now=now) if not item.met]


def _planned() -> dt.datetime:
    day = timezone.localdate() + dt.timedelta(days=2)
    return timezone.make_aware(dt.datetime.combine(day, dt.time(10, 0)))


def _bill_and_notices(customer, leader, planned: dt.datetime) -> None:
    """A bill due 45 days ago; reminder, demand and an approved suspension notice, the last one
    served 5 days before the planned time (the gate wants 3–7)."""
    due = timezone.localdate() - dt.timedelta(days=DUE_DAYS_AGO)
    make_bill(customer, "10000.00", due, number=f"CUT-{customer.account_no}")
    for offset in (1, 10, 31):
        dunning_run(day=due + dt.timedelta(days=offset))
    notice = DunningNotice.objects.get(customer=customer, level__code="suspension")
    dunning_notice_approve(notice=notice, approved_by=leader)
    DunningNotice.objects.filter(pk=notice.pk).update(sent_at=planned - dt.timedelta(days=5))


@pytest.fixture
def plant(portfolio):
    customer = portfolio["a1"]
    customer.remote_control_agreement = True
    customer.save()
    ContactFactory(customer=customer)
    MeterPointFactory(customer=customer, meter_no="CUT-1", remote_switch=True, meter_type="remote")
    return customer


def test_the_gate_refuses_at_each_missing_step_then_trips_and_restores(plant, collector, area_leader):
    planned = _planned()
    make_bill(
        plant, "1.00", timezone.localdate() - dt.timedelta(days=40), number="OLD"
    )  # overdue, so it may be proposed
    order = cutoff_propose(customer=plant, planned_at=planned, reason="欠费31天以上", proposed_by=collector)
    assert missing(order, planned) == ["demand", "suspension_notice", "leader", "renotice"]
    with pytest.raises(ValidationError, match="legal gate"):
        cutoff_execute(order=order, by=area_leader, now=planned)

    _bill_and_notices(plant, area_leader, planned)
    assert missing(order, planned) == ["leader", "renotice"]
    with pytest.raises(PermissionDenied):
        cutoff_approve(order=order, by=collector)
    order = cutoff_approve(order=order, by=area_leader)
    assert missing(order, planned) == ["renotice"]
    with pytest.raises(ValidationError):
        cutoff_renotice(order=order, by=area_leader, now=planned - dt.timedelta(minutes=15))  # too late
    order = cutoff_renotice(order=order, by=area_leader, now=planned - dt.timedelta(minutes=35))
    assert missing(order, planned - dt.timedelta(minutes=10)) == ["time"]  # not before the planned time
    order = cutoff_execute(order=order, by=area_leader, now=planned)
    trip = ControlCommand.objects.get(pk=order.trip_command_id)
    assert (order.status, trip.action, trip.origin, trip.status) == ("executed", "trip", "cutoff", "pending")

    # Paid in full today (whatever it comes to with the penalty): the cause is cleared.
    owed = D("0")
    from billing.selectors import bills_with_balances
    from billing.services.penalties import penalties_accrue

    penalties_accrue(through=timezone.localdate())
    for bill in bills_with_balances(plant.bills.all()):
        owed += bill.principal_due + bill.penalty_due
    payment_record(customer=plant, amount=owed, channel="bank_transfer", external_ref="CUT-PAID")
    ControlCommand.objects.filter(pk=trip.pk).update(status="acknowledged")  # the terminal had tripped
    assert cutoff_restore_due() == 1
    order.refresh_from_db()
    assert order.status == "restoring"
    assert ControlCommand.objects.filter(customer=plant, action="restore").count() == 1
    assert cutoff_restore_due() == 0  # nothing twice


def test_an_important_user_needs_two_approvals_and_is_never_tripped_remotely(portfolio, collector, area_leader):
    hospital = portfolio["a2"]
    hospital.importance = "class_1"
    hospital.remote_control_agreement = True
    hospital.save()
    MeterPointFactory(customer=hospital, meter_no="HOSP-1", remote_switch=True, meter_type="remote")
    manager = UserFactory(username="manager_x", role="manager")
    planned = _planned()
    _bill_and_notices(hospital, area_leader, planned)
    order = cutoff_propose(customer=hospital, planned_at=planned, reason="欠费", proposed_by=collector)
    order = cutoff_approve(order=order, by=area_leader)
    with pytest.raises(ValidationError):
        cutoff_approve(order=order, by=area_leader)  # the same person twice
    assert {"manager", "power_admin"} <= set(missing(order, planned))
    order = cutoff_approve(order=order, by=manager)
    order = cutoff_record_power_admin(order=order, reference="电力管理部门备案 2026-017", by=manager)
    order = cutoff_renotice(order=order, by=manager, now=planned - dt.timedelta(minutes=40))
    order = cutoff_execute(order=order, by=manager, now=planned)
    assert order.field_order.startswith("FO-") and order.trip_command_id is None
    assert not ControlCommand.objects.filter(customer=hospital, action="trip").exists()
