"""The dunning run (DESIGN.md rule 3): propose, then send the levels that need no approval.

Set-based: one query finds every customer's overdue bills with their balances; the
customer's *episode* is its oldest overdue bill. Each run moves a customer at most one step
up the ladder, to the first level of its policy not yet noticed for this episode whose
days-overdue threshold is met — so a demand always follows a reminder, and a suspension
notice a served demand. Proposals whose customer has paid meanwhile are cancelled.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from billing.models import Bill, Guarantee, Payment
from billing.selectors import bills_with_balances, overdue_bills_by_customer
from core.formatting import money
from core.permissions import can_lead
from core.roles import Role, user_roles
from customers.models import Customer, Notification
from customers.notifications import (
    in_message_language,
    message_language,
    notice_targets,
    notifications_queue_many,
    quiet_hours_end,
    staff_email_targets,
)

from .choices import (
    ActivityKindChoices,
    ActivityOutcomeChoices,
    ArrangementStatusChoices,
    CollectionCaseStatusChoices,
    DunningNoticeStatusChoices,
    PromiseStatusChoices,
)
from .models import (
    Activity,
    ArrangementInstalment,
    CollectionCase,
    DunningLevel,
    DunningNotice,
    DunningPolicy,
    PaymentArrangement,
    PromiseToPay,
)

ZERO = Decimal("0")
ACTIVE = [DunningNoticeStatusChoices.PROPOSED, DunningNoticeStatusChoices.SENT]


@dataclass
class DunningRunResult:
    day: dt.date
    customers_overdue: int = 0
    proposed: int = 0
    sent: int = 0
    cancelled: int = 0
    cases_opened: int = 0
    cases_closed: int = 0


class _Values(dict):
    """Unknown placeholders stay as written instead of failing the whole run."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


@dataclass
class NoticeText:
    subject: str
    body: str  # e-mail (and the notice's record)
    short: str  # SMS and WeChat


def _render(level: DunningLevel, customer: Customer, bills: list[Bill], days: int) -> NoticeText:
    """The level's texts in the message language, with the amounts filled in."""
    amount = sum((b.principal_due + b.penalty_due for b in bills), ZERO)
    penalty = sum((b.penalty_due for b in bills), ZERO)
    listed = ", ".join(f"{b.period} {money(b.principal_due + b.penalty_due)}" for b in bills)
    values = _Values(
        name=customer.name,
        account=customer.account_no,
        amount=money(amount),
        penalty=money(penalty),
        bills=listed,
        days=days,
        channels=_("bank transfer, online banking, mobile payment or at our service counters"),
    )
    chinese = message_language().startswith("zh")
    subject = level.subject_zh if chinese else level.subject_en
    body = (level.template_zh if chinese else level.template_en).format_map(values)
    short = (level.short_zh if chinese else level.short_en).format_map(values) or body
    return NoticeText(subject, body, short)


def _send(notice: DunningNotice, customer: Customer, text: NoticeText, targets) -> None:
    _send_many([(notice, customer, text, targets)])


def _send_many(batch: list[tuple[DunningNotice, Customer, NoticeText, list]]) -> None:
    """Queue the messages of saved, proposed notices and mark the notices sent.

    A fixed number of queries however many notices: the dunning run sends thousands at once,
    and five queries per notice (plus its history) made the run grow with the portfolio."""
    if not batch:
        return
    send_after = quiet_hours_end()  # customer messages wait for the morning
    rows = []
    for notice, customer, text, targets in batch:
        allowed = {c.strip() for c in notice.level.channels.split(",")}
        rows += [
            Notification(
                customer=customer,
                contact=target.contact,
                channel=target.channel,
                recipient=target.recipient,
                kind=f"dunning_{notice.level.code}",
                subject=text.subject,
                body=text.body if target.channel == "email" else text.short,
                dedupe_key=f"dunning:{notice.pk}:{target.contact.pk}",
                next_attempt_at=send_after,
            )
            for target in targets
            if target.channel in allowed
        ]
    notifications_queue_many(rows)
    # Each notice is linked to the messages under its keys, those queued now and those a key
    # already named (skipped above as duplicates). Only this function writes `dunning:<notice>:`
    # keys, and only for a notice not yet sent, so these are all the messages with its prefix.
    Link = DunningNotice.notifications.through
    queued = Notification.objects.filter(dedupe_key__in=[row.dedupe_key for row in rows])
    Link.objects.bulk_create(
        [
            Link(dunningnotice_id=int(key.split(":")[1]), notification_id=pk)
            for pk, key in queued.values_list("pk", "dedupe_key")
        ],
        ignore_conflicts=True,
    )
    now = timezone.now()
    notices = [notice for notice, _customer, _text, _targets in batch]
    for notice in notices:
        notice.status = DunningNoticeStatusChoices.SENT
        notice.sent_at = now
    # One UPDATE instead of a save() each, so the audit history (a save() writes it through
    # simple_history's post_save) is written here, as the same "changed" rows.
    DunningNotice.objects.filter(pk__in=[n.pk for n in notices]).update(
        status=DunningNoticeStatusChoices.SENT, sent_at=now
    )
    DunningNotice.history.bulk_history_create(notices, update=True, default_change_reason=None)


