"""Trip and restore commands (远程费控 / 停电): who may cause them, and how they reach the terminal.

The rules (DESIGN.md rules 4 and 5):
- An important user (class 1 or 2) is **never tripped automatically**. Every writer of a
  command row goes through `_refuse_unapproved_trip`, which refuses a trip of an important
  user that could reach the terminal without a manager's approval; the sender refuses it
  again at the last moment (the customer may have become important after it was written).
- Automatic trips (the prepaid balance ran out) go only to a customer with a signed remote
  control agreement and a remote-switch meter in service, who is not an important user.
  Otherwise the trip is *escalated*: recorded, never sent, and mailed to the area leaders and
  managers.
- A manual trip of an important user waits for a manager's approval with a reason, and the
  approver is never the requester (four eyes).

Delivery (`control_send_due`, run every minute): each due command is claimed with a
conditional update (pending/failed → sending, attempts + 1), so only one worker ever hands it
to the gateway. A failure is retried with exponential backoff; after `max_attempts()` the
command gives up, visibly, and staff are told. A worker that dies mid-send leaves the row in
`sending`; `control_reap_stuck` makes it retryable after STUCK_AFTER. The terminal may then
see the command twice, so the gateway always sends the command id and the terminal
de-duplicates by it (at-least-once delivery, exactly-once switching).

Ordering per customer: only the newest of a customer's trip/restore commands may still be
sent (an unsent older one of the other action is cancelled as superseded), and no command is
sent while an older one of the same customer is in flight. A restore can therefore never
overtake the trip it undoes.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from core.roles import Role, is_area_leader, is_manager, user_role
from customers.models import Customer, MeterPoint, Notification, Region
from customers.notifications import in_message_language, notifications_queue_many, staff_email_targets

from ..choices import ControlActionChoices, ControlOriginChoices, ControlStatusChoices
from ..gateways import GatewayError, gateway_get
from ..models import ControlCommand

logger = logging.getLogger(__name__)

S = ControlStatusChoices
TRIP, RESTORE = ControlActionChoices.TRIP, ControlActionChoices.RESTORE
DEFAULT_MAX_ATTEMPTS = 5
RETRY_BASE = dt.timedelta(minutes=1)  # 1, 2, 4, 8 … minutes
RETRY_CAP = dt.timedelta(hours=1)
STUCK_AFTER = dt.timedelta(minutes=10)
BATCH = 500

# Commands that went, or may still go, to the terminal.
ISSUED = (S.PENDING, S.SENDING, S.SENT, S.ACKNOWLEDGED, S.FAILED, S.GAVE_UP)
RETRYABLE = (S.PENDING, S.FAILED)
UNSENT = (S.AWAITING_APPROVAL, S.PENDING, S.FAILED)


def max_attempts() -> int:
    return int(getattr(settings, "CONTROL_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS))


def retry_delay(attempts: int) -> dt.timedelta:
    return min(RETRY_BASE * 2 ** max(attempts - 1, 0), RETRY_CAP)


# ---------------------------------------------------------------------------------------------
# Who may do what (DESIGN.md "Who may do what")
# ---------------------------------------------------------------------------------------------
def can_request_control(user: User | AnonymousUser) -> bool:
    """Manual trips and restores: managers and area leaders (within their scope)."""
    return user.is_authenticated and (is_manager(user) or is_area_leader(user))


def can_approve_control(user: User | AnonymousUser) -> bool:
    """Approving the trip of an important user: managers only."""
    return user.is_authenticated and is_manager(user)


def can_acknowledge_control(user: User | AnonymousUser) -> bool:
    """The head-end's callback (a system account), or a manager confirming from the field."""
    return user.is_authenticated and user_role(user) in (Role.SYSTEM, Role.MANAGER)


# ---------------------------------------------------------------------------------------------
# Writing commands
# ---------------------------------------------------------------------------------------------
def remote_switch_meters(customer: Customer):
    return MeterPoint.objects.filter(customer=customer, active=True, remote_switch=True)


def automatic_trip_blocker(customer: Customer, *, has_switch: bool | None = None) -> str | None:
    """Why the balance running out may not trip this customer remotely, or None if it may."""
    if customer.is_important:
        return _("Important user (%(importance)s): never tripped automatically.") % {
            "importance": customer.get_importance_display()
        }
    if not customer.remote_control_agreement:
        return _("No signed remote-control agreement on file.")
    if has_switch is None:
        has_switch = remote_switch_meters(customer).exists()
    if not has_switch:
        return _("No remote-switch meter in service.")
    return None


