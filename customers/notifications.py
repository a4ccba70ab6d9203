"""The notification outbox (SMS, WeChat, e-mail): how every floor reaches customers and staff.

Writing: `notification_queue()` (or `notifications_queue_many()` for a batch job) runs in the
same transaction as the event that causes the message, and is idempotent by `dedupe_key`:
the same warning for the same day is queued once however often the job runs.

Sending: `notifications_send_due()` claims each due row with a conditional update
(queued → sending, attempts + 1) and only the winner hands it to the channel's backend, so two
drains running at once send a message once. A failure puts the row back in the queue with an
exponential backoff; after `max_attempts()` it stays `failed` with the last error, visible.

A worker that dies between the claim and the result leaves the row in `sending`. While it is
sending, `next_attempt_at` holds the moment it counts as stuck (claim + STUCK_AFTER);
`notifications_reap_stuck()` queues such rows again. In that one case delivery is
at-least-once: the provider may have accepted the message before the worker died. Backends
must give up (time out) well within STUCK_AFTER so a slow send is never mistaken for a dead one.

Backends are chosen per channel by `settings.NOTIFICATION_BACKENDS` (dotted paths).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import ClassVar

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from .choices import ContactChannelChoices, NotificationChannelChoices, NotificationStatusChoices
from .models import Contact, Customer, Notification

logger = logging.getLogger(__name__)

DEFAULT_BACKENDS = {
    NotificationChannelChoices.SMS: "customers.notifications.LoggingBackend",
    NotificationChannelChoices.WECHAT: "customers.notifications.LoggingBackend",
    NotificationChannelChoices.EMAIL: "customers.notifications.EmailBackend",
}
DEFAULT_MAX_ATTEMPTS = 5
RETRY_BASE = dt.timedelta(minutes=1)  # 1, 2, 4, 8 … minutes between attempts
RETRY_CAP = dt.timedelta(hours=1)
STUCK_AFTER = dt.timedelta(minutes=10)
BATCH = 200

STATUS = NotificationStatusChoices


class NotificationSendError(Exception):
    """A backend could not hand the message over; the outbox retries it later."""


class NotificationBackend:
    """What a channel's backend does: hand one message to the provider and return the
    provider's reference, or raise NotificationSendError. It must not retry by itself (the
    outbox does) and must time out well within STUCK_AFTER."""

    def send(self, notification: Notification) -> str:
        raise NotImplementedError


class LoggingBackend(NotificationBackend):
    """Writes the message to the log instead of sending it: the default for SMS and WeChat
    until a provider's gateway is configured."""

    def send(self, notification: Notification) -> str:
        logger.info(
            "notification %s via %s to %s: %s", notification.pk, notification.channel, notification.recipient,
            notification.body,
        )  # fmt: skip
        return f"log-{notification.pk}"


class EmailBackend(NotificationBackend):
    """E-mail through Django's mail system (settings.EMAIL_BACKEND and EMAIL_HOST …)."""

    def send(self, notification: Notification) -> str:
        message = EmailMessage(
            subject=" ".join((notification.subject or notification.body[:60]).split()),
            body=notification.body,
            to=[notification.recipient],
            headers={"X-GridCollect-Notification": str(notification.pk)},
        )
        try:
            message.send(fail_silently=False)
        except Exception as exc:  # SMTP and socket errors of every kind: the outbox retries them
            raise NotificationSendError(str(exc) or exc.__class__.__name__) from exc
        return f"email-{notification.pk}"


@dataclass
class SentMessage:
    notification_id: int
    channel: str
    recipient: str
    subject: str
    body: str


class LocmemBackend(NotificationBackend):
    """Keeps what it "sends" in memory, for tests and demos. `fail_next(n)` makes the next n
    sends fail; `reset()` empties the outbox and clears the failures."""

    outbox: ClassVar[list[SentMessage]] = []
    failures_left: ClassVar[int] = 0

    @classmethod
    def reset(cls) -> None:
        cls.outbox.clear()
        cls.failures_left = 0

    @classmethod
    def fail_next(cls, times: int) -> None:
        cls.failures_left = times

    def send(self, notification: Notification) -> str:
        if LocmemBackend.failures_left > 0:
            LocmemBackend.failures_left -= 1
            raise NotificationSendError("simulated provider failure")
        LocmemBackend.outbox.append(
            SentMessage(
                notification.pk, notification.channel, notification.recipient, notification.subject, notification.body
            )
        )
        return f"locmem-{notification.pk}"


def backend_for(channel: str) -> NotificationBackend:
    paths = {**DEFAULT_BACKENDS, **getattr(settings, "NOTIFICATION_BACKENDS", {})}
    return import_string(paths[channel])()


