"""Notices to many customers at once (计划停电通知, 电价调整通知, service notices): written by an
area leader or a manager for the customers chosen with the customer list's own filters, queued
in the outbox as one message per contact on that contact's channel, and followed on their page
by what was sent, what is on its way and what failed.

A province-wide notice is some 200,000 messages, too many to write in a request (about 20 s):
beyond `IN_REQUEST_LIMIT` contacts the messages are written by the batch worker in chunks
(`announcement_fan_out`), each chunk committed on its own and keyed so that a run after a dead
worker writes only what is missing; the page shows the progress."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, QuerySet
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext as _

from core.pagination import filter_data
from core.permissions import can_lead

from .choices import AnnouncementKindChoices, AnnouncementStatusChoices, NotificationChannelChoices
from .choices import NotificationStatusChoices as S
from .filtersets import CustomerFilterSet
from .models import Announcement, Contact, Customer, Notification
from .notifications import contact_target, notifications_queue_many, quiet_hours_end
from .selectors import customers_visible_to

# Two clicks on "send" (or a reload of the POST) within this time would send every message twice.
REPEAT_WINDOW = dt.timedelta(minutes=10)
# How far ahead a notice may be scheduled: a planned outage is announced days, not months, before.
LATEST_SCHEDULE = dt.timedelta(days=30)
# Up to this many contacts the messages are written in the request (the sender sees them at once).
IN_REQUEST_LIMIT = 2000
AUDIENCE_MAX = 1000  # Announcement.audience
FAN_OUT_CHUNK = 5000
SHORT_CHANNELS = (NotificationChannelChoices.SMS, NotificationChannelChoices.WECHAT)


def can_announce(user: User) -> bool:
    """Area leaders and managers write to customers in bulk; collectors write to their own one
    at a time (calls, dunning)."""
    return can_lead(user)


def audience_filterset(query: str, user: User, request=None) -> CustomerFilterSet:
    """The customer list's filters of the query, over the user's scope (not yet validated)."""
    data = filter_data(QueryDict(query)) or QueryDict()
    return CustomerFilterSet(data, queryset=customers_visible_to(user), request=request)


def audience_contacts(customers: QuerySet[Customer], *, all_contacts: bool) -> QuerySet[Contact]:
    contacts = Contact.objects.filter(customer__in=customers)
    return contacts if all_contacts else contacts.filter(receives_dunning=True)


def audience_figures(customers: QuerySet[Customer], *, all_contacts: bool) -> dict[str, int]:
    """What sending to these customers would do, said before anything is sent: the customers,
    their contacts (every contact has an address: the archive requires one), and the customers
    with no contact to receive it."""
    contacts = audience_contacts(customers, all_contacts=all_contacts)
    figures = contacts.aggregate(contacts=Count("id"), reached=Count("customer", distinct=True))
    total = customers.count()
    return {"customers": total, "contacts": figures["contacts"], "without_contact": total - figures["reached"]}


def _check(*, kind: str, subject: str, short_text: str, send_after: dt.datetime | None, now: dt.datetime) -> None:
    errors = {}
    if kind not in AnnouncementKindChoices.values:
        errors["kind"] = _("Choose the kind of notice.")
    if not subject.strip():
        errors["subject"] = _("Give the notice a subject.")
    if not short_text.strip():
        errors["short_text"] = _("Write the text sent by SMS and WeChat.")
    if send_after is not None and send_after < now - dt.timedelta(minutes=1):
        errors["send_after"] = _("A notice cannot be scheduled in the past.")
    elif send_after is not None and send_after > now + LATEST_SCHEDULE:
        errors["send_after"] = _("Schedule a notice at most %(days)d days ahead.") % {"days": LATEST_SCHEDULE.days}
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def announcement_send(
    *,
    kind: str,
    subject: str,
    short_text: str,
    body: str,
    audience: str,
    all_contacts: bool,
    send_after: dt.datetime | None,
    by: User,
) -> Announcement:
    """Record the notice for every contact of the customers the `audience` query chooses within
    the sender's scope, and write its messages — here when there are few, else by the batch
    worker after this transaction commits. Refused, with nothing stored, for a bad field or
    filter, when no contact can be reached, or when the same notice went to the same customers in
    the last ten minutes."""
    if not can_announce(by):
        raise PermissionDenied(_("Only an area leader or a manager sends notices to customers."))
    # One send at a time per sender: two concurrent requests (an API client retrying after a
    # timeout, two tabs) would otherwise both pass the repeat check below and send twice.
    User.objects.select_for_update().filter(pk=by.pk).first()
    now = timezone.now()
    _check(kind=kind, subject=subject, short_text=short_text, send_after=send_after, now=now)
    subject, short_text, body = subject.strip(), short_text.strip(), body.strip()
    if len(audience) > AUDIENCE_MAX:
        raise ValidationError({"audience": _("Too many filters: narrow the customer list with fewer.")})
    filterset = audience_filterset(audience, by)
    if not filterset.is_valid():
        raise ValidationError(
            {"audience": [f"{name}: {' '.join(errors)}" for name, errors in filterset.errors.items()]}
        )
    repeated = Announcement.objects.filter(
        created_by=by, kind=kind, subject=subject, audience=audience, created_at__gte=now - REPEAT_WINDOW
    ).first()
    if repeated is not None:
        raise ValidationError(
            _("This notice went to these customers at %(time)s; it is not sent twice.")
            % {"time": timezone.localtime(repeated.created_at).strftime("%H:%M")}
        )
    expected = audience_contacts(filterset.qs, all_contacts=all_contacts).count()
    if not expected:
        raise ValidationError({"customers": _("None of the chosen customers has a contact to send it to.")})
    announcement = Announcement.objects.create(
        kind=kind, subject=subject, short_text=short_text, body=body, audience=audience, all_contacts=all_contacts,
        send_after=send_after, expected=expected, created_by=by,
    )  # fmt: skip
    if expected <= IN_REQUEST_LIMIT:
        announcement_fan_out(announcement.pk)
        announcement.refresh_from_db()
    else:
        from .tasks import announcement_fan_out_task  # the task module imports this one

        transaction.on_commit(lambda: announcement_fan_out_task.delay(announcement.pk))
    return announcement


def announcement_fan_out(announcement_id: int, *, chunk: int = FAN_OUT_CHUNK) -> Announcement:
    """Write the notice's messages, one per contact of its audience, chunk by chunk in contact
    order, each chunk committed on its own. Idempotent and resumable: the messages' keys
    (notice, contact) make a second run write only what is missing, and a notice whose messages
    are all written is left alone."""
    announcement = Announcement.objects.select_related("created_by").get(pk=announcement_id)
    if announcement.status == AnnouncementStatusChoices.QUEUED:
        return announcement
    sender = announcement.created_by
    filterset = audience_filterset(announcement.audience, sender) if sender is not None else None
    # A sender deleted since, or no longer allowed those filters: nothing more is written.
    customers = filterset.qs if filterset is not None and filterset.is_valid() else Customer.objects.none()
    contacts = audience_contacts(customers, all_contacts=announcement.all_contacts).order_by("id")
    now = timezone.now()
    future = announcement.send_after if announcement.send_after and announcement.send_after > now else None
    waits_until = quiet_hours_end(future or now) or future
    kind = f"announcement_{announcement.kind}"
    last = 0
    while batch := list(contacts.filter(id__gt=last)[:chunk]):
        rows = [
            Notification(
                channel=t.channel, recipient=t.recipient, kind=kind, subject=announcement.subject,
                body=announcement.short_text if t.channel in SHORT_CHANNELS
                else (announcement.body or announcement.short_text),
                customer_id=t.contact.customer_id, contact=t.contact, announcement=announcement,
                dedupe_key=f"announcement:{announcement.pk}:{t.contact.pk}", next_attempt_at=waits_until,
            )
            for contact in batch
            if (t := contact_target(contact)) is not None
        ]  # fmt: skip
        with transaction.atomic():
            notifications_queue_many(rows)
        last = batch[-1].pk
    written = announcement.notifications.aggregate(messages=Count("id"), customers=Count("customer", distinct=True))
    announcement.messages, announcement.customers = written["messages"], written["customers"]
    announcement.status = AnnouncementStatusChoices.QUEUED
    announcement.save(update_fields=["messages", "customers", "status"])
    return announcement


# A notice's messages as its pages count them.
DELIVERY_STATES = {"sent": (S.SENT, S.DELIVERED), "pending": (S.QUEUED, S.SENDING), "failed": (S.FAILED,)}


def delivery(announcement: Announcement) -> dict[str, int]:
    """Its messages by state: sent (or delivered), on their way (queued, retrying, sending), failed."""
    counts = dict(announcement.notifications.values_list("status").annotate(n=Count("id")).order_by())
    return {name: sum(counts.get(s, 0) for s in states) for name, states in DELIVERY_STATES.items()}
