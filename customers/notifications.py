"""The notification outbox (SMS, WeChat, e-mail): how every floor reaches customers and staff.

Writing: `notification_queue()` (or `notifications_queue_many()` for a batch job) runs in the
same transaction as the event that causes the message, and is idempotent by `dedupe_key`:
the same warning for the same day is queued once however often the job runs.

Sending: `notifications_send_due()` claims each due row with a conditional update
(queued → sending, attempts + 1) and only the winner hands it to the channel's backend, so two
drains running at once send a message once. A failure the provider may get over (timeout, no
connection, 5xx) puts the row back in the queue with an exponential backoff; after
`max_attempts()`, or at once when the provider refuses the message (4xx), it stays `failed`
with the last error, visible on the Messages page, where a leader can send it again.

Delivery is at most once, also when a worker dies. A worker killed between the claim and the
result leaves the row in `sending`; while it is sending, `next_attempt_at` holds the moment it
counts as stuck (claim + `stuck_after()`). Nobody can tell from here whether the provider got
the message before the worker died, so `notifications_reap_stuck()` never sends it again by
itself: it marks the row `failed` with a note asking a person to check (DESIGN.md, "Decisions").
Backends must give up (time out) well within the stuck time so a slow send is never mistaken
for a dead one.

Backends are chosen per channel by `settings.NOTIFICATION_BACKENDS` (dotted paths).
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import ClassVar

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured, PermissionDenied, ValidationError
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from core.roles import Role, is_manager, user_roles

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
STUCK_AFTER = dt.timedelta(minutes=10)  # default of settings.NOTIFICATION_STUCK_AFTER_SECONDS
DEFAULT_GATEWAY_TIMEOUT = 10  # seconds
BATCH = 200

STATUS = NotificationStatusChoices


class NotificationSendError(Exception):
    """A backend could not hand the message over. `retryable=False` means retrying cannot
    help (the provider refused the message: a bad number, a blocked account): it fails at once
    instead of using up its attempts. Otherwise the outbox retries it later."""

    def __init__(self, message: str, *, retryable: bool = True):
        super().__init__(message)
        self.retryable = retryable


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


class HttpGatewayBackend(NotificationBackend):
    """SMS or WeChat through the provider's HTTP gateway (短信网关 / 微信模板消息), JSON over HTTPS
    with a bearer token. Settings: NOTIFICATION_GATEWAY_URLS (per channel),
    NOTIFICATION_GATEWAY_TOKEN, NOTIFICATION_GATEWAY_TIMEOUT (seconds).

        POST {url}   body {"message_id", "channel", "to", "subject", "text"},
                     header Idempotency-Key: notification-<id>
            2xx {"ref": "..."}   accepted
            409 {"ref": "..."}   the id was seen before: accepted then, not sent again
            429, 5xx, timeout, no connection   retried with backoff
            other 4xx            refused: fails at once (a person has to look at it)
    """

    def __init__(self):
        self.urls = getattr(settings, "NOTIFICATION_GATEWAY_URLS", {})
        self.token = getattr(settings, "NOTIFICATION_GATEWAY_TOKEN", "")
        self.timeout = float(getattr(settings, "NOTIFICATION_GATEWAY_TIMEOUT", DEFAULT_GATEWAY_TIMEOUT))
        # A send still waiting when the reaper looks would be taken for a dead worker's and
        # left for a person to check; half the stuck time keeps a wide margin.
        if not 0 < self.timeout <= stuck_after().total_seconds() / 2:
            raise ImproperlyConfigured("NOTIFICATION_GATEWAY_TIMEOUT must be positive and at most half the stuck time.")

    def send(self, notification: Notification) -> str:
        url = self.urls.get(notification.channel, "")
        if not url:
            raise ImproperlyConfigured(f"NOTIFICATION_GATEWAY_URLS has no gateway for {notification.channel}.")
        payload = {
            "message_id": notification.pk,
            "channel": notification.channel,
            "to": notification.recipient,
            "subject": notification.subject,
            "text": notification.body,
        }
        request = urllib.request.Request(
            url,
            method="POST",
            data=json.dumps(payload, ensure_ascii=False).encode(),
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "Authorization": f"Bearer {self.token}",
                # The provider can drop a repeat (a person's "send again" of a message it got).
                "Idempotency-Key": f"notification-{notification.pk}",
            },
        )
        status, data = self._post(request)
        if 200 <= status < 300 or status == 409:
            return str(data.get("ref") or f"gateway-{notification.pk}")
        detail = str(data.get("error") or data.get("message") or "")[:200]
        if 400 <= status < 500 and status != 429:
            raise NotificationSendError(
                _("The gateway refused the message (HTTP %(status)s): %(detail)s")
                % {"status": status, "detail": detail},
                retryable=False,
            )
        raise NotificationSendError(
            _("Gateway error (HTTP %(status)s): %(detail)s") % {"status": status, "detail": detail}
        )

    def _post(self, request: urllib.request.Request) -> tuple[int, dict]:
        timeout_error = _("Gateway timeout: no answer within %(seconds)s s.") % {"seconds": f"{self.timeout:g}"}
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status, self._json(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, self._json(exc.read())
        except urllib.error.URLError as exc:  # before the request was sent: connect failed or timed out
            if isinstance(exc.reason, TimeoutError):
                raise NotificationSendError(timeout_error) from exc
            raise NotificationSendError(_("Gateway unreachable: %(error)s") % {"error": exc.reason}) from exc
        except TimeoutError as exc:  # sent, but the answer did not come in time
            raise NotificationSendError(timeout_error) from exc
        except (OSError, http.client.HTTPException) as exc:  # connection reset, garbled answer
            error = str(exc) or exc.__class__.__name__
            raise NotificationSendError(_("Gateway connection error: %(error)s") % {"error": error}) from exc

    @staticmethod
    def _json(raw: bytes) -> dict:
        try:
            data = json.loads(raw or b"{}")
        except ValueError:
            return {"error": raw[:200].decode(errors="replace")}
        return data if isinstance(data, dict) else {}


def backend_for(channel: str) -> NotificationBackend:
    paths = {**DEFAULT_BACKENDS, **getattr(settings, "NOTIFICATION_BACKENDS", {})}
    return import_string(paths[channel])()


def max_attempts() -> int:
    return int(getattr(settings, "NOTIFICATION_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS))


def stuck_after() -> dt.timedelta:
    """How long after its claim a row still `sending` counts as left by a dead worker."""
    seconds = getattr(settings, "NOTIFICATION_STUCK_AFTER_SECONDS", None)
    if seconds is None:
        return STUCK_AFTER
    if seconds <= 0:
        raise ImproperlyConfigured("NOTIFICATION_STUCK_AFTER_SECONDS must be a positive number of seconds.")
    return dt.timedelta(seconds=seconds)


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
            status=STATUS.SENDING, attempts=F("attempts") + 1, next_attempt_at=now + stuck_after()
        )
        == 1
    )
    if not claimed:
        return "skipped"
    notification = Notification.objects.get(pk=notification_id)
    # The result is written only while the row is still this claim (same attempt number; the
    # number only grows, so a later claim never looks like this one).
    this_claim = Notification.objects.filter(pk=notification.pk, attempts=notification.attempts)
    try:
        reference = backend_for(notification.channel).send(notification)
    except Exception as exc:  # any backend fault is a failed attempt, never a lost message
        error = (str(exc) or exc.__class__.__name__)[:500]
        logger.warning("notification %s attempt %s failed: %s", notification.pk, notification.attempts, error)
        ours = this_claim.filter(status=STATUS.SENDING)
        if not getattr(exc, "retryable", True) or notification.attempts >= max_attempts():
            ours.update(status=STATUS.FAILED, next_attempt_at=None, last_error=error)
            return "failed"
        ours.update(status=STATUS.QUEUED, next_attempt_at=now + retry_delay(notification.attempts), last_error=error)
        return "retry"
    # A send slower than the stuck time may find its row already reaped (failed, waiting for a
    # person) or queued again by that person: the provider has the message, so "sent" is the
    # truth and stops the repeat. A row a later claim has taken (more attempts) is left alone.
    this_claim.filter(status__in=[STATUS.SENDING, STATUS.FAILED, STATUS.QUEUED]).update(
        status=STATUS.SENT, sent_at=timezone.now(), provider_ref=(reference or "")[:100], next_attempt_at=None,
        last_error="",
    )  # fmt: skip
    return "sent"


def notifications_reap_stuck(*, now: dt.datetime | None = None) -> int:
    """Fail the rows a dead worker left in `sending` (past their stuck time), for a person to
    check. Returns how many rows were touched.

    Why not queue them again: the worker may have died after the provider accepted the message
    and before the result was stored, and SMS and WeChat gateways cannot be asked what they
    got. Sending again could give a customer the same payment demand twice; a person who checks
    (the provider's console, a call to the contact) and then presses "send again" cannot. So a
    message is sent at most once without a person's decision (DESIGN.md, "Decisions")."""
    now = now or timezone.now()
    note = _(
        "The sender stopped while sending: the message may or may not have gone out. "
        "Check with the provider or the recipient before sending it again."
    )
    return Notification.objects.filter(status=STATUS.SENDING, next_attempt_at__lte=now).update(
        status=STATUS.FAILED, next_attempt_at=None, last_error=note
    )


def can_retry_notifications(user: User) -> bool:
    """Area leaders and managers decide to send a failed message again."""
    return user.is_authenticated and (user.is_superuser or is_manager(user) or Role.AREA_LEADER in user_roles(user))


@transaction.atomic
def notification_retry(*, notification: Notification, retried_by: User, now: dt.datetime | None = None) -> Notification:
    """Send a failed message again, at the next drain: queued with `next_attempt_at` = now, the
    person and the moment recorded on the row. The attempts are not reset (the count is what the
    provider saw, and the sender recognises its own claim by it), so a message that had used up
    its attempts gets this one more, and fails again visibly if the provider still refuses."""
    if not can_retry_notifications(retried_by):
        raise PermissionDenied(_("Only an area leader or a manager may send a message again."))
    now = now or timezone.now()
    retried = Notification.objects.filter(pk=notification.pk, status=STATUS.FAILED).update(
        status=STATUS.QUEUED, next_attempt_at=now, retried_by=retried_by, retried_at=now
    )
    if not retried:
        raise ValidationError({"status": _("Only a failed message can be sent again.")})
    logger.info("notification %s queued again by %s", notification.pk, retried_by.get_username())
    return Notification.objects.get(pk=notification.pk)


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
