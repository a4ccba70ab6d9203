"""Trip and restore commands on their way to the terminal: claims, retries with backoff, the
reaper, ordering per customer, and the approval of trips of important users."""

import datetime as dt
import threading
import time
from decimal import Decimal as D

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, connections
from django.test import override_settings

from billing.gateways import SimulatedTerminalGateway
from billing.models import ControlCommand
from billing.services import control
from billing.services.control import (
    control_acknowledge,
    control_approve,
    control_reject,
    control_request,
    control_retry,
    control_send,
    control_send_due,
    control_trip_automatic,
)
from billing.services.payments import payment_record
from billing.services.prepaid import prepaid_run
from billing.tasks import control_send_due_task
from customers.models import Notification
from tests.billing.test_prepaid import _simulated_parts, day, prepaid_customer, usage  # noqa: F401
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 11, 2, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)


@pytest.fixture
def tripped(regions):
    """A normal customer with an agreement whose balance ran out on 10 March: one pending trip."""
    customer = prepaid_customer(regions["a"], balance="100.00")
    usage(customer, 1, 1)
    prepaid_run(day=day(1))
    return customer


def trip_of(customer) -> ControlCommand:
    return ControlCommand.objects.get(customer=customer, action="trip")


def test_a_gateway_failing_twice_is_retried_with_backoff_and_sent_once(tripped):
    SimulatedTerminalGateway.fail_next(2)
    trip = trip_of(tripped)

    assert control_send_due(now=T0).count("retry") == 1
    trip.refresh_from_db()
    # Attempt 1 failed: retry after 1 minute; visible as failed with the error.
    assert (trip.status, trip.attempts, trip.next_attempt_at) == ("failed", 1, T0 + MINUTE)
    assert "unreachable" in trip.last_error

    # The send task running again at once finds nothing due: the terminal was called once.
    assert control_send_due(now=T0).outcomes == {}
    assert len(SimulatedTerminalGateway.received) == 1

    control_send_due(now=T0 + MINUTE)  # attempt 2 fails: next after 2 more minutes
    trip.refresh_from_db()
    assert (trip.status, trip.attempts, trip.next_attempt_at) == ("failed", 2, T0 + 3 * MINUTE)

    assert control_send_due(now=T0 + 3 * MINUTE).count("acknowledged") == 1
    trip.refresh_from_db()
    assert (trip.status, trip.attempts, trip.last_error) == ("acknowledged", 3, "")
    assert len(SimulatedTerminalGateway.received) == 3
    assert list(SimulatedTerminalGateway.executed) == [trip.pk]  # switched once

    for _ in range(2):  # the task again, twice: nothing more reaches the terminal
        control_send_due_task.delay()
    assert len(SimulatedTerminalGateway.received) == 3


