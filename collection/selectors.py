"""The collector's worklist: what needs doing today, ordered by money at risk."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from billing.models import Guarantee, PrepaidAccount
from billing.selectors import overdue_bills_by_customer
from core.formatting import money
from core.permissions import can_lead
from customers.models import Customer, Notification
from customers.selectors import customers_visible_to

from .cutoff import cutoff_restores_overdue
from .models import CutoffOrder, DunningNotice, PaymentArrangement, PromiseToPay
from .selectors_agreements import arrangements_missed

ZERO = Decimal("0")


@dataclass
class WorkItem:
    customer: Customer
    reason: str
    detail: str
    amount: Decimal  # money at risk: the customer's overdue total (or the figure the row is about)
    action: str  # "call", "promise", "notice", "visit", "review"


def _minute(moment: dt.datetime) -> str:
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M}"


def worklist_for(user: User | AnonymousUser, *, day: dt.date | None = None) -> list[WorkItem]:
    day = day or timezone.localdate()
    scope = customers_visible_to(user)
    overdue: dict[int, Decimal] = {}
    oldest_due: dict[int, dt.date] = {}
    for customer_id, bills in overdue_bills_by_customer(day, scope).items():
        overdue[customer_id] = sum((b.principal_due + b.penalty_due for b in bills), ZERO)
        oldest_due[customer_id] = bills[0].due_on
    items: list[tuple[int, str, str, Decimal, str]] = []

    for customer_id, due_on in oldest_due.items():
        if (day - due_on).days <= 3:
            items.append(
                (customer_id, _("Newly overdue"), _("since %(date)s") % {"date": due_on}, overdue[customer_id], "call")
            )

    for promise in PromiseToPay.objects.filter(customer__in=scope).filter(
        Q(status="open", promised_on=day) | Q(status="broken", resolved_on__gte=day - dt.timedelta(days=7))
    ):
        reason = _("Promise due today") if promise.status == "open" else _("Promise broken")
        detail = _("%(amount)s promised for %(date)s") % {"amount": promise.amount, "date": promise.promised_on}
        items.append((promise.customer_id, reason, detail, overdue.get(promise.customer_id, promise.amount), "call"))

    recent = day - dt.timedelta(days=3)
    for notice in DunningNotice.objects.filter(customer__in=scope, status="sent", level__call_task=True,
                                               sent_at__date__gte=recent).select_related("level"):  # fmt: skip
        items.append((notice.customer_id, _("Call after the demand"), notice.level.get_code_display(),
                      overdue.get(notice.customer_id, notice.amount_due), "call"))  # fmt: skip

    suspensions = DunningNotice.objects.filter(
        customer__in=scope, status="sent", level__code="suspension", sent_at__date__lte=day - dt.timedelta(days=3)
    )
    for notice in suspensions:
        if notice.customer_id in overdue:
            items.append((notice.customer_id, _("Suspension notice period has run"),
                          _("served %(date)s") % {"date": timezone.localdate(notice.sent_at)},
                          overdue[notice.customer_id], "review"))  # fmt: skip

    failed = Notification.objects.filter(
        customer__in=scope,
        status="failed",
        kind__startswith="dunning_",
        created_at__date__gte=day - dt.timedelta(days=14),
    )
    for message in failed:
        detail = f"{message.get_channel_display()} {message.recipient}"
        items.append(
            (message.customer_id, _("Notice not delivered"), detail, overdue.get(message.customer_id, ZERO), "notice")
        )

    for account in PrepaidAccount.objects.filter(customer__in=scope, state__in=["warned_3", "exhausted"]):
        items.append((account.customer_id, _("Prepaid balance near zero"), account.get_state_display(),
                      overdue.get(account.customer_id, ZERO), "call"))  # fmt: skip

    for guarantee in Guarantee.objects.filter(
        customer__in=scope, released_on__isnull=True, valid_to__gte=day, valid_to__lte=day + dt.timedelta(days=30)
    ):
        items.append((guarantee.customer_id, _("Guarantee expiring"),
                      _("%(kind)s until %(date)s") % {"kind": guarantee.get_kind_display(), "date": guarantee.valid_to},
                      guarantee.amount, "visit"))  # fmt: skip

    for arrangement in arrangements_missed(scope, day):
        items.append((arrangement.customer_id, _("Arrangement instalment missed"),
                      _("%(paid)s paid of %(due)s due so far") % {"paid": money(arrangement.paid_so_far),
                                                                  "due": money(arrangement.due_so_far)},
                      overdue.get(arrangement.customer_id, arrangement.due_so_far - arrangement.paid_so_far),
                      "call"))  # fmt: skip
    for arrangement in PaymentArrangement.objects.filter(
        customer__in=scope, status="broken", resolved_on__gte=day - dt.timedelta(days=7)
    ):
        items.append((arrangement.customer_id, _("Arrangement broken"),
                      _("signed %(date)s for %(amount)s") % {"date": arrangement.made_on,
                                                             "amount": money(arrangement.total)},
                      overdue.get(arrangement.customer_id, arrangement.total), "call"))  # fmt: skip

    now = timezone.now()
    for order in cutoff_restores_overdue(scope, now):
        items.append((order.customer_id, _("Supply not restored within 3 days"),
                      _("cause cleared %(date)s") % {"date": _minute(order.cause_cleared_at)},
                      overdue.get(order.customer_id, ZERO), "review"))  # fmt: skip
    if can_lead(user):
        for order in CutoffOrder.objects.filter(customer__in=scope, status="proposed", leader_approved_by__isnull=True):
            items.append((order.customer_id, _("Cut-off order awaiting approval"),
                          _("planned for %(date)s") % {"date": _minute(order.planned_at)},
                          overdue.get(order.customer_id, ZERO), "review"))  # fmt: skip

    # Rows of the floors above (risk alerts), through settings so collections imports none of them.
    for path in settings.WORKLIST_SOURCES:
        items.extend(import_string(path)(user, day, scope))

    customers = Customer.objects.in_bulk({item[0] for item in items})
    result = [WorkItem(customers[c], reason, detail, amount, action) for c, reason, detail, amount, action in items]
    return sorted(result, key=lambda item: (-item.amount, item.customer.account_no))