def _refuse_unapproved_trip(customer: Customer, fields: dict) -> None:
    """The rule every writer of a command row goes through: an important user's trip that may
    reach the terminal needs a manager's approval."""
    if (
        fields["action"] == TRIP
        and fields["status"] in ISSUED
        and customer.is_important
        and fields.get("approved_by") is None
    ):
        raise PermissionDenied(_("An important user is never tripped without a manager's approval."))


def _command_create(*, customer: Customer, **fields) -> tuple[ControlCommand, bool]:
    """Write one command row. Returns (command, created); a used dedupe_key returns the
    existing command (a re-run writes nothing)."""
    _refuse_unapproved_trip(customer, fields)
    key = fields.get("dedupe_key")
    if key:
        existing = ControlCommand.objects.filter(dedupe_key=key).first()
        if existing is not None:
            return existing, False
    try:
        with transaction.atomic():
            return ControlCommand.objects.create(customer=customer, **fields), True
    except IntegrityError:
        if not key:
            raise
        return ControlCommand.objects.get(dedupe_key=key), False


class _Leaders:
    """The area's leader and the leaders of the regions above it (领导包片), from one read of
    the (small) region tree."""

    def __init__(self):
        self.regions = {r.pk: r for r in Region.objects.select_related("leader")}

    def of(self, customer: Customer) -> list[User]:
        leaders, region_id, seen = [], customer.region_id, set()
        while region_id is not None and region_id not in seen:
            seen.add(region_id)
            region = self.regions.get(region_id)
            if region is None:
                break
            if region.leader_id:
                leaders.append(region.leader)
            region_id = region.parent_id
        return leaders


def _managers() -> list[User]:
    return list(User.objects.filter(is_active=True, groups__name=Role.MANAGER).exclude(email="").distinct())


def _staff_messages(*, customer: Customer, users: list[User], kind: str, subject: str, body: str, key: str):
    return [
        Notification(
            customer=customer,
            staff=target.staff,
            channel=target.channel,
            recipient=target.recipient,
            kind=kind,
            subject=subject,
            body=body,
            dedupe_key=f"{key}:staff:{target.staff.pk}",
        )
        for target in staff_email_targets(users)
    ]


def _escalation_message(customer: Customer, reason: str, detail: str) -> tuple[str, str]:
    with in_message_language():
        subject = _("Not tripped, needs your attention: %(account)s %(name)s") % {
            "account": customer.account_no,
            "name": customer.name,
        }
        body = _(
            "%(name)s (account %(account)s) would be tripped now, but no command was sent: %(reason)s "
            "%(detail)sPlease arrange collection in person."
        ) % {
            "name": customer.name,
            "account": customer.account_no,
            "reason": reason,
            "detail": f"{detail} " if detail else "",
        }
    return subject, body


@dataclass(frozen=True)
class TripRequest:
    """A trip the rules call for: the customer, why, the key that makes it once-only, and a
    detail for the staff e-mail if it is escalated (e.g. the balance)."""

    customer: Customer
    reason: str
    dedupe_key: str
    detail: str = ""


def control_trips_automatic(*, requests: list[TripRequest], origin: str) -> dict[int, str]:
    """Trips the rules call for (prepaid balances run out), set-based for the daily job: a
    pending command where the customer may be tripped remotely, else an escalation that says
    why not, mailed to the area's leaders and all managers. A request whose dedupe_key was
    used before writes nothing. Returns the status per customer id."""
    if not requests:
        return {}
    ids = [r.customer.pk for r in requests]
    switchable = set(
        MeterPoint.objects.filter(customer_id__in=ids, active=True, remote_switch=True).values_list(
            "customer_id", flat=True
        )
    )
    existing = dict(
        ControlCommand.objects.filter(dedupe_key__in=[r.dedupe_key for r in requests]).values_list(
            "dedupe_key", "status"
        )
    )
    statuses: dict[int, str] = {}
    rows: list[ControlCommand] = []
    escalated: list[tuple[TripRequest, str]] = []
    for request in requests:
        customer = request.customer
        if request.dedupe_key in existing:
            statuses[customer.pk] = existing[request.dedupe_key]
            continue
        blocker = automatic_trip_blocker(customer, has_switch=customer.pk in switchable)
        fields = {
            "action": TRIP,
            "origin": origin,
            "status": S.ESCALATED if blocker else S.PENDING,
            "reason": (blocker or request.reason)[:300],
            "dedupe_key": request.dedupe_key,
        }
        _refuse_unapproved_trip(customer, fields)
        rows.append(ControlCommand(customer=customer, **fields))
        statuses[customer.pk] = fields["status"]
        if blocker:
            escalated.append((request, blocker))
    # ignore_conflicts: a concurrent writer of the same key wins quietly (it wrote the same thing).
    ControlCommand.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
    if escalated:
        leaders, managers, messages = _Leaders(), _managers(), []
        for request, blocker in escalated:
            subject, body = _escalation_message(request.customer, blocker, request.detail)
            messages += _staff_messages(
                customer=request.customer,
                users=leaders.of(request.customer) + managers,
                kind="control_escalation",
                subject=subject,
                body=body,
                key=f"{request.dedupe_key}:escalation",
            )
        notifications_queue_many(messages)
    return statuses