def policies_for(customers: dict[int, Customer]) -> dict[int, DunningPolicy]:
    """Each customer's dunning policy: the first active policy (by priority) whose segment it
    belongs to, else the default one. Customers without either are left out."""
    policies = list(DunningPolicy.objects.filter(active=True).prefetch_related("levels").order_by("priority", "code"))
    default = next((p for p in policies if p.is_default), None)
    special = [p for p in policies if not p.is_default]
    chosen: dict[int, DunningPolicy] = {}
    for customer_id, customer in customers.items():
        policy = next((p for p in special if p.fits(customer)), default)
        if policy is not None:
            chosen[customer_id] = policy
    return chosen


@transaction.atomic
def dunning_run(*, day: dt.date | None = None) -> DunningRunResult:
    """Safe to run twice for a day: a level already noticed for the episode is never proposed again."""
    day = day or timezone.localdate()
    result = DunningRunResult(day=day)
    overdue = overdue_bills_by_customer(day)
    result.customers_overdue = len(overdue)
    # Paid meanwhile: pending proposals of customers no longer overdue are cancelled, open
    # cases closed.
    result.cancelled = (
        DunningNotice.objects.filter(status=DunningNoticeStatusChoices.PROPOSED)
        .exclude(customer_id__in=list(overdue))
        .update(status=DunningNoticeStatusChoices.CANCELLED, decided_at=timezone.now())
    )
    result.cases_closed = (
        CollectionCase.objects.filter(status=CollectionCaseStatusChoices.OPEN)
        .exclude(customer_id__in=list(overdue))
        .update(status=CollectionCaseStatusChoices.CLOSED, closed_on=day)
    )

    noticed: dict[tuple[int, int], set[int]] = defaultdict(set)
    # A level declined by a leader counts as done for the episode: it is not proposed again.
    decided = [*ACTIVE, DunningNoticeStatusChoices.REJECTED]
    for customer_id, episode_id, level_id in DunningNotice.objects.filter(
        customer_id__in=list(overdue), status__in=decided
    ).values_list("customer_id", "episode_bill_id", "level_id"):
        noticed[customer_id, episode_id].add(level_id)
    open_cases = set(
        CollectionCase.objects.filter(status=CollectionCaseStatusChoices.OPEN).values_list("customer_id", flat=True)
    )
    # A kept arrangement suspends dunning: its customer owes by the agreed schedule instead.
    arranged = set(
        PaymentArrangement.objects.filter(
            status=ArrangementStatusChoices.ACTIVE, customer_id__in=list(overdue)
        ).values_list("customer_id", flat=True)
    )
    customers = Customer.objects.in_bulk(list(overdue))
    policies = policies_for(customers)
    targets = notice_targets(list(overdue))
    # Cases and notices are collected and written in bulk after the loop: statements per
    # customer made the run grow with the portfolio (40,410 statements and 56 s for 10,000
    # customers, docs/BENCHMARKS.md section 9). Nothing in the loop reads what an earlier
    # iteration wrote, so the order of the writes does not matter.
    cases: list[CollectionCase] = []
    proposals: list[tuple[DunningNotice, Customer, NoticeText]] = []
    with in_message_language():
        for customer_id, bills in overdue.items():
            if customer_id not in policies:
                continue
            levels = sorted(policies[customer_id].levels.all(), key=lambda lv: lv.step)
            episode = bills[0]
            days = (day - episode.due_on).days
            if len(levels) > 1 and days >= levels[1].days_overdue and customer_id not in open_cases:
                arrears = sum((b.principal_due + b.penalty_due for b in bills), ZERO)
                cases.append(CollectionCase(customer_id=customer_id, opened_on=day, arrears_at_opening=arrears))
            if customer_id in arranged:
                continue
            done = noticed.get((customer_id, episode.pk), set())
            level = next((lv for lv in levels if lv.pk not in done), None)
            if level is None or days < level.days_overdue:
                continue
            customer = customers[customer_id]
            text = _render(level, customer, bills, days)
            notice = DunningNotice(
                customer=customer,
                level=level,
                episode_bill=episode,
                status=DunningNoticeStatusChoices.PROPOSED,
                proposed_on=day,
                overdue_days=days,
                amount_due=sum((b.principal_due + b.penalty_due for b in bills), ZERO),
                bills=[
                    {
                        "number": b.number,
                        "period": b.period,
                        "principal_due": str(b.principal_due),
                        "penalty_due": str(b.penalty_due),
                    }
                    for b in bills
                ],  # fmt: skip
                text=text.body,
            )
            proposals.append((notice, customer, text))
        CollectionCase.objects.bulk_create(cases)
        result.cases_opened = len(cases)
        notices = DunningNotice.objects.bulk_create([notice for notice, _customer, _text in proposals])
        # bulk_create skips the post_save that writes a created notice's audit history.
        DunningNotice.history.bulk_history_create(notices, default_change_reason=None)
        result.proposed = len(notices)
        sending = [
            (notice, customer, text, targets.get(customer.pk, []))
            for notice, customer, text in proposals
            if not notice.level.needs_approval
        ]
        _send_many(sending)
        result.sent = len(sending)
    return result


