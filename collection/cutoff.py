"""Cut-off orders behind the legal gate (DESIGN.md rule 4; 电力供应与使用条例 Art. 39 and
供电营业规则 Art. 66–67): the order may execute only when every item holds, and it keeps the
evidence. An important user is never tripped remotely. Once the cause is cleared, supply is
restored within 3 days (供电营业规则 Art. 69) and the restore time is tracked.

Life of an order: proposed → executed → restoring (cause cleared, restore issued) → restored;
a proposed order may be cancelled.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from billing.choices import ControlStatusChoices
from billing.models import Bill, ControlCommand
from billing.selectors import overdue_bills_by_customer
from billing.services.control import control_restore_after_credit, control_trip_for_cutoff, remote_switch_meters
from core.permissions import can_lead, can_log_contact_work
from core.roles import Role, user_roles
from customers.models import Customer

from .choices import ArrangementStatusChoices, CutoffStatusChoices, DunningLevelCodeChoices, DunningNoticeStatusChoices
from .models import CutoffOrder, DunningNotice, PaymentArrangement

OVERDUE_DAYS = 30
NOTICE_MIN, NOTICE_MAX = dt.timedelta(days=3), dt.timedelta(days=7)
RENOTICE_LEAD, RENOTICE_WINDOW = dt.timedelta(minutes=30), dt.timedelta(hours=2)
RESTORE_LIMIT = dt.timedelta(days=3)
PROPOSAL_TIME = dt.time(10, 0)  # automatic proposals are planned for a working morning
CANCEL_REASON_MAX = 100  # stored as the history's change reason, which holds 100 characters
S = CutoffStatusChoices
OPEN_STATUSES = (S.PROPOSED, S.EXECUTED)
REMOTE_TRIP, FIELD_ORDER = "remote_trip", "field_order"


@dataclass
class GateItem:
    key: str
    label: str
    met: bool
    evidence: str = ""
    notice_id: int | None = None  # the dunning notice that is the evidence, if any


# ---------------------------------------------------------------------------------------------
# Who may do what (DESIGN.md "Who may do what"); the rows are scoped by customers_visible_to.
# ---------------------------------------------------------------------------------------------
def _leads_or_manages(user: User | AnonymousUser) -> bool:
    return can_lead(user)


def can_propose_cutoff(user: User | AnonymousUser) -> bool:
    return can_log_contact_work(user)


def can_approve_cutoff(user: User | AnonymousUser, order: CutoffOrder) -> bool:
    """Whether `user` has an approval left to give on this order (the area leader's, and for
    an important user a manager's); the service decides the same way."""
    if order.status != S.PROPOSED or not user.is_authenticated:
        return False
    if user.pk in (order.leader_approved_by_id, order.manager_approved_by_id):
        return False
    roles = user_roles(user)
    if order.leader_approved_by_id is None and Role.AREA_LEADER in roles:
        return True
    return order.customer.is_important and order.manager_approved_by_id is None and Role.MANAGER in roles


def can_record_power_admin(user: User | AnonymousUser) -> bool:
    return _leads_or_manages(user)


def can_renotice(user: User | AnonymousUser) -> bool:
    return can_log_contact_work(user)


def can_execute_cutoff(user: User | AnonymousUser) -> bool:
    return _leads_or_manages(user)


def can_cancel_cutoff(user: User | AnonymousUser, order: CutoffOrder) -> bool:
    if not user.is_authenticated:
        return False
    return _leads_or_manages(user) or (order.proposed_by_id is not None and order.proposed_by_id == user.pk)


def can_confirm_restored(user: User | AnonymousUser) -> bool:
    return _leads_or_manages(user)


def cutoff_execution_mode(order: CutoffOrder) -> str:
    """How the order would be carried out: a remote trip only for a customer with a remote
    switch in service who is not an important user; a field order otherwise."""
    customer = order.customer
    if not customer.is_important and remote_switch_meters(customer).exists():
        return REMOTE_TRIP
    return FIELD_ORDER


def restore_deadline(order: CutoffOrder) -> dt.datetime | None:
    return order.cause_cleared_at + RESTORE_LIMIT if order.cause_cleared_at else None


def restore_is_overdue(order: CutoffOrder, now: dt.datetime | None = None) -> bool:
    """Not restored within 3 days of the cause being cleared (or restored late)."""
    deadline = restore_deadline(order)
    if deadline is None:
        return False
    if order.status == S.RESTORED:
        return order.restored_at is not None and order.restored_at > deadline
    return order.status == S.RESTORING and (now or timezone.now()) > deadline


def trip_command_for(order: CutoffOrder) -> ControlCommand | None:
    return ControlCommand.objects.filter(pk=order.trip_command_id).first() if order.trip_command_id else None


def restore_command_for(order: CutoffOrder) -> ControlCommand | None:
    return ControlCommand.objects.filter(dedupe_key=_restore_key(order)).first() if order.trip_command_id else None


def _restore_key(order: CutoffOrder) -> str:
    return f"cutoff:{order.pk}:restore"


# ---------------------------------------------------------------------------------------------
# The gate
# ---------------------------------------------------------------------------------------------
def _when(value: dt.datetime | None) -> str:
    return f"{timezone.localtime(value):%Y-%m-%d %H:%M}" if value else ""


def _by(user: User | None, at: dt.datetime | None) -> str:
    if user is None:
        return ""
    return f"{user.get_full_name() or user.username}, {_when(at)}" if at else (user.get_full_name() or user.username)


def _gate_items(order: CutoffOrder, bills: list[Bill], notices: list[DunningNotice], now: dt.datetime):
    customer = order.customer
    planned = order.planned_at
    days = (timezone.localdate(planned) - bills[0].due_on).days if bills else 0
    if bills:
        overdue_evidence = _("%(days)d days on the planned day (bill %(bill)s due %(date)s)") % {
            "days": days,
            "bill": bills[0].number,
            "date": bills[0].due_on,
        }
    else:
        overdue_evidence = _("nothing overdue on the planned day")
    # `notices` are the customer's served notices, latest first.
    demand = next((n for n in notices if n.level.code == DunningLevelCodeChoices.DEMAND and n.sent_at < planned), None)
    suspensions = [n for n in notices if n.level.code == DunningLevelCodeChoices.SUSPENSION]
    suspension = next((n for n in suspensions if planned - NOTICE_MAX <= n.sent_at <= planned - NOTICE_MIN), None)
    shown = suspension or (suspensions[0] if suspensions else None)
    if suspension is not None:
        suspension_evidence = _when(suspension.sent_at)
    elif suspensions:
        latest = _when(suspensions[0].sent_at)
        suspension_evidence = _("latest served %(when)s, outside the 3–7 days") % {"when": latest}
    else:
        suspension_evidence = _("none served")
    renotice_ok = bool(order.renotice_at and planned - RENOTICE_WINDOW <= order.renotice_at <= planned - RENOTICE_LEAD)

    items = [
        GateItem("overdue", _("More than 30 days overdue"), days > OVERDUE_DAYS, overdue_evidence),
        GateItem("demand", _("Payment demand served"), demand is not None, _when(demand and demand.sent_at),
                 demand.pk if demand else None),
        GateItem("suspension_notice", _("Suspension notice served 3–7 days before"), suspension is not None,
                 suspension_evidence, shown.pk if shown else None),
        GateItem("leader", _("Approved by the area leader"), order.leader_approved_by_id is not None,
                 _by(order.leader_approved_by, order.leader_approved_at)),
        GateItem("renotice", _("Re-notice 30 minutes before"), renotice_ok, _when(order.renotice_at)),
        GateItem("time", _("The planned time has come"), now >= planned, _when(planned)),
    ]  # fmt: skip
    if customer.is_important:
        items += [
            GateItem("manager", _("Approved by a manager (important user)"), order.manager_approved_by_id is not None,
                     _by(order.manager_approved_by, order.manager_approved_at)),
            GateItem("power_admin", _("Power administration department informed"),
                     order.power_admin_informed_at is not None,
                     " · ".join(v for v in (order.power_admin_reference, _when(order.power_admin_informed_at)) if v)),
        ]  # fmt: skip
    return items


def cutoff_gates(orders: Iterable[CutoffOrder], *, now: dt.datetime | None = None) -> dict[int, list[GateItem]]:
    """The gate of several orders at once (a list page): one overdue query per planned day and
    one notice query, instead of a whole-portfolio query per order."""
    now = now or timezone.now()
    orders = list(orders)
    if not orders:
        return {}
    by_day: dict[dt.date, set[int]] = defaultdict(set)
    for order in orders:
        by_day[timezone.localdate(order.planned_at)].add(order.customer_id)
    overdue = {day: overdue_bills_by_customer(day, Customer.objects.filter(pk__in=ids)) for day, ids in by_day.items()}
    notices: dict[int, list[DunningNotice]] = defaultdict(list)
    for notice in (
        DunningNotice.objects.filter(
            customer_id__in={o.customer_id for o in orders},
            status=DunningNoticeStatusChoices.SENT,
            level__code__in=[DunningLevelCodeChoices.DEMAND, DunningLevelCodeChoices.SUSPENSION],
            sent_at__isnull=False,
        )
        .select_related("level")
        .order_by("-sent_at", "-id")
    ):
        notices[notice.customer_id].append(notice)
    return {
        order.pk: _gate_items(
            order,
            overdue[timezone.localdate(order.planned_at)].get(order.customer_id, []),
            notices[order.customer_id],
            now,
        )
        for order in orders
    }


def cutoff_gate(order: CutoffOrder, *, now: dt.datetime | None = None) -> list[GateItem]:
    """Each item of the legal gate, met or missing, with its evidence."""
    return cutoff_gates([order], now=now)[order.pk]


# ---------------------------------------------------------------------------------------------
# Writes
# ---------------------------------------------------------------------------------------------
def _locked(order: CutoffOrder) -> CutoffOrder:
    return CutoffOrder.objects.select_for_update().select_related("customer").get(pk=order.pk)


def _require_proposed(order: CutoffOrder, message: str) -> None:
    if order.status != S.PROPOSED:
        raise ValidationError({"status": message})


@transaction.atomic
def cutoff_propose(*, customer: Customer, planned_at: dt.datetime, reason: str, proposed_by: User) -> CutoffOrder:
    if not can_propose_cutoff(proposed_by):
        raise PermissionDenied(_("Your role may not propose a cut-off."))
    reason = (reason or "").strip()
    if planned_at <= timezone.now():
        raise ValidationError({"planned_at": _("A cut-off is planned for a time to come.")})
    if not reason:
        raise ValidationError({"reason": _("Give the reason for the cut-off.")})
    if len(reason) > 300:
        raise ValidationError({"reason": _("Keep the reason to 300 characters.")})
    # The customer row lock makes two proposals at the same moment wait for each other.
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    if CutoffOrder.objects.filter(customer=customer, status__in=OPEN_STATUSES).exists():
        raise ValidationError({"customer": _("The customer already has an open cut-off order.")})
    if customer.pk not in overdue_bills_by_customer(timezone.localdate(), Customer.objects.filter(pk=customer.pk)):
        raise ValidationError({"customer": _("The customer has nothing overdue.")})
    order = CutoffOrder(customer=customer, planned_at=planned_at, reason=reason, proposed_by=proposed_by)
    order._history_user = proposed_by
    order.save()
    return order


@transaction.atomic
def cutoff_approve(*, order: CutoffOrder, by: User) -> CutoffOrder:
    """The area leader's approval; for an important user also a manager's — two people."""
    order = _locked(order)
    _require_proposed(order, _("Only a proposed order can be approved."))
    roles = user_roles(by)
    now = timezone.now()
    if order.leader_approved_by_id is None and Role.AREA_LEADER in roles:
        if order.manager_approved_by_id == by.pk:
            raise ValidationError(_("The second approval must come from another person."))
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
    """Record that the power-administration department was informed (important users only)."""
    if not can_record_power_admin(by):
        raise PermissionDenied(_("Only an area leader or a manager records the power administration's record."))
    order = _locked(order)
    _require_proposed(order, _("Only a proposed order can be changed."))
    if not order.customer.is_important:
        raise ValidationError(_("Only an important user's cut-off is reported to the power administration."))
    reference = (reference or "").strip()
    if not reference:
        raise ValidationError({"reference": _("Give the reference of the record sent to the power administration.")})
    if len(reference) > 100:
        raise ValidationError({"reference": _("Keep the reference to 100 characters.")})
    order.power_admin_informed_at, order.power_admin_reference = timezone.now(), reference
    order._history_user = by
    order.save()
    return order


@transaction.atomic
def cutoff_renotice(*, order: CutoffOrder, by: User, now: dt.datetime | None = None) -> CutoffOrder:
    """Record the re-notice given to the customer shortly before the planned time."""
    if not can_renotice(by):
        raise PermissionDenied(_("Your role may not record a re-notice."))
    now = now or timezone.now()
    order = _locked(order)
    _require_proposed(order, _("Only a proposed order can be changed."))
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
    if not can_execute_cutoff(by):
        raise PermissionDenied(_("Only an area leader or a manager executes a cut-off."))
    order = _locked(order)
    if order.status != S.PROPOSED:
        raise ValidationError(_("This order is not waiting to be executed."))
    missing = [item.label for item in cutoff_gate(order, now=now) if not item.met]
    if missing:
        raise ValidationError(_("The legal gate is not passed: %(items)s.") % {"items": "; ".join(missing)})
    customer = order.customer
    if cutoff_execution_mode(order) == REMOTE_TRIP:
        command = control_trip_for_cutoff(customer=customer, reason=order.reason, dedupe_key=f"cutoff:{order.pk}:trip")
        order.trip_command_id = command.pk
    else:
        order.field_order = f"FO-{order.pk:06d}"
    order.status, order.executed_at = S.EXECUTED, now or timezone.now()
    order._history_user = by
    order.save()
    return order


@transaction.atomic
def cutoff_cancel(*, order: CutoffOrder, by: User, reason: str) -> CutoffOrder:
    """Withdraw a proposed order (the proposer, an area leader or a manager), with the reason in
    the audit trail. An executed order is never cancelled: it ends by restoring supply."""
    order = _locked(order)
    if not can_cancel_cutoff(by, order):
        raise PermissionDenied(_("Only the proposer, an area leader or a manager may cancel this order."))
    _require_proposed(order, _("Only a proposed order can be cancelled."))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Give the reason for cancelling.")})
    if len(reason) > CANCEL_REASON_MAX:
        raise ValidationError({"reason": _("Keep the reason to 100 characters.")})
    order.status = S.CANCELLED
    order._history_user = by
    order._change_reason = reason
    order.save()
    return order


@transaction.atomic
def cutoff_confirm_restored(*, order: CutoffOrder, by: User | None, at: dt.datetime | None = None) -> CutoffOrder:
    """Supply is back (the field crew's report, or the terminal's acknowledgement): restoring →
    restored, with the time it came back. `by` None is the system (acknowledged restore)."""
    if by is not None and not can_confirm_restored(by):
        raise PermissionDenied(_("Only an area leader or a manager confirms that supply is restored."))
    order = _locked(order)
    if order.status != S.RESTORING:
        raise ValidationError({"status": _("Only an order whose restore was issued can be confirmed as restored.")})
    now = timezone.now()
    at = at or now
    if at > now + dt.timedelta(minutes=5):
        raise ValidationError({"restored_at": _("The restore time cannot be in the future.")})
    if order.executed_at and at < order.executed_at:
        raise ValidationError({"restored_at": _("Supply cannot come back before it was cut.")})
    order.status, order.restored_at = S.RESTORED, at
    order._history_user = by
    order.save()
    return order


def _confirm_remote_restores(now: dt.datetime) -> int:
    """Orders restoring after a remote trip are restored when the terminal acknowledged the
    restore command (the head-end's word is the evidence, so nobody has to type it in), or at
    once when the trip never left: the top-up or payment cancelled it before it was sent, so
    supply was never cut. Field orders wait for a person's confirmation."""
    confirmed = 0
    orders = CutoffOrder.objects.filter(status=S.RESTORING, trip_command_id__isnull=False).select_related("customer")
    for order in orders:
        restore = restore_command_for(order)
        if restore is not None:
            if restore.status != ControlStatusChoices.ACKNOWLEDGED:
                continue
            at, why = restore.acknowledged_at or now, _("Restore acknowledged by the terminal")
        else:
            trip = trip_command_for(order)
            if trip is None or trip.status != ControlStatusChoices.CANCELLED or trip.attempts:
                continue
            at, why = order.cause_cleared_at or now, _("The trip was cancelled before it was sent")
        order.status, order.restored_at = S.RESTORED, at
        order._history_user = None
        order._change_reason = why[:CANCEL_REASON_MAX]
        order.save()
        confirmed += 1
    return confirmed


@transaction.atomic
def cutoff_restore_due(*, now: dt.datetime | None = None) -> int:
    """Executed orders whose cause is cleared (nothing overdue, or an active arrangement) get
    their restore: a restore command for a remote trip, a field order otherwise; remote
    restores the terminal has acknowledged are then marked restored. Idempotent. Returns how
    many orders started restoring."""
    now = now or timezone.now()
    overdue = overdue_bills_by_customer(timezone.localdate(now))
    arranged = set(
        PaymentArrangement.objects.filter(status=ArrangementStatusChoices.ACTIVE).values_list("customer_id", flat=True)
    )
    restored = 0
    for order in CutoffOrder.objects.filter(status=S.EXECUTED).select_related("customer"):
        if order.customer_id in overdue and order.customer_id not in arranged:
            continue
        if order.trip_command_id:
            control_restore_after_credit(
                customer=order.customer,
                origin="cutoff",
                reason=_("Cause of the cut-off cleared"),
                dedupe_key=_restore_key(order),
            )
        order.status, order.cause_cleared_at = S.RESTORING, now
        order._history_user = None
        order.save()
        restored += 1
    _confirm_remote_restores(now)
    return restored


def cutoff_restores_overdue(scope_qs: QuerySet[Customer], now: dt.datetime | None = None) -> QuerySet[CutoffOrder]:
    """Orders of customers in `scope_qs` whose cause was cleared more than 3 days ago and whose
    supply is still not confirmed back (供电营业规则 Art. 69: restore within 3 days), the
    longest waiting first."""
    now = now or timezone.now()
    return (
        CutoffOrder.objects.filter(customer__in=scope_qs, status=S.RESTORING, cause_cleared_at__lt=now - RESTORE_LIMIT)
        .select_related("customer")
        .order_by("cause_cleared_at", "id")
    )


@transaction.atomic
def cutoff_propose_due(*, day: dt.date | None = None) -> list[CutoffOrder]:
    """The dunning run's proposals: a cut-off order for each customer whose latest suspension
    notice was served at least 3 days ago, who is still overdue, has no active arrangement and
    no open order. Planned for 10:00 on the first day the gate's 3 days allow (never today).
    Idempotent: a customer gets one automatic proposal per suspension notice."""
    day = day or timezone.localdate()
    now = timezone.now()
    overdue = overdue_bills_by_customer(day)
    if not overdue:
        return []
    arranged = set(
        PaymentArrangement.objects.filter(
            status=ArrangementStatusChoices.ACTIVE, customer_id__in=list(overdue)
        ).values_list("customer_id", flat=True)
    )
    latest: dict[int, DunningNotice] = {}
    for notice in DunningNotice.objects.filter(
        customer_id__in=list(overdue),
        status=DunningNoticeStatusChoices.SENT,
        level__code=DunningLevelCodeChoices.SUSPENSION,
        sent_at__isnull=False,
    ).order_by("customer_id", "-sent_at", "-id"):
        latest.setdefault(notice.customer_id, notice)
    earliest_day = day + dt.timedelta(days=1)
    candidates: dict[int, tuple[DunningNotice, dt.datetime]] = {}
    for customer_id, notice in latest.items():
        if customer_id in arranged or (day - timezone.localdate(notice.sent_at)).days < NOTICE_MIN.days:
            continue
        # Served 3 or more calendar days before `day`, so 10:00 tomorrow is always more than the
        # gate's 3 days (counted to the minute) after it.
        planned = timezone.make_aware(
            dt.datetime.combine(max(earliest_day, timezone.localdate(notice.sent_at + NOTICE_MIN)), PROPOSAL_TIME)
        )
        # A suspension notice covers a cut-off only 3–7 days after it was served (rule 4;
        # 供电营业规则 Art. 67). Past the 7 days the notice is spent: an order resting on it could
        # never pass the gate, and the customer must be warned afresh, so nothing is proposed
        # until a new suspension notice has been served.
        if planned > notice.sent_at + NOTICE_MAX or planned <= now:
            continue
        candidates[customer_id] = (notice, planned)
    if not candidates:
        return []
    # Locking the customers (in id order, so two runs cannot deadlock) makes a second run that
    # starts meanwhile wait, then see the orders this one wrote.
    list(Customer.objects.select_for_update().filter(pk__in=list(candidates)).order_by("pk").values_list("pk"))
    blocked = set(
        CutoffOrder.objects.filter(customer_id__in=list(candidates))
        .filter(
            # An open order needs no second one. Any order written since the notice was served —
            # also a cancelled one — means staff have dealt with this notice: a leader who
            # cancelled the proposal is not overruled by the next morning's run.
            Q(status__in=OPEN_STATUSES)
            | Q(created_at__gte=min(notice.sent_at for notice, _planned in candidates.values()))
        )
        .values_list("customer_id", "created_at", "status")
    )
    open_or_since: set[int] = set()
    for customer_id, created_at, status in blocked:
        if status in OPEN_STATUSES or created_at >= candidates[customer_id][0].sent_at:
            open_or_since.add(customer_id)
    reason = _("Suspension notice period has run")
    proposed = []
    for customer_id, (_notice, planned) in sorted(candidates.items()):
        if customer_id in open_or_since:
            continue
        order = CutoffOrder(customer_id=customer_id, planned_at=planned, reason=reason, proposed_by=None)
        order._history_user = None
        order.save()
        proposed.append(order)
    return proposed