def control_trip_automatic(
    *, customer: Customer, origin: str, reason: str, dedupe_key: str, detail: str = ""
) -> ControlCommand:
    """One trip the rules call for (see control_trips_automatic)."""
    control_trips_automatic(
        requests=[TripRequest(customer=customer, reason=reason, dedupe_key=dedupe_key, detail=detail)], origin=origin
    )
    return ControlCommand.objects.get(dedupe_key=dedupe_key)


def control_restore_after_credit(
    *, customer: Customer, origin: str, reason: str, dedupe_key: str
) -> ControlCommand | None:
    """The cause of a trip is cleared (the balance is above zero again). Trips not yet sent are
    cancelled; if a trip has reached, or may have reached, the terminal and no restore has
    followed it, a restore is issued. The caller holds the customer's or account's lock."""
    unsent = ControlCommand.objects.filter(customer=customer, action=TRIP, status__in=UNSENT)
    unsent.filter(status=S.AWAITING_APPROVAL).update(
        status=S.CANCELLED, next_attempt_at=None, approval_reason=_("Cleared by payment before approval.")
    )
    unsent.update(status=S.CANCELLED, next_attempt_at=None, last_error=_("Cleared by payment before it was sent."))
    last_restore = (
        ControlCommand.objects.filter(customer=customer, action=RESTORE, status__in=ISSUED).order_by("-pk").first()
    )
    trips = ControlCommand.objects.filter(customer=customer, action=TRIP).filter(
        # sent or in flight, or tried at least once (a timeout may still have switched it)
        Q(status__in=(S.SENDING, S.SENT, S.ACKNOWLEDGED))
        | Q(status__in=(S.FAILED, S.GAVE_UP, S.CANCELLED), attempts__gt=0)
    )
    if last_restore is not None:
        trips = trips.filter(pk__gt=last_restore.pk)
    if not trips.exists():
        return None
    command, _created = _command_create(
        customer=customer,
        action=RESTORE,
        origin=origin,
        status=S.PENDING,
        reason=reason[:300],
        dedupe_key=dedupe_key,
    )
    return command