@transaction.atomic
def dunning_notice_approve(*, notice: DunningNotice, approved_by: User) -> DunningNotice:
    """A leader (or manager) approves a proposed notice, which is sent at once."""
    if not ({Role.AREA_LEADER, Role.MANAGER} & user_roles(approved_by)) and not approved_by.is_superuser:
        raise PermissionDenied(_("Only an area leader or a manager may approve a notice."))
    notice = DunningNotice.objects.select_for_update().select_related("level", "customer").get(pk=notice.pk)
    if notice.status != DunningNoticeStatusChoices.PROPOSED:
        raise ValidationError(_("Only a proposed notice can be approved."))
    overdue = overdue_bills_by_customer(timezone.localdate()).get(notice.customer_id)
    if not overdue:
        notice.status = DunningNoticeStatusChoices.CANCELLED
        notice.decided_at = timezone.now()
        notice.save(update_fields=["status", "decided_at"])
        raise ValidationError(_("The customer has paid meanwhile; the notice was cancelled."))
    notice.approved_by = approved_by
    notice.decided_at = timezone.now()
    notice.save(update_fields=["approved_by", "decided_at"])
    with in_message_language():
        text = _render(notice.level, notice.customer, overdue, notice.overdue_days)
    _send(notice, notice.customer, text, notice_targets([notice.customer_id]).get(notice.customer_id, []))
    return notice


def _open_case(customer: Customer) -> CollectionCase | None:
    return CollectionCase.objects.filter(customer=customer, status=CollectionCaseStatusChoices.OPEN).first()


@transaction.atomic
def activity_log(
    *, customer: Customer, kind: str, by: User, outcome: str = "", note: str = "", happened_at=None
) -> Activity:
    if kind not in ActivityKindChoices.values:
        raise ValidationError({"kind": _("Unknown kind of activity.")})
    if outcome and outcome not in ActivityOutcomeChoices.values:
        raise ValidationError({"outcome": _("Unknown outcome.")})
    happened_at = happened_at or timezone.now()
    if happened_at > timezone.now() + dt.timedelta(minutes=5):
        raise ValidationError({"happened_at": _("An activity cannot be in the future.")})
    return Activity.objects.create(
        customer=customer,
        case=_open_case(customer),
        kind=kind,
        outcome=outcome,
        note=note.strip(),
        happened_at=happened_at,
        by=by,
    )