def max_attempts() -> int:
    return int(getattr(settings, "NOTIFICATION_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS))


def retry_delay(attempts: int) -> dt.timedelta:
    return min(RETRY_BASE * 2 ** max(attempts - 1, 0), RETRY_CAP)


def quiet_hours_end(now: dt.datetime | None = None) -> dt.datetime | None:
    """When a message to a customer queued now may go out: None (at once) during the day, else
    the end of the night's quiet hours (settings.NOTIFICATION_QUIET_HOURS, default 21:00–08:00
    local time). A warning queued by the early-morning job waits for the morning."""
    start, end = getattr(settings, "NOTIFICATION_QUIET_HOURS", (21, 8))
    local = timezone.localtime(now or timezone.now())
    if end <= local.hour < start:
        return None
    morning = local.replace(hour=end, minute=0, second=0, microsecond=0)
    return morning if local.hour < end else morning + dt.timedelta(days=1)


def message_language() -> str:
    """The language customer and staff messages are written in, whatever page or job queues
    them (a message must not change language with the clerk who happened to cause it)."""
    return getattr(settings, "NOTIFICATION_LANGUAGE", settings.LANGUAGE_CODE)


def in_message_language():
    return translation.override(message_language())


# ---------------------------------------------------------------------------------------------
# Recipients
# ---------------------------------------------------------------------------------------------
_ADDRESS_FIELD = {
    NotificationChannelChoices.SMS: "mobile",
    NotificationChannelChoices.WECHAT: "wechat_id",
    NotificationChannelChoices.EMAIL: "email",
}


@dataclass(frozen=True)
class Target:
    """Where one message goes: a channel and the address on it, for a contact or a staff member."""

    channel: str
    recipient: str
    contact: Contact | None = None
    staff: User | None = None


def contact_target(contact: Contact) -> Target | None:
    """The contact's preferred channel if its address is filled in, else the first channel
    that is (SMS, WeChat, e-mail). A phone preference is served by SMS to the same mobile:
    calls are made by people, not by the outbox."""
    preferred = contact.preferred_channel
    if preferred == ContactChannelChoices.PHONE:
        preferred = NotificationChannelChoices.SMS
    order = [preferred, *(c for c in _ADDRESS_FIELD if c != preferred)]
    for channel in order:
        address = getattr(contact, _ADDRESS_FIELD[channel], "")
        if address:
            return Target(channel=channel, recipient=address, contact=contact)
    return None


def notice_targets(customer_ids: Iterable[int]) -> dict[int, list[Target]]:
    """Per customer, the contacts that receive payment notices, each on its channel (one query)."""
    found: dict[int, list[Target]] = {}
    contacts = Contact.objects.filter(customer_id__in=list(customer_ids), receives_dunning=True).order_by(
        "customer_id", "id"
    )
    for contact in contacts:
        target = contact_target(contact)
        if target is not None:
            found.setdefault(contact.customer_id, []).append(target)
    return found


def staff_email_targets(users: Iterable[User]) -> list[Target]:
    """Active staff with an e-mail address, each once."""
    seen: set[int] = set()
    targets = []
    for user in users:
        if user.pk in seen or not user.is_active or not user.email:
            continue
        seen.add(user.pk)
        targets.append(Target(channel=NotificationChannelChoices.EMAIL, recipient=user.email, staff=user))
    return targets


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------
def _validated(notification: Notification) -> Notification:
    if notification.channel not in NotificationChannelChoices.values:
        raise ValidationError({"channel": _("Unknown channel %(channel)s.") % {"channel": notification.channel}})
    if not notification.recipient.strip():
        raise ValidationError({"recipient": _("A message needs a recipient.")})
    if not notification.body.strip():
        raise ValidationError({"body": _("A message needs a text.")})
    return notification


def notification_queue(
    *,
    channel: str,
    recipient: str,
    kind: str,
    body: str,
    subject: str = "",
    customer: Customer | None = None,
    contact: Contact | None = None,
    staff: User | None = None,
    dedupe_key: str | None = None,
    send_after: dt.datetime | None = None,
) -> tuple[Notification, bool]:
    """Queue one message; returns (notification, created). With a `dedupe_key` already used,
    the existing row is returned and nothing is queued (the writer is idempotent)."""
    notification = _validated(
        Notification(
            channel=channel,
            recipient=recipient.strip(),
            kind=kind,
            subject=subject[:200],
            body=body,
            customer=customer,
            contact=contact,
            staff=staff,
            dedupe_key=dedupe_key,
            next_attempt_at=send_after,
        )
    )
    if dedupe_key:
        existing = Notification.objects.filter(dedupe_key=dedupe_key).first()
        if existing is not None:
            return existing, False
    try:
        with transaction.atomic():
            notification.save()
    except IntegrityError:
        # Lost a race with another writer of the same key: theirs stands.
        return Notification.objects.get(dedupe_key=dedupe_key), False
    return notification, True


def notifications_queue_many(notifications: list[Notification]) -> int:
    """Queue a batch (a daily job's warnings) in one insert; rows whose dedupe_key is already
    used are skipped. Returns how many were queued."""
    for notification in notifications:
        _validated(notification)
    keys = [n.dedupe_key for n in notifications if n.dedupe_key]
    used = set(Notification.objects.filter(dedupe_key__in=keys).values_list("dedupe_key", flat=True))
    fresh, seen = [], set()
    for notification in notifications:
        key = notification.dedupe_key
        if key and (key in used or key in seen):
            continue
        seen.add(key)
        fresh.append(notification)
    # ignore_conflicts: a concurrent run that inserted the same key in between wins quietly.
    Notification.objects.bulk_create(fresh, batch_size=1000, ignore_conflicts=True)
    return len(fresh)


# ---------------------------------------------------------------------------------------------
# Sending
# ---------------------------------------------------------------------------------------------
def _due(now: dt.datetime) -> Q:
    return Q(status=STATUS.QUEUED) & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))


