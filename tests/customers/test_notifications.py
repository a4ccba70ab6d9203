"""The notification outbox: queued once per dedupe key, sent at most once however often the drain
runs, retried with backoff, given up visibly, and recovered when a worker dies mid-send."""

import datetime as dt
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import override_settings

from config.celery import app
from customers.models import Notification
from customers.notifications import (
    LocmemBackend,
    contact_target,
    notice_targets,
    notification_queue,
    notifications_queue_many,
    notifications_reap_stuck,
    notifications_send_due,
    quiet_hours_end,
)
from customers.tasks import notification_send_due
from tests.factories import ContactFactory, CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db

LOCMEM = {
    "sms": "customers.notifications.LocmemBackend",
    "wechat": "customers.notifications.LocmemBackend",
    "email": "customers.notifications.LocmemBackend",
}
T0 = dt.datetime(2026, 3, 11, 9, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)


@pytest.fixture(autouse=True)
def _locmem():
    LocmemBackend.reset()
    with override_settings(NOTIFICATION_BACKENDS=LOCMEM):
        yield
    LocmemBackend.reset()


@pytest.fixture
def customer(db):
    return CustomerFactory()


def queue(customer, key="k-1", **changes):
    values = {
        "channel": "sms",
        "recipient": "13900000001",
        "kind": "test",
        "body": "Your balance is ¥12.00.",
        "customer": customer,
        "dedupe_key": key,
    }
    values.update(changes)
    return notification_queue(**values)


def test_the_same_dedupe_key_is_queued_once(customer):
    first, created = queue(customer)
    again, created_again = queue(customer, body="another text")
    assert (created, created_again, again.pk) == (True, False, first.pk)
    assert Notification.objects.count() == 1
    rows = [Notification(channel="sms", recipient="1", kind="x", body="b", dedupe_key=k) for k in ("k-1", "k-2", "k-2")]
    assert notifications_queue_many(rows) == 1  # k-1 exists, k-2 once
    assert Notification.objects.count() == 2


def test_bad_messages_are_refused(customer):
    for changes, field in (({"channel": "fax"}, "channel"), ({"recipient": " "}, "recipient"), ({"body": ""}, "body")):
        with pytest.raises(ValidationError) as error:
            queue(customer, key=None, **changes)
        assert field in error.value.message_dict


def test_the_drain_sends_each_message_once_when_it_runs_twice(customer):
    for n in range(3):
        queue(customer, key=f"k-{n}", recipient=f"1390000000{n}")
    notification_send_due.delay()
    notification_send_due.delay()
    call_command("send_notifications", stdout=StringIO())
    assert sorted(m.recipient for m in LocmemBackend.outbox) == ["13900000000", "13900000001", "13900000002"]
    sent = Notification.objects.get(recipient="13900000000")
    assert (sent.status, sent.attempts, sent.provider_ref) == ("sent", 1, f"locmem-{sent.pk}")
    assert sent.sent_at is not None


def test_a_message_claimed_by_a_worker_that_died_is_failed_for_a_person_not_sent_again(customer):
    notification, _ = queue(customer)
    # The worker claimed it at T0 (queued → sending, stuck after 10 minutes) and died; whether
    # the provider got it first nobody knows, so it is not sent again without a person.
    Notification.objects.filter(pk=notification.pk).update(
        status="sending", attempts=1, next_attempt_at=T0 + 10 * MINUTE
    )
    assert notifications_send_due(now=T0 + 5 * MINUTE).outcomes == {}  # a slow send is not a dead one
    result = notifications_send_due(now=T0 + 11 * MINUTE)
    assert (result.reaped, result.outcomes) == (1, {})
    notifications_send_due(now=T0 + 60 * MINUTE)
    assert LocmemBackend.outbox == []
    notification.refresh_from_db()
    assert (notification.status, notification.attempts, notification.next_attempt_at) == ("failed", 1, None)
    assert "may or may not have gone out" in notification.last_error


class SlowBackend(LocmemBackend):
    """Answers only after the reaper has already taken the row for a dead worker's."""

    def send(self, notification):
        notifications_reap_stuck(now=T0 + 11 * MINUTE)
        return super().send(notification)