@transaction.atomic
def promise_record(*, customer: Customer, promised_on: dt.date, amount: Decimal, created_by: User) -> PromiseToPay:
    """Record a promise to pay; it is kept or broken by `promises_check` from the payments."""
    today = timezone.localdate()
    if promised_on < today:
        raise ValidationError({"promised_on": _("A promise is for today or a later day.")})
    if not isinstance(amount, Decimal) or amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        raise ValidationError({"amount": _("Enter a positive amount in yuan with at most 2 decimals.")})
    promise = PromiseToPay.objects.create(
        customer=customer,
        case=_open_case(customer),
        promised_on=promised_on,
        amount=amount,
        made_on=today,
        created_by=created_by,
    )
    Activity.objects.create(
        customer=customer,
        case=promise.case,
        kind=ActivityKindChoices.NOTE,
        outcome=ActivityOutcomeChoices.PROMISED,
        note=_("Promised %(amount)s by %(date)s") % {"amount": money(amount), "date": promised_on},
        happened_at=timezone.now(),
        by=created_by,
    )
    return promise


@transaction.atomic
def promises_check(*, day: dt.date | None = None) -> tuple[int, int]:
    """Mark open promises kept (paid in full between the promise and its date) or broken (its
    date has passed without that). Returns (kept, broken). Idempotent: only open ones change."""
    day = day or timezone.localdate()
    kept = broken = 0
    for promise in PromiseToPay.objects.filter(status=PromiseStatusChoices.OPEN, made_on__lte=day):
        until = min(promise.promised_on, day)
        paid = (
            Payment.objects.filter(
                customer_id=promise.customer_id,
                status="posted",
                received_at__date__gte=promise.made_on,
                received_at__date__lte=until,
            ).aggregate(total=Sum("amount"))["total"]
            or ZERO
        )
        if paid >= promise.amount:
            promise.status, promise.resolved_on = PromiseStatusChoices.KEPT, until
            kept += 1
        elif promise.promised_on < day:
            promise.status, promise.resolved_on = (
                PromiseStatusChoices.BROKEN,
                promise.promised_on + dt.timedelta(days=1),
            )
            broken += 1
        else:
            continue
        promise.save(update_fields=["status", "resolved_on"])
    return kept, broken


@transaction.atomic
def dunning_notice_reject(*, notice: DunningNotice, rejected_by: User) -> DunningNotice:
    """A leader declines a proposed notice (e.g. an agreement is being negotiated)."""
    if not ({Role.AREA_LEADER, Role.MANAGER} & user_roles(rejected_by)) and not rejected_by.is_superuser:
        raise PermissionDenied(_("Only an area leader or a manager may decline a notice."))
    notice = DunningNotice.objects.select_for_update().get(pk=notice.pk)
    if notice.status != DunningNoticeStatusChoices.PROPOSED:
        raise ValidationError(_("Only a proposed notice can be declined."))
    notice.status = DunningNoticeStatusChoices.REJECTED
    notice.approved_by = rejected_by
    notice.decided_at = timezone.now()
    notice.save(update_fields=["status", "approved_by", "decided_at"])
    return notice


GUARANTEE_WARNING_DAYS = (30, 7)


@transaction.atomic
def guarantee_record(*, data: dict, recorded_by: User | None = None) -> Guarantee:
    """Record a guarantee, deposit or letter of credit held against a customer's bills."""
    guarantee = Guarantee(**data)
    guarantee._history_user = recorded_by
    guarantee.full_clean()
    guarantee.save()
    return guarantee