@transaction.atomic
def control_request(
    *, customer: Customer, action: str, reason: str, requested_by: User, meter: MeterPoint | None = None
) -> ControlCommand:
    """A manual trip or restore. A trip of an important user waits for a manager's approval;
    any other request by a manager or area leader goes out directly."""
    if not can_request_control(requested_by):
        raise PermissionDenied(_("Only managers and area leaders may request a trip or a restore."))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Give the reason for the command.")})
    if action not in ControlActionChoices.values:
        raise ValidationError({"action": _("Unknown action %(action)s.") % {"action": action}})
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    switches = remote_switch_meters(customer)
    if meter is not None and not switches.filter(pk=meter.pk).exists():
        raise ValidationError({"meter": _("This meter is not a remote-switch meter of the customer in service.")})
    if not switches.exists():
        raise ValidationError({"customer": _("The customer has no remote-switch meter in service; use a field order.")})
    if action == TRIP:
        if not customer.remote_control_agreement:
            raise ValidationError(
                {"customer": _("No signed remote-control agreement: the supply cannot be tripped remotely.")}
            )
        if ControlCommand.objects.filter(
            customer=customer, action=TRIP, status__in=(*UNSENT, S.SENDING)
        ).exists():  # fmt: skip
            raise ValidationError({"customer": _("A trip of this customer is already waiting or on its way.")})
        status = S.AWAITING_APPROVAL if customer.is_important else S.PENDING
    else:
        # A restore supersedes trips not yet sent: they must never arrive after it.
        ControlCommand.objects.filter(customer=customer, action=TRIP, status__in=UNSENT, attempts=0).update(
            status=S.CANCELLED, next_attempt_at=None, last_error=_("Superseded by a manual restore.")
        )
        status = S.PENDING
    command, _created = _command_create(
        customer=customer,
        action=action,
        origin=ControlOriginChoices.MANUAL,
        status=status,
        reason=reason[:300],
        meter=meter,
        requested_by=requested_by,
    )
    if status == S.AWAITING_APPROVAL:
        with in_message_language():
            subject = _("Trip awaiting your approval: %(account)s %(name)s") % {
                "account": customer.account_no,
                "name": customer.name,
            }
            body = _(
                "%(user)s asks to trip %(name)s (account %(account)s, %(importance)s): %(reason)s "
                "An important user's trip needs a manager's approval with a reason."
            ) % {
                "user": requested_by.get_username(),
                "name": customer.name,
                "account": customer.account_no,
                "importance": customer.get_importance_display(),
                "reason": reason,
            }
        managers = [m for m in _managers() if m.pk != requested_by.pk]
        notifications_queue_many(
            _staff_messages(
                customer=customer,
                users=managers,
                kind="control_approval",
                subject=subject,
                body=body,
                key=f"control:{command.pk}:approval",
            )
        )
    return command


@transaction.atomic
def control_approve(*, command: ControlCommand, approved_by: User, reason: str) -> ControlCommand:
    """A manager's approval of a trip that waits for one (important users): with a reason,
    and never by the person who asked for it."""
    if not can_approve_control(approved_by):
        raise PermissionDenied(_("Only a manager may approve this command."))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Give the reason for the approval.")})
    if command.requested_by_id is not None and command.requested_by_id == approved_by.pk:
        raise PermissionDenied(_("The approver must be someone other than the requester."))
    approved = ControlCommand.objects.filter(pk=command.pk, status=S.AWAITING_APPROVAL).update(
        status=S.PENDING, approved_by=approved_by, approval_reason=reason[:300], next_attempt_at=None
    )
    if not approved:
        raise ValidationError({"status": _("This command is not awaiting approval.")})
    return ControlCommand.objects.get(pk=command.pk)


@transaction.atomic
def control_reject(*, command: ControlCommand, rejected_by: User, reason: str) -> ControlCommand:
    """A manager declines a trip that waits for approval; it is cancelled, with the reason."""
    if not can_approve_control(rejected_by):
        raise PermissionDenied(_("Only a manager may decide on this command."))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Give the reason for declining.")})
    note = _("Declined by %(user)s: %(reason)s") % {"user": rejected_by.get_username(), "reason": reason}
    declined = ControlCommand.objects.filter(pk=command.pk, status=S.AWAITING_APPROVAL).update(
        status=S.CANCELLED, approval_reason=note[:300], next_attempt_at=None
    )
    if not declined:
        raise ValidationError({"status": _("This command is not awaiting approval.")})
    return ControlCommand.objects.get(pk=command.pk)


@transaction.atomic
def control_retry(*, command: ControlCommand, retried_by: User) -> ControlCommand:
    """Give a command that gave up a fresh set of attempts (after the terminal was repaired)."""
    if not can_approve_control(retried_by):
        raise PermissionDenied(_("Only a manager may send a command again."))
    retried = ControlCommand.objects.filter(pk=command.pk, status=S.GAVE_UP).update(
        status=S.PENDING, attempts=0, next_attempt_at=None
    )
    if not retried:
        raise ValidationError({"status": _("Only a command that gave up can be sent again.")})
    return ControlCommand.objects.get(pk=command.pk)


