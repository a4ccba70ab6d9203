"""Cut-off orders behind the legal gate (DESIGN.md rule 4; 电力供应与使用条例 Art. 39 and
供电营业规则 Art. 66–67): the order may execute only when every item holds, and it keeps the
evidence. An important user is never tripped remotely."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from billing.selectors import overdue_bills_by_customer
from billing.services.control import control_restore_after_credit, control_trip_for_cutoff, remote_switch_meters
from core.permissions import can_log_contact_work
from core.roles import Role, user_roles
from customers.models import Customer

from .choices import ArrangementStatusChoices, CutoffStatusChoices, DunningNoticeStatusChoices
from .models import CutoffOrder, DunningNotice, PaymentArrangement

OVERDUE_DAYS = 30
NOTICE_MIN, NOTICE_MAX = dt.timedelta(days=3), dt.timedelta(days=7)
RENOTICE_LEAD, RENOTICE_WINDOW = dt.timedelta(minutes=30), dt.timedelta(hours=2)


@dataclass
class GateItem:
    key: str
    label: str
    met: bool
    evidence: str = ""


def cutoff_gate(order: CutoffOrder, *, now: dt.datetime | None = None) -> list[GateItem]:
    """Each item of the legal gate, met or missing, with its evidence."""
    now = now or timezone.now()
    customer = order.customer
    planned = order.planned_at
    bills = overdue_bills_by_customer(timezone.localdate(planned)).get(customer.pk, [])
    days = (timezone.localdate(planned) - bills[0].due_on).days if bills else 0
    notices = DunningNotice.objects.filter(customer=customer, status=DunningNoticeStatusChoices.SENT)
    demand = notices.filter(level__code="demand", sent_at__lt=planned).order_by("-sent_at").first()
    suspension = (
        notices.filter(level__code="suspension", sent_at__gte=planned - NOTICE_MAX, sent_at__lte=planned - NOTICE_MIN)
        .order_by("-sent_at")
        .first()
    )
    renotice_ok = bool(order.renotice_at and planned - RENOTICE_WINDOW <= order.renotice_at <= planned - RENOTICE_LEAD)

    def when(value) -> str:
        return f"{timezone.localtime(value):%Y-%m-%d %H:%M}" if value else ""

    items = [
        GateItem("overdue", _("More than 30 days overdue"), days > OVERDUE_DAYS, str(days)),
        GateItem("demand", _("Payment demand served"), demand is not None, when(demand and demand.sent_at)),
        GateItem(
            "suspension_notice",
            _("Suspension notice served 3–7 days before"),
            suspension is not None,
            when(suspension and suspension.sent_at),
        ),
        GateItem(
            "leader",
            _("Approved by the area leader"),
            order.leader_approved_by_id is not None,
            str(order.leader_approved_by or ""),
        ),  # fmt: skip
        GateItem("renotice", _("Re-notice 30 minutes before"), renotice_ok, when(order.renotice_at)),
        GateItem("time", _("The planned time has come"), now >= planned, when(planned)),
    ]
    if customer.is_important:
        items += [
            GateItem("manager", _("Approved by a manager (important user)"), order.manager_approved_by_id is not None,
                     str(order.manager_approved_by or "")),
            GateItem("power_admin", _("Power administration department informed"),
                     order.power_admin_informed_at is not None, order.power_admin_reference),
        ]  # fmt: skip
    return items


@transaction.atomic
def cutoff_propose(*, customer: Customer, planned_at: dt.datetime, reason: str, proposed_by: User) -> CutoffOrder:
    if not can_log_contact_work(proposed_by):
        raise PermissionDenied(_("Your role may not propose a cut-off."))
    if planned_at <= timezone.now():
        raise ValidationError({"planned_at": _("A cut-off is planned for a time to come.")})
    if not reason.strip():
        raise ValidationError({"reason": _("Give the reason for the cut-off.")})
    if customer.pk not in overdue_bills_by_customer(timezone.localdate()):
        raise ValidationError({"customer": _("The customer has nothing overdue.")})
    order = CutoffOrder(customer=customer, planned_at=planned_at, reason=reason.strip(), proposed_by=proposed_by)
    order._history_user = proposed_by
    order.save()
    return order


@transaction.atomic
def cutoff_approve(*, order: CutoffOrder, by: User) -> CutoffOrder:
    """The area leader's approval; for an important user also a manager's — two people."""
    order = CutoffOrder.objects.select_for_update().select_related("customer").get(pk=order.pk)
    if order.status != CutoffStatusChoices.PROPOSED:
        raise ValidationError(_("Only a proposed order can be approved."))
    roles = user_roles(by)
    now = timezone.now()
    if order.leader_approved_by_id is None and Role.AREA_LEADER in roles:
        order.leader_approved_by, order.leader_approved_at = by, now
    elif order.customer.is_important and order.manager_approved_by_id is None and Role.MANAGER in roles:
        if order.leader_approved_by_id == by.pk:
            raise ValidationError(_("The second approval must come from another person."))
        order.manager_approved_by, order.manager_approved_at = by, now
    elif order.leader_approved_by_id == by.pk or order.manager_approved_by_id == by.pk:
        raise ValidationError(_("You have already approved this order."))
    else:
        raise PermissionDenied(_("Your role may not approve this order."))
    order._history_user = by
    order.save()
    return order


@transaction.atomic
def cutoff_record_power_admin(*, order: CutoffOrder, reference: str, by: User) -> CutoffOrder:
    if not reference.strip():
        raise ValidationError({"reference": _("Give the reference of the record sent to the power administration.")})
    order.power_admin_informed_at, order.power_admin_reference = timezone.now(), reference.strip()
    order._history_user = by
    order.save()
    return order


@transaction.atomic
def cutoff_renotice(*, order: CutoffOrder, by: User, now: dt.datetime | None = None) -> CutoffOrder:
    """Record the re-notice given to the customer shortly before the planned time."""
    now = now or timezone.now()
    if not order.planned_at - RENOTICE_WINDOW <= now <= order.planned_at - RENOTICE_LEAD:
        raise ValidationError(_("The re-notice is given between two hours and 30 minutes before the planned time."))
    order.renotice_at = now
    order._history_user = by
    order.save()
    return order


@transaction.atomic
def cutoff_execute(*, order: CutoffOrder, by: User, now: dt.datetime | None = None) -> CutoffOrder:
    """Execute only through the gate: a remote trip for a customer with a remote switch who is
    not an important user, otherwise a field order. Raises ValidationError naming what is missing."""
    order = CutoffOrder.objects.select_for_update().select_related("customer").get(pk=order.pk)
    if order.status != CutoffStatusChoices.PROPOSED:
        raise ValidationError(_("This order is not waiting to be executed."))
    missing = [item.label for item in cutoff_gate(order, now=now) if not item.met]
    if missing:
        raise ValidationError(_("The legal gate is not passed: %(items)s.") % {"items": "; ".join(missing)})
    customer = order.customer
    if not customer.is_important and remote_switch_meters(customer).exists():
        command = control_trip_for_cutoff(customer=customer, reason=order.reason, dedupe_key=f"cutoff:{order.pk}:trip")
        order.trip_command_id = command.pk
    else:
        order.field_order = f"FO-{order.pk:06d}"
    order.status, order.executed_at = CutoffStatusChoices.EXECUTED, now or timezone.now()
    order._history_user = by
    order.save()
    return order


@transaction.atomic
def cutoff_restore_due(*, now: dt.datetime | None = None) -> int:
    """Executed orders whose cause is cleared (nothing overdue, or an active arrangement) get
    their restore: a restore command for a remote trip, a field order otherwise. Idempotent."""
    now = now or timezone.now()
    overdue = overdue_bills_by_customer(timezone.localdate(now))
    arranged = set(
        PaymentArrangement.objects.filter(status=ArrangementStatusChoices.ACTIVE).values_list("customer_id", flat=True)
    )
    restored = 0
    for order in CutoffOrder.objects.filter(status=CutoffStatusChoices.EXECUTED).select_related("customer"):
        if order.customer_id in overdue and order.customer_id not in arranged:
            continue
        if order.trip_command_id:
            control_restore_after_credit(
                customer=order.customer,
                origin="cutoff",
                reason=_("Cause of the cut-off cleared"),
                dedupe_key=f"cutoff:{order.pk}:restore",
            )
        order.status, order.cause_cleared_at = CutoffStatusChoices.RESTORING, now
        order._history_user = None
        order.save()
        restored += 1
    return restored