@transaction.atomic
def guarantees_expiry_warn(*, day: dt.date | None = None) -> int:
    """E-mail the collector and the area leader(s) when a guarantee is 30 and 7 days from its
    end. Idempotent: one message per guarantee, threshold and person (dedupe key)."""
    day = day or timezone.localdate()
    rows: list[Notification] = []
    for days in GUARANTEE_WARNING_DAYS:
        expiring = Guarantee.objects.filter(
            valid_to=day + dt.timedelta(days=days), released_on__isnull=True
        ).select_related("customer__collector", "customer__region__leader")
        for guarantee in expiring:
            customer = guarantee.customer
            staff = [customer.collector, customer.region.leader]
            body = _("%(kind)s of %(amount)s for %(name)s (%(account)s) ends on %(date)s, in %(days)d days.") % {
                "kind": guarantee.get_kind_display(),
                "amount": money(guarantee.amount),
                "name": customer.name,
                "account": customer.account_no,
                "date": guarantee.valid_to,
                "days": days,
            }
            for target in staff_email_targets(user for user in staff if user is not None):
                rows.append(
                    Notification(
                        customer=customer,
                        staff=target.staff,
                        channel=target.channel,
                        recipient=target.recipient,
                        kind="guarantee_expiring",
                        subject=_("Guarantee expiring in %(days)d days") % {"days": days},
                        body=body,
                        dedupe_key=f"guarantee:{guarantee.pk}:{days}:{target.staff.pk}",
                    )
                )
    return notifications_queue_many(rows)


@transaction.atomic
def arrangement_create(
    *, customer: Customer, schedule: list[tuple[dt.date, Decimal]], created_by: User
) -> PaymentArrangement:
    """Sign an instalment agreement for what the customer owes today (principal and penalty of
    its unpaid bills). The schedule must cover that amount exactly, in dated steps from today."""
    if not ({Role.AREA_LEADER, Role.MANAGER} & user_roles(created_by)) and not created_by.is_superuser:
        raise PermissionDenied(_("Only an area leader or a manager signs an arrangement."))
    Customer.objects.select_for_update().filter(pk=customer.pk).first()  # one signing at a time per customer
    today = timezone.localdate()
    if not schedule:
        raise ValidationError({"instalments": _("An arrangement needs at least one instalment.")})
    dates = [day for day, _amount in schedule]
    if dates != sorted(dates) or len(set(dates)) != len(dates) or dates[0] < today:
        raise ValidationError({"instalments": _("Instalment dates run from today onwards, each later than the last.")})
    for _day, amount in schedule:
        if amount <= 0 or amount != amount.quantize(Decimal("0.01")):
            raise ValidationError({"instalments": _("Each instalment is a positive amount with at most 2 decimals.")})
    owed = sum(
        (b.principal_due + b.penalty_due for b in bills_with_balances(Bill.objects.filter(customer=customer))
         if b.principal_due > 0 or b.penalty_due > 0),
        ZERO,
    )  # fmt: skip
    total = sum((amount for _day, amount in schedule), ZERO)
    if owed <= 0:
        raise ValidationError({"customer": _("The customer owes nothing to arrange.")})
    # A second active arrangement would schedule the same arrears twice.
    if PaymentArrangement.objects.filter(customer=customer, status=ArrangementStatusChoices.ACTIVE).exists():
        raise ValidationError({"customer": _("The customer already has an active arrangement.")})
    if total != owed:
        raise ValidationError(
            {
                "instalments": _("The schedule adds up to %(total)s but the customer owes %(owed)s.")
                % {"total": money(total), "owed": money(owed)}
            }  # fmt: skip
        )
    arrangement = PaymentArrangement(
        customer=customer, case=_open_case(customer), total=total, made_on=today, created_by=created_by
    )
    arrangement._history_user = created_by
    arrangement.save()
    ArrangementInstalment.objects.bulk_create(
        [ArrangementInstalment(arrangement=arrangement, due_on=day, amount=amount) for day, amount in schedule]
    )
    return arrangement


@transaction.atomic
def arrangements_check(*, day: dt.date | None = None) -> tuple[int, int]:
    """Completed when the payments since signing reach the total; broken when an instalment's
    date has passed with less paid than was due by then. Returns (completed, broken)."""
    day = day or timezone.localdate()
    completed = broken = 0
    # Locked: a leader cancelling one meanwhile waits, then finds it resolved (or this run skips
    # one cancelled first), so the check never overwrites a cancellation.
    active = PaymentArrangement.objects.select_for_update().filter(status=ArrangementStatusChoices.ACTIVE)
    for arrangement in active.prefetch_related("instalments"):
        paid = Payment.objects.filter(
            customer_id=arrangement.customer_id, status="posted", received_at__date__gte=arrangement.made_on,
            received_at__date__lte=day,
        ).aggregate(total=Sum("amount"))["total"] or ZERO  # fmt: skip
        due_by_yesterday = sum((i.amount for i in arrangement.instalments.all() if i.due_on < day), ZERO)
        if paid >= arrangement.total:
            arrangement.status, arrangement.resolved_on = ArrangementStatusChoices.COMPLETED, day
            completed += 1
        elif paid < due_by_yesterday:
            arrangement.status, arrangement.resolved_on = ArrangementStatusChoices.BROKEN, day
            broken += 1
        else:
            continue
        arrangement._history_user = None
        arrangement.save(update_fields=["status", "resolved_on"])
    return completed, broken