def control_acknowledge(*, command: ControlCommand, gateway_ref: str = "") -> ControlCommand:
    """The terminal confirmed the switching (head-end callback or a field check). Idempotent:
    a second acknowledgement changes nothing."""
    if command.status == S.ACKNOWLEDGED:
        return command
    now = timezone.now()
    changes = {"status": S.ACKNOWLEDGED, "acknowledged_at": now, "sent_at": Coalesce(F("sent_at"), now)}
    changes["next_attempt_at"] = None
    acknowledged = ControlCommand.objects.filter(
        pk=command.pk, status__in=(S.SENDING, S.SENT, S.FAILED, S.GAVE_UP)
    ).update(**changes)
    if not acknowledged:
        command.refresh_from_db()
        if command.status == S.ACKNOWLEDGED:
            return command
        raise ValidationError(
            {"status": _("A command that is %(status)s cannot be acknowledged.") % {"status": command.status}}
        )
    if gateway_ref:
        ControlCommand.objects.filter(pk=command.pk, gateway_ref="").update(gateway_ref=gateway_ref[:100])
    return ControlCommand.objects.get(pk=command.pk)


# ---------------------------------------------------------------------------------------------
# Delivery
# ---------------------------------------------------------------------------------------------
def _due(now: dt.datetime) -> Q:
    return Q(status__in=RETRYABLE) & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))


def _gave_up(command: ControlCommand, error: str) -> None:
    """Tell the area's leaders and the managers: a command that gave up needs people (a field
    visit), and a restore that gave up leaves a paying customer without supply."""
    customer = command.customer
    with in_message_language():
        subject = _("Control command failed: %(action)s %(account)s") % {
            "action": command.get_action_display(),
            "account": customer.account_no,
        }
        body = _(
            "The %(action)s command #%(id)s for %(name)s (account %(account)s) could not be delivered after "
            "%(attempts)s attempts: %(error)s Please check the terminal or send a field crew."
        ) % {
            "action": command.get_action_display(),
            "id": command.pk,
            "name": customer.name,
            "account": customer.account_no,
            "attempts": command.attempts,
            "error": error,
        }
    notifications_queue_many(
        _staff_messages(
            customer=customer,
            users=_Leaders().of(customer) + _managers(),
            kind="control_gave_up",
            subject=subject,
            body=body,
            key=f"control:{command.pk}:gave_up:{command.attempts}",
        )
    )


def _record_failure(ours, command: ControlCommand, error: str, *, retryable: bool, now: dt.datetime) -> str:
    error = (error or "error")[:500]
    if retryable and command.attempts < max_attempts():
        ours.update(status=S.FAILED, next_attempt_at=now + retry_delay(command.attempts), last_error=error)
        return "retry"
    if ours.update(status=S.GAVE_UP, next_attempt_at=None, last_error=error):
        _gave_up(command, error)
    return "gave_up"


def control_send(*, command_id: int, now: dt.datetime | None = None) -> str:
    """Send one due command if this caller wins the claim. Returns "sent", "acknowledged",
    "retry", "gave_up" or "skipped" (not due, or another worker has it)."""
    now = now or timezone.now()
    claimed = (
        ControlCommand.objects.filter(_due(now), pk=command_id).update(
            status=S.SENDING, attempts=F("attempts") + 1, next_attempt_at=now + STUCK_AFTER
        )
        == 1
    )
    if not claimed:
        return "skipped"
    command = ControlCommand.objects.select_related("customer").get(pk=command_id)
    # Results are written only while the row is still ours (same status and attempt).
    ours = ControlCommand.objects.filter(pk=command.pk, status=S.SENDING, attempts=command.attempts)
    if command.action == TRIP and command.customer.is_important and command.approved_by_id is None:
        # Last line of defence: the customer became important after the command was written.
        ours.update(status=S.CANCELLED, next_attempt_at=None, last_error=_("Important user: needs approval."))
        return "skipped"
    try:
        result = gateway_get().send(command)
    except GatewayError as exc:
        return _record_failure(ours, command, str(exc), retryable=exc.retryable, now=now)
    except Exception as exc:  # a gateway bug is a failed attempt, never a lost command
        logger.exception("control command %s: gateway error", command.pk)
        return _record_failure(ours, command, f"{exc.__class__.__name__}: {exc}", retryable=True, now=now)
    sent_at = timezone.now()
    if result.acknowledged:
        ours.update(
            status=S.ACKNOWLEDGED, sent_at=sent_at, acknowledged_at=sent_at, gateway_ref=result.ref[:100],
            next_attempt_at=None, last_error="",
        )  # fmt: skip
        return "acknowledged"
    if not ours.update(status=S.SENT, sent_at=sent_at, gateway_ref=result.ref[:100], next_attempt_at=None):
        # Acknowledged by a callback while we were waiting for the answer: keep the reference.
        ControlCommand.objects.filter(pk=command.pk, gateway_ref="").update(gateway_ref=result.ref[:100])
    return "sent"