def test_a_send_slower_than_the_stuck_time_still_records_that_it_went_out(customer):
    notification, _ = queue(customer)
    with override_settings(NOTIFICATION_BACKENDS={"sms": "tests.customers.test_notifications.SlowBackend"}):
        assert notifications_send_due(now=T0).count("sent") == 1
        notifications_send_due(now=T0 + 60 * MINUTE)
    notification.refresh_from_db()
    assert (notification.status, notification.attempts, notification.last_error) == ("sent", 1, "")
    assert len(LocmemBackend.outbox) == 1


def test_a_failing_provider_is_retried_with_backoff_then_given_up_visibly(customer):
    notification, _ = queue(customer)
    LocmemBackend.fail_next(2)
    assert notifications_send_due(now=T0).count("retry") == 1
    notification.refresh_from_db()
    # 1st attempt failed: queued again after 1 minute, the error kept.
    assert (notification.status, notification.attempts, notification.next_attempt_at) == ("queued", 1, T0 + MINUTE)
    assert notification.last_error == "simulated provider failure"
    assert notifications_send_due(now=T0).outcomes == {}  # not due yet
    notifications_send_due(now=T0 + MINUTE)  # 2nd fails: after 2 more minutes
    notification.refresh_from_db()
    assert notification.next_attempt_at == T0 + 3 * MINUTE
    assert notifications_send_due(now=T0 + 3 * MINUTE).count("sent") == 1
    assert len(LocmemBackend.outbox) == 1

    other, _ = queue(customer, key="k-2")
    LocmemBackend.fail_next(99)
    with override_settings(NOTIFICATION_MAX_ATTEMPTS=2):
        notifications_send_due(now=T0)
        notifications_send_due(now=T0 + MINUTE)
        notifications_send_due(now=T0 + dt.timedelta(hours=5))
    other.refresh_from_db()
    assert (other.status, other.attempts, other.next_attempt_at) == ("failed", 2, None)
    assert other.last_error == "simulated provider failure"


def test_a_row_stuck_after_its_last_attempt_fails_instead_of_retrying(customer):
    notification, _ = queue(customer)
    Notification.objects.filter(pk=notification.pk).update(status="sending", attempts=5, next_attempt_at=T0)
    assert notifications_reap_stuck(now=T0 + MINUTE) == 1
    notification.refresh_from_db()
    assert notification.status == "failed" and "stopped while sending" in notification.last_error


def test_e_mail_goes_through_django_mail(customer):
    with override_settings(NOTIFICATION_BACKENDS={}):
        queue(customer, channel="email", recipient="finance@example.com", subject="Balance low")
        notifications_send_due()
    assert [(m.to, m.subject) for m in mail.outbox] == [(["finance@example.com"], "Balance low")]


def test_a_message_goes_to_the_preferred_channel_or_the_first_reachable_one(customer):
    by_wechat = ContactFactory(customer=customer, preferred_channel="wechat", wechat_id="wx-finance")
    phone = ContactFactory(customer=customer, preferred_channel="phone", mobile="13800000000")
    email_without_address = ContactFactory(customer=customer, preferred_channel="email", mobile="13700000000")
    ContactFactory(customer=customer, receives_dunning=False)
    assert (contact_target(by_wechat).channel, contact_target(by_wechat).recipient) == ("wechat", "wx-finance")
    assert (contact_target(phone).channel, contact_target(phone).recipient) == ("sms", "13800000000")
    assert contact_target(email_without_address).channel == "sms"
    assert len(notice_targets([customer.pk])[customer.pk]) == 3


def test_the_drain_task_is_routed_to_the_notify_queue():
    route = app.amqp.router.route({}, "customers.tasks.notification_send_due")
    assert route["queue"].name == "notify"


def test_staff_notifications_are_linked_to_the_user(customer):
    user = UserFactory(username="leader_x")
    notification, _ = queue(customer, channel="email", recipient="x@example.com", staff=user)
    assert notification.staff == user


def test_customer_messages_queued_at_night_wait_for_the_morning():
    shanghai = ZoneInfo("Asia/Shanghai")
    at = dt.datetime(2026, 3, 11, 6, 0, tzinfo=shanghai)
    assert quiet_hours_end(at) == dt.datetime(2026, 3, 11, 8, 0, tzinfo=shanghai)
    assert quiet_hours_end(at.replace(hour=12)) is None
    assert quiet_hours_end(at.replace(hour=22, minute=30)) == dt.datetime(2026, 3, 12, 8, 0, tzinfo=shanghai)