ARRANGEMENT_REASON_MAX = 100  # the audit trail's change-reason column (django-simple-history) holds 100


@transaction.atomic
def arrangement_cancel(*, arrangement: PaymentArrangement, by: User, reason: str) -> PaymentArrangement:
    """Withdraw an active arrangement (re-signed on other terms, or the arrears settled another
    way): dunning resumes for what is still owed, and it counts as neither kept nor broken. Area
    leaders and managers only, with the reason kept in its audit trail."""
    if not can_sign_agreements(by):
        raise PermissionDenied(_("Only an area leader or a manager may cancel an arrangement."))
    # Locked so that the nightly check and a cancel cannot both resolve it.
    arrangement = PaymentArrangement.objects.select_for_update().get(pk=arrangement.pk)
    if arrangement.status != ArrangementStatusChoices.ACTIVE:
        raise ValidationError(
            {"status": _("Only an active arrangement can be cancelled; this one is %(status)s.")
             % {"status": arrangement.get_status_display().lower()}}
        )  # fmt: skip
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": _("Give the reason for the cancellation.")})
    if len(reason) > ARRANGEMENT_REASON_MAX:
        raise ValidationError(
            {"reason": _("Keep the reason within %(count)d characters.") % {"count": ARRANGEMENT_REASON_MAX}}
        )
    arrangement.status = ArrangementStatusChoices.CANCELLED
    arrangement.resolved_on = timezone.localdate()
    arrangement._history_user = by
    arrangement._change_reason = reason
    arrangement.save(update_fields=["status", "resolved_on"])
    return arrangement


def can_sign_agreements(user: User) -> bool:
    """Area leaders and managers sign arrangements and record and release guarantees
    (DESIGN.md: guarantees are recorded by area leaders and managers; arrangements are signed by
    an area leader or a manager). Collectors read them. Which customers is the scope's business."""
    return can_lead(user)


GUARANTEE_REASON_MAX = 100  # the audit trail's change-reason column (django-simple-history) holds 100


@transaction.atomic
def guarantee_release(*, guarantee: Guarantee, by: User, released_on: dt.date, reason: str) -> Guarantee:
    """Give a guarantee or deposit back (担保解除): from that day it no longer counts as cover
    in the exposure. Once only, on a day between its start and today; the reason and the person
    are kept in its audit trail."""
    if not can_sign_agreements(by):
        raise PermissionDenied(_("Only an area leader or a manager may release a guarantee."))
    # Locked so two people releasing at once cannot both pass the "only once" check.
    guarantee = Guarantee.objects.select_for_update().get(pk=guarantee.pk)
    if guarantee.released_on is not None:
        raise ValidationError(
            {"released_on": _("This guarantee was already released on %(date)s.") % {"date": guarantee.released_on}}
        )
    if released_on > timezone.localdate():
        raise ValidationError({"released_on": _("A release cannot be dated in the future.")})
    if released_on < guarantee.valid_from:
        raise ValidationError(
            {"released_on": _("A release cannot be dated before the guarantee starts (%(date)s).")
             % {"date": guarantee.valid_from}}
        )  # fmt: skip
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": _("Give the reason for the release.")})
    if len(reason) > GUARANTEE_REASON_MAX:
        raise ValidationError(
            {"reason": _("Keep the reason within %(count)d characters.") % {"count": GUARANTEE_REASON_MAX}}
        )
    guarantee.released_on = released_on
    guarantee._history_user = by
    guarantee._change_reason = reason
    guarantee.save(update_fields=["released_on"])
    return guarantee
