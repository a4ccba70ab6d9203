"""Notices to many customers at once (计划停电通知, 电价调整通知, service notices): written by an
area leader or a manager for the customers chosen with the customer list's own filters, queued
in the outbox as one message per reachable contact on that contact's channel, and followed on
their page by what was sent, what is on its way and what failed."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from core.permissions import can_lead

from .choices import AnnouncementKindChoices, NotificationChannelChoices
from .choices import NotificationStatusChoices as S
from .models import Announcement, Contact, Customer, Notification
from .notifications import contact_target, notifications_queue_many, quiet_hours_end
from .selectors import customers_visible_to

# Two clicks on "send" (or a reload of the POST) within this time would send every message twice.
REPEAT_WINDOW = dt.timedelta(minutes=10)
# How far ahead a notice may be scheduled: a planned outage is announced days, not months, before.
LATEST_SCHEDULE = dt.timedelta(days=30)
SHORT_CHANNELS = (NotificationChannelChoices.SMS, NotificationChannelChoices.WECHAT)


def can_announce(user: User) -> bool:
    """Area leaders and managers write to customers in bulk; collectors write to their own one
    at a time (calls, dunning)."""
    return can_lead(user)


def _check(*, subject: str, short_text: str, send_after: dt.datetime | None, now: dt.datetime) -> None:
    errors = {}
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


@transaction.atomic
def announcement_send(
    *,
    kind: str,
    subject: str,
    short_text: str,
    body: str,
    customers: QuerySet[Customer],
    audience: str,
    all_contacts: bool,
    send_after: dt.datetime | None,
    by: User,
) -> Announcement:
    """Queue the notice for every reachable contact of the customers (within the sender's scope,
    whatever the queryset says). Messages wait for `send_after` and for the end of the night's
    quiet hours. Refused, with nothing stored, when no contact can be reached or the same notice
    went to the same customers in the last ten minutes."""
    if not can_announce(by):
        raise PermissionDenied(_("Only an area leader or a manager sends notices to customers."))
    if kind not in AnnouncementKindChoices.values:
        raise ValidationError({"kind": _("Choose the kind of notice.")})
    now = timezone.now()
    _check(subject=subject, short_text=short_text, send_after=send_after, now=now)
    subject, short_text, body = subject.strip(), short_text.strip(), body.strip()
    repeated = Announcement.objects.filter(
        created_by=by, kind=kind, subject=subject, audience=audience, created_at__gte=now - REPEAT_WINDOW
    ).first()
    if repeated is not None:
        raise ValidationError(
            _("This notice went to these customers at %(time)s; it is not sent twice.")
            % {"time": timezone.localtime(repeated.created_at).strftime("%H:%M")}
        )
    scoped = customers.filter(pk__in=customers_visible_to(by).values("pk"))
    contacts = audience_contacts(scoped, all_contacts=all_contacts).order_by("customer_id", "id")
    targets = [target for contact in contacts if (target := contact_target(contact)) is not None]
    if not targets:
        raise ValidationError({"customers": _("None of the chosen customers has a contact to send it to.")})
    announcement = Announcement.objects.create(
        kind=kind, subject=subject, short_text=short_text, body=body, audience=audience, all_contacts=all_contacts,
        send_after=send_after, customers=len({t.contact.customer_id for t in targets}), messages=len(targets),
        created_by=by,
    )  # fmt: skip
    start = max(send_after or now, now)
    waits_until = quiet_hours_end(start) or (send_after if send_after and send_after > now else None)
    rows = [
        Notification(
            channel=t.channel, recipient=t.recipient, kind=f"announcement_{kind}", subject=subject,
            body=short_text if t.channel in SHORT_CHANNELS else (body or short_text),
            customer_id=t.contact.customer_id, contact=t.contact, announcement=announcement,
            dedupe_key=f"announcement:{announcement.pk}:{t.contact.pk}", next_attempt_at=waits_until,
        )
        for t in targets
    ]  # fmt: skip
    notifications_queue_many(rows)
    return announcement


def delivery(announcement: Announcement) -> dict[str, int]:
    """Its messages by state: sent (or delivered), on their way (queued, retrying, sending), failed."""
    counts = dict(announcement.notifications.values_list("status").annotate(n=Count("id")).order_by())
    return {
        "sent": counts.get(S.SENT, 0) + counts.get(S.DELIVERED, 0),
        "pending": counts.get(S.QUEUED, 0) + counts.get(S.SENDING, 0),
        "failed": counts.get(S.FAILED, 0),
    }