def test_a_second_claim_of_the_same_command_loses(tripped):
    trip = trip_of(tripped)
    assert control_send(command_id=trip.pk, now=T0) == "acknowledged"
    assert control_send(command_id=trip.pk, now=T0) == "skipped"
    assert len(SimulatedTerminalGateway.received) == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL concurrency")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_senders_running_at_once_send_each_command_once(regions):
    customers = [prepaid_customer(regions["a"], balance="10.00") for _ in range(5)]
    for customer in customers:
        usage(customer, 1, 1)
    prepaid_run(day=day(1))
    assert ControlCommand.objects.filter(status="pending").count() == 5
    original_send = SimulatedTerminalGateway.send

    def slow_send(self, command):
        time.sleep(0.05)  # widen the window between claim and result
        return original_send(self, command)

    barrier = threading.Barrier(3)

    def run():
        try:
            barrier.wait()
            control_send_due()
        finally:
            connections.close_all()

    SimulatedTerminalGateway.send = slow_send
    try:
        threads = [threading.Thread(target=run) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        SimulatedTerminalGateway.send = original_send
    ids = [payload["command_id"] for payload in SimulatedTerminalGateway.received]
    assert sorted(ids) == sorted(ControlCommand.objects.values_list("pk", flat=True))  # each exactly once
    assert set(ControlCommand.objects.values_list("status", flat=True)) == {"acknowledged"}


def test_a_command_left_sending_by_a_dead_worker_is_reaped_and_sent(tripped):
    trip = trip_of(tripped)
    # A worker claimed it at T0 and died before calling the gateway.
    ControlCommand.objects.filter(pk=trip.pk).update(status="sending", attempts=1, next_attempt_at=T0 + 10 * MINUTE)
    control_send_due(now=T0 + 5 * MINUTE)
    trip.refresh_from_db()
    assert trip.status == "sending"  # not yet: a slow send is not a dead one
    result = control_send_due(now=T0 + 11 * MINUTE)
    trip.refresh_from_db()
    assert (result.reaped, trip.status, trip.attempts) == (1, "acknowledged", 2)
    assert len(SimulatedTerminalGateway.received) == 1


def test_a_command_gives_up_after_the_last_attempt_visibly_and_staff_are_told(tripped, manager):
    manager.email = "manager@example.com"
    manager.save()
    SimulatedTerminalGateway.fail_next(10)
    trip = trip_of(tripped)
    moment = T0
    with override_settings(CONTROL_MAX_ATTEMPTS=3):
        for _ in range(5):
            control_send_due(now=moment)
            moment += dt.timedelta(hours=1)
    trip.refresh_from_db()
    assert (trip.status, trip.attempts, trip.next_attempt_at) == ("gave_up", 3, None)
    assert len(SimulatedTerminalGateway.received) == 3
    mail = Notification.objects.get(kind="control_gave_up")
    assert mail.recipient == "manager@example.com" and "after 3 attempts" in mail.body
    # A manager sends it again once the terminal is repaired.
    SimulatedTerminalGateway.fail_next(0)
    control_retry(command=trip, retried_by=manager)
    control_send_due(now=moment)
    trip.refresh_from_db()
    assert trip.status == "acknowledged"


def test_a_refused_command_gives_up_at_once(tripped, monkeypatch):
    from billing.gateways import GatewayError

    def refuse(self, command):
        raise GatewayError("400 unknown meter", retryable=False)

    monkeypatch.setattr(SimulatedTerminalGateway, "send", refuse)
    control_send_due(now=T0)
    assert trip_of(tripped).status == "gave_up"


def test_a_top_up_while_the_trip_is_retrying_cancels_it_and_the_restore_goes_alone(tripped):
    SimulatedTerminalGateway.fail_next(1)
    control_send_due(now=T0)  # attempt 1 failed (maybe it switched, maybe not)
    payment_record(customer=tripped, amount=D("500.00"), channel="counter")
    trip = trip_of(tripped)
    restore = ControlCommand.objects.get(customer=tripped, action="restore")
    # The trip was tried once, so the terminal may have switched: a restore follows to be sure.
    assert (trip.status, restore.status) == ("cancelled", "pending")
    control_send_due(now=T0 + dt.timedelta(hours=1))
    assert [p["action"] for p in SimulatedTerminalGateway.received] == ["trip", "restore"]
    restore.refresh_from_db()
    assert restore.status == "acknowledged"


def test_a_restore_waits_while_an_older_trip_of_the_customer_is_in_flight(tripped):
    trip = trip_of(tripped)
    ControlCommand.objects.filter(pk=trip.pk).update(status="sending", attempts=1, next_attempt_at=T0 + 10 * MINUTE)
    payment_record(customer=tripped, amount=D("500.00"), channel="counter")
    restore = ControlCommand.objects.get(customer=tripped, action="restore")
    control_send_due(now=T0)
    restore.refresh_from_db()
    assert restore.status == "pending" and SimulatedTerminalGateway.received == []
    ControlCommand.objects.filter(pk=trip.pk).update(status="sent")  # the trip's answer arrives
    control_send_due(now=T0 + MINUTE)
    restore.refresh_from_db()
    assert restore.status == "acknowledged"


def test_poll_mode_acknowledges_at_the_next_round_and_an_ack_is_idempotent(tripped, system_user):
    SimulatedTerminalGateway.reset(ack_mode="poll")
    trip = trip_of(tripped)
    control_send_due(now=T0)
    trip.refresh_from_db()
    assert trip.status == "sent"
    assert control_send_due(now=T0 + MINUTE).polled == 1
    trip.refresh_from_db()
    assert trip.status == "acknowledged"
    assert control_acknowledge(command=trip).status == "acknowledged"


def test_no_path_writes_a_pending_trip_for_an_important_user(regions):
    hospital = prepaid_customer(regions["a"], importance="class_2")
    command = control_trip_automatic(customer=hospital, origin="prepaid", reason="test", dedupe_key="k")
    assert command.status == "escalated"
    with pytest.raises(PermissionDenied):
        control._command_create(customer=hospital, action="trip", origin="manual", status="pending", reason="x")


def test_a_customer_who_became_important_after_the_trip_was_written_is_not_tripped(tripped):
    tripped.importance = "class_1"
    tripped.save()
    control_send_due(now=T0)
    trip = trip_of(tripped)
    assert trip.status == "cancelled" and "approval" in trip.last_error
    assert SimulatedTerminalGateway.received == []


def test_a_manual_trip_of_an_important_user_needs_another_managers_approval_with_a_reason(
    regions, area_leader, manager
):
    hospital = prepaid_customer(regions["a"], importance="class_1")
    second = UserFactory(username="manager_2", role="manager", email="manager2@example.com")
    manager.email = "manager@example.com"
    manager.save()
    command = control_request(customer=hospital, action="trip", reason="12 months in arrears", requested_by=manager)
    assert command.status == "awaiting_approval"
    # The other managers are asked by e-mail (not the one who asked).
    assert list(Notification.objects.filter(kind="control_approval").values_list("recipient", flat=True)) == [
        "manager2@example.com"
    ]
    control_send_due(now=T0)
    assert SimulatedTerminalGateway.received == []  # nothing goes before the approval

    with pytest.raises(PermissionDenied):
        control_approve(command=command, approved_by=area_leader, reason="ok")
    with pytest.raises(PermissionDenied):  # four eyes: not the requester
        control_approve(command=command, approved_by=manager, reason="ok")
    with pytest.raises(ValidationError) as error:
        control_approve(command=command, approved_by=second, reason="   ")
    assert "reason" in error.value.message_dict

    approved = control_approve(command=command, approved_by=second, reason="Approval 2026-17, bureau informed")
    assert (approved.status, approved.approved_by, approved.approval_reason) == (
        "pending",
        second,
        "Approval 2026-17, bureau informed",
    )
    control_send_due(now=T0)
    approved.refresh_from_db()
    assert approved.status == "acknowledged"
    with pytest.raises(ValidationError):
        control_approve(command=approved, approved_by=second, reason="again")


def test_a_manual_trip_of_a_normal_customer_goes_out_directly_and_a_trip_can_be_declined(
    regions, area_leader, manager, collector
):
    customer = prepaid_customer(regions["a"])
    with pytest.raises(PermissionDenied):
        control_request(customer=customer, action="trip", reason="x", requested_by=collector)
    with pytest.raises(ValidationError):
        control_request(customer=customer, action="trip", reason=" ", requested_by=area_leader)
    command = control_request(customer=customer, action="trip", reason="Dangerous wiring", requested_by=area_leader)
    assert command.status == "pending" and command.origin == "manual"
    with pytest.raises(ValidationError):  # one trip at a time
        control_request(customer=customer, action="trip", reason="again", requested_by=area_leader)

    hospital = prepaid_customer(regions["a"], importance="class_2")
    waiting = control_request(customer=hospital, action="trip", reason="arrears", requested_by=area_leader)
    declined = control_reject(command=waiting, rejected_by=manager, reason="Hospital: field visit instead")
    assert declined.status == "cancelled" and "field visit" in declined.approval_reason


def test_a_remote_trip_needs_an_agreement_and_a_switch(regions, manager):
    no_agreement = prepaid_customer(regions["a"], agreement=False)
    with pytest.raises(ValidationError) as error:
        control_request(customer=no_agreement, action="trip", reason="x", requested_by=manager)
    assert "customer" in error.value.message_dict
    no_switch = prepaid_customer(regions["a"], switch=False)
    with pytest.raises(ValidationError):
        control_request(customer=no_switch, action="restore", reason="x", requested_by=manager)


def test_acknowledging_a_command_never_sent_is_refused(tripped):
    with pytest.raises(ValidationError):
        control_acknowledge(command=trip_of(tripped))


def test_the_head_end_skeleton_needs_its_url():
    from django.core.exceptions import ImproperlyConfigured

    from billing.gateways import HttpHeadEndGateway, gateway_get

    with override_settings(CONTROL_GATEWAY="billing.gateways.HttpHeadEndGateway"), pytest.raises(ImproperlyConfigured):
        gateway_get()
    with override_settings(CONTROL_HEADEND_URL="https://headend.invalid/api/"):
        assert HttpHeadEndGateway().base_url == "https://headend.invalid/api"
    with override_settings(CONTROL_GATEWAY="billing.gateways.Nope"), pytest.raises(ImproperlyConfigured):
        gateway_get()