def notification_send(*, notification_id: int, now: dt.datetime | None = None) -> str:
    """Send one queued message if it is due and this caller wins the claim. Returns the
    outcome: "sent", "retry", "failed", or "skipped" (not due, or another worker has it)."""
    now = now or timezone.now()
    claimed = (
        Notification.objects.filter(_due(now), pk=notification_id).update(
            status=STATUS.SENDING, attempts=F("attempts") + 1, next_attempt_at=now + STUCK_AFTER
        )
        == 1
    )
    if not claimed:
        return "skipped"
    notification = Notification.objects.get(pk=notification_id)
    # The result is written only while the row is still ours (same status and attempt): if the
    # reaper has given it to another worker meanwhile, that worker's outcome stands.
    ours = Notification.objects.filter(pk=notification.pk, status=STATUS.SENDING, attempts=notification.attempts)
    try:
        reference = backend_for(notification.channel).send(notification)
    except Exception as exc:  # any backend fault is a failed attempt, never a lost message
        error = (str(exc) or exc.__class__.__name__)[:500]
        logger.warning("notification %s attempt %s failed: %s", notification.pk, notification.attempts, error)
        if notification.attempts >= max_attempts():
            ours.update(status=STATUS.FAILED, next_attempt_at=None, last_error=error)
            return "failed"
        ours.update(status=STATUS.QUEUED, next_attempt_at=now + retry_delay(notification.attempts), last_error=error)
        return "retry"
    ours.update(
        status=STATUS.SENT, sent_at=timezone.now(), provider_ref=(reference or "")[:100], next_attempt_at=None,
        last_error="",
    )  # fmt: skip
    return "sent"


def notifications_reap_stuck(*, now: dt.datetime | None = None) -> int:
    """Queue again the rows a dead worker left in `sending` (past their stuck time); those
    that have used all their attempts fail instead. Returns how many rows were touched."""
    now = now or timezone.now()
    stuck = Notification.objects.filter(status=STATUS.SENDING, next_attempt_at__lte=now)
    note = _("The sender stopped while sending; the message may have gone out once.")
    failed = stuck.filter(attempts__gte=max_attempts()).update(
        status=STATUS.FAILED, next_attempt_at=None, last_error=note
    )
    requeued = stuck.filter(attempts__lt=max_attempts()).update(
        status=STATUS.QUEUED, next_attempt_at=now, last_error=note
    )
    return failed + requeued


@dataclass
class DrainResult:
    reaped: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    def count(self, outcome: str) -> int:
        return self.outcomes.get(outcome, 0)


def notifications_send_due(*, now: dt.datetime | None = None, time_budget: float = 50.0) -> DrainResult:
    """Reap stuck rows, then send what is due, oldest first, in batches, until nothing is due
    or the time budget (seconds) is used up (the next run carries on)."""
    result = DrainResult(reaped=notifications_reap_stuck(now=now))
    started = time.monotonic()
    last_id = 0  # a cursor, so a row that failed in this drain is not tried again in it
    while time.monotonic() - started < time_budget:
        moment = now or timezone.now()
        ids = list(
            Notification.objects.filter(_due(moment), id__gt=last_id)
            .order_by("id")
            .values_list("id", flat=True)[:BATCH]
        )
        if not ids:
            break
        for notification_id in ids:
            last_id = notification_id
            outcome = notification_send(notification_id=notification_id, now=moment)
            result.outcomes[outcome] = result.outcomes.get(outcome, 0) + 1
    return result