def control_reap_stuck(*, now: dt.datetime | None = None) -> int:
    """Commands a dead worker left in `sending` past their stuck time become retryable (or
    give up when their attempts are used). The terminal de-duplicates by command id."""
    now = now or timezone.now()
    stuck = ControlCommand.objects.filter(status=S.SENDING, next_attempt_at__lte=now)
    note = _("The sender stopped while sending; sent again (the terminal ignores a repeated command id).")
    given_up = list(stuck.filter(attempts__gte=max_attempts()).select_related("customer"))
    for command in given_up:
        if ControlCommand.objects.filter(pk=command.pk, status=S.SENDING, attempts=command.attempts).update(
            status=S.GAVE_UP, next_attempt_at=None, last_error=note
        ):
            _gave_up(command, note)
    return len(given_up) + stuck.filter(attempts__lt=max_attempts()).update(
        status=S.FAILED, next_attempt_at=now, last_error=note
    )


def _cancel_superseded() -> int:
    """Unsent commands with a newer issued command of the other action for the same customer
    are cancelled: a retried old trip must never land after the restore that followed it."""
    newer = ControlCommand.objects.filter(customer=OuterRef("customer"), pk__gt=OuterRef("pk"), status__in=ISSUED)
    ids = list(
        ControlCommand.objects.filter(status__in=RETRYABLE)
        .filter(Exists(newer.exclude(action=OuterRef("action"))))
        .values_list("pk", flat=True)
    )
    if not ids:
        return 0
    return ControlCommand.objects.filter(pk__in=ids, status__in=RETRYABLE).update(
        status=S.CANCELLED, next_attempt_at=None, last_error=_("Superseded by a newer command.")
    )


def control_poll_sent(*, now: dt.datetime | None = None) -> int:
    """Ask the gateway about commands sent but not yet acknowledged. Returns how many changed."""
    now = now or timezone.now()
    changed = 0
    gateway = gateway_get()
    for command in ControlCommand.objects.filter(status=S.SENT).select_related("customer")[:BATCH]:
        try:
            result = gateway.poll(command)
        except GatewayError as exc:
            logger.warning("control command %s: poll failed: %s", command.pk, exc)
            continue
        ours = ControlCommand.objects.filter(pk=command.pk, status=S.SENT)
        if result.status == "acknowledged":
            changed += ours.update(status=S.ACKNOWLEDGED, acknowledged_at=now)
        elif result.status == "failed":
            error = result.error or _("The terminal did not execute it.")
            _record_failure(ours, command, error, retryable=True, now=now)
            changed += 1
    return changed


@dataclass
class ControlSendResult:
    reaped: int = 0
    superseded: int = 0
    polled: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    def count(self, outcome: str) -> int:
        return self.outcomes.get(outcome, 0)


def control_send_due(*, now: dt.datetime | None = None) -> ControlSendResult:
    """One round of delivery: reap stuck rows, cancel superseded ones, poll sent ones, then
    send what is due, oldest first, skipping customers with an older command in flight."""
    now = now or timezone.now()
    result = ControlSendResult(
        reaped=control_reap_stuck(now=now), superseded=_cancel_superseded(), polled=control_poll_sent(now=now)
    )
    in_flight = ControlCommand.objects.filter(customer=OuterRef("customer"), pk__lt=OuterRef("pk"), status=S.SENDING)
    due = (
        ControlCommand.objects.filter(_due(now))
        .exclude(Exists(in_flight))
        .order_by("pk")
        .values_list("pk", flat=True)[:BATCH]
    )
    for command_id in list(due):
        outcome = control_send(command_id=command_id, now=now)
        result.outcomes[outcome] = result.outcomes.get(outcome, 0) + 1
    return result


@transaction.atomic
def control_trip_for_cutoff(*, customer: Customer, reason: str, dedupe_key: str) -> ControlCommand:
    """The remote trip of a cut-off order that passed its legal gate (collections checks the
    gate). Never for an important user: their supply is cut by a field crew, if ever."""
    if customer.is_important:
        raise PermissionDenied(_("An important user is never tripped remotely; use a field order."))
    command, _created = _command_create(
        customer=customer,
        action=TRIP,
        origin=ControlOriginChoices.CUTOFF,
        status=S.PENDING,
        reason=reason[:300],
        dedupe_key=dedupe_key,
    )
    return command
