"""Prepaid accounts (预付费 / 远程费控, DESIGN.md rule 5).

The balance is the sum of immutable entries: top-ups (+, one per payment), the daily charge
(−, one per account and day: a database constraint makes the daily job idempotent) and
adjustments (±). Nothing is cached; `PrepaidAccount.state` only remembers which warning was
sent, so that each threshold warns once per fall:

    normal → warned_7 → warned_3 → exhausted          (the daily job, only ever downwards)
    any    → the level the new balance deserves       (a top-up or credit, only ever upwards)

"Days left" = balance ÷ the average daily charge of the last 30 days of statistics (fewer for
a new customer; none → no warnings, only the zero check). A customer who falls past both
thresholds in one day gets the 3-day warning only.

At zero (balance ≤ 0) a `prepaid_remote` customer is tripped through `services.control`,
which escalates instead for important users and customers without an agreement; a
`prepaid_card` customer's meter cuts itself, so only the customer is told. A credit that
brings the balance above zero issues a restore if a trip went out.

The daily job is set-based so 10,000 accounts take seconds: one query for the day's charges,
one bulk insert of entries, one aggregate for balances and one for averages; only accounts
whose state changes are then locked and handled.

Locks: a payment locks the customer row, then the account row; the daily job locks account
rows only (in id order). Neither waits for a lock the other holds first, so they cannot
deadlock, and a top-up never interleaves with the job's check of the same account.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, DecimalField, Max, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from core.formatting import money
from core.roles import is_manager
from customers.choices import CustomerOperatingStatusChoices, CustomerSettlementModeChoices
from customers.models import Customer, Notification
from customers.notifications import in_message_language, notice_targets, notifications_queue_many, quiet_hours_end

from ..choices import ControlOriginChoices, ControlStatusChoices, PrepaidEntryKindChoices, PrepaidStateChoices
from ..models import DailyUsage, Payment, PrepaidAccount, PrepaidEntry
from .control import TripRequest, control_restore_after_credit, control_trips_automatic

ZERO = Decimal("0.00")
FEN = Decimal("0.01")
_MONEY = DecimalField(max_digits=16, decimal_places=2)
PREPAID_MODES = (CustomerSettlementModeChoices.PREPAID_CARD, CustomerSettlementModeChoices.PREPAID_REMOTE)
STATE = PrepaidStateChoices
KIND = PrepaidEntryKindChoices
# Severity of each state: the daily job only raises it, a credit only lowers it.
RANK = {STATE.NORMAL: 0, STATE.WARNED_7: 1, STATE.WARNED_3: 2, STATE.EXHAUSTED: 3}
CHUNK = 1000
# A trip command in one of these states goes, or went, to the terminal.
TRIPPING = (ControlStatusChoices.PENDING, ControlStatusChoices.SENDING, ControlStatusChoices.SENT,
            ControlStatusChoices.ACKNOWLEDGED, ControlStatusChoices.FAILED)  # fmt: skip


def warning_days() -> tuple[int, int]:
    """The two warning thresholds in days of average charge (default 7 and 3)."""
    first, second = getattr(settings, "PREPAID_WARNING_DAYS", (7, 3))
    return int(first), int(second)


def average_window_days() -> int:
    return int(getattr(settings, "PREPAID_AVERAGE_DAYS", 30))


def catch_up_days() -> int:
    """How far back the daily job also deducts days whose statistics arrived late."""
    return int(getattr(settings, "PREPAID_CATCH_UP_DAYS", 7))


def level_for(balance: Decimal, days_left: Decimal | None) -> str:
    """The state a balance deserves."""
    first, second = warning_days()
    if balance <= 0:
        return STATE.EXHAUSTED
    if days_left is None:
        return STATE.NORMAL
    if days_left <= second:
        return STATE.WARNED_3
    if days_left <= first:
        return STATE.WARNED_7
    return STATE.NORMAL


def days_left_of(balance: Decimal, average: Decimal | None) -> Decimal | None:
    if not average or average <= 0:
        return None
    return max(balance, ZERO) / average


def days_display(days: Decimal | None) -> str:
    return "—" if days is None else str(days.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def open_accounts() -> QuerySet[PrepaidAccount]:
    """Accounts the daily job works on: prepaid customers whose account is not closed."""
    return PrepaidAccount.objects.filter(customer__settlement_mode__in=PREPAID_MODES).exclude(
        customer__operating_status=CustomerOperatingStatusChoices.CLOSED
    )


# ---------------------------------------------------------------------------------------------
# Reads (set-based)
# ---------------------------------------------------------------------------------------------
def balances(account_ids: Iterable[int] | QuerySet) -> dict[int, Decimal]:
    """Balance per account: one aggregate over the entries."""
    rows = (
        PrepaidEntry.objects.filter(account_id__in=account_ids)
        .values("account_id")
        .annotate(total=Sum("amount"))
        .values_list("account_id", "total")
    )
    return {account_id: total or ZERO for account_id, total in rows}


def average_charges(customer_ids: Iterable[int] | QuerySet, *, as_of: dt.date) -> dict[int, Decimal]:
    """Average daily charge per customer over the window ending `as_of` (the days that have
    statistics: a newer customer is averaged over fewer days). One aggregate."""
    start = as_of - dt.timedelta(days=average_window_days() - 1)
    rows = (
        DailyUsage.objects.filter(customer_id__in=customer_ids, day__gte=start, day__lte=as_of)
        .values("customer_id")
        .annotate(total=Sum("charge"), days=Count("id"))
        .values_list("customer_id", "total", "days")
    )
    return {customer_id: (total / days) for customer_id, total, days in rows if days}


def with_balance(queryset: QuerySet[PrepaidAccount]) -> QuerySet[PrepaidAccount]:
    """Accounts annotated with `balance` (a subquery, no join fan-out), for lists."""
    total = PrepaidEntry.objects.filter(account=OuterRef("pk")).values("account").annotate(s=Sum("amount")).values("s")
    return queryset.annotate(balance=Coalesce(Subquery(total, output_field=_MONEY), Value(ZERO), output_field=_MONEY))


@dataclass
class AccountFigures:
    balance: Decimal
    average: Decimal | None
    days_left: Decimal | None
    as_of: dt.date

    @property
    def days_left_display(self) -> str:
        return days_display(self.days_left)


def account_figures(accounts: list[PrepaidAccount], *, as_of: dt.date | None = None) -> dict[int, AccountFigures]:
    """Balance, average daily charge and days left for a page of accounts (a few queries).
    Without `as_of`, each account's average ends at the last day deducted from it (the day
    its balance reflects), or yesterday for an account not yet charged."""
    ids = [a.pk for a in accounts]
    totals = balances(ids)
    if as_of is None:
        fallback = timezone.localdate() - dt.timedelta(days=1)
        last = dict(
            PrepaidEntry.objects.filter(account_id__in=ids, kind=KIND.DAILY_CHARGE)
            .values("account_id")
            .annotate(last=Max("day"))
            .values_list("account_id", "last")
        )
        ends = {a.pk: last.get(a.pk, fallback) for a in accounts}
    else:
        ends = {a.pk: as_of for a in accounts}
    averages: dict[tuple[int, dt.date], Decimal] = {}
    for end in set(ends.values()):
        customer_ids = [a.customer_id for a in accounts if ends[a.pk] == end]
        for customer_id, average in average_charges(customer_ids, as_of=end).items():
            averages[customer_id, end] = average
    figures = {}
    for account in accounts:
        balance = totals.get(account.pk, ZERO)
        average = averages.get((account.customer_id, ends[account.pk]))
        figures[account.pk] = AccountFigures(balance, average, days_left_of(balance, average), ends[account.pk])
    return figures


# ---------------------------------------------------------------------------------------------
# Messages to the customer's contacts
# ---------------------------------------------------------------------------------------------
def _message(level: str, customer: Customer, figures: AccountFigures, *, tripped: bool) -> tuple[str, str]:
    values = {
        "name": customer.name,
        "account": customer.account_no,
        "balance": money(figures.balance),
        "days": figures.days_left_display,
        "average": money(figures.average.quantize(FEN) if figures.average else None),
    }
    if level in (STATE.WARNED_7, STATE.WARNED_3):
        subject = _("Prepaid electricity balance low")
        body = _(
            "%(name)s (account %(account)s): your prepaid electricity balance is %(balance)s, about %(days)s days "
            "of your average use (%(average)s a day). Please top up in time to keep your supply."
        )
    elif tripped:
        subject = _("Prepaid electricity balance used up")
        body = _(
            "%(name)s (account %(account)s): your prepaid electricity balance is used up (%(balance)s). Under the "
            "remote-control agreement the supply will be switched off remotely; it is switched on again "
            "automatically after a top-up."
        )
    else:
        subject = _("Prepaid electricity balance used up")
        body = _(
            "%(name)s (account %(account)s): your prepaid electricity balance is used up (%(balance)s). Please "
            "top up at once to keep your supply."
        )
    return subject, body % values


_LEVEL_KEY = {STATE.WARNED_7: "warn7", STATE.WARNED_3: "warn3", STATE.EXHAUSTED: "exhausted"}


def _contact_messages(
    customer: Customer, targets, level: str, figures: AccountFigures, day: dt.date, *, tripped: bool
) -> list[Notification]:
    subject, body = _message(level, customer, figures, tripped=tripped)
    send_after = quiet_hours_end()
    return [
        Notification(
            next_attempt_at=send_after,
            customer=customer,
            contact=target.contact,
            channel=target.channel,
            recipient=target.recipient,
            kind=f"prepaid_{_LEVEL_KEY[level]}",
            subject=subject,
            body=body,
            dedupe_key=f"prepaid:{_LEVEL_KEY[level]}:{customer.account_no}:{day.isoformat()}:{target.contact.pk}",
        )
        for target in targets
    ]


# ---------------------------------------------------------------------------------------------
# Writes
# ---------------------------------------------------------------------------------------------
def _validate_amount(amount, field_name: str = "amount", *, allow_negative: bool = False) -> Decimal:
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise ValidationError({field_name: _("Enter an amount in yuan.")})
    if amount == 0 or (amount < 0 and not allow_negative):
        raise ValidationError({field_name: _("The amount must be more than zero.")})
    if amount != amount.quantize(FEN):
        raise ValidationError({field_name: _("The amount has at most 2 decimal places (fen).")})
    return amount


@transaction.atomic
def prepaid_account_open(
    *,
    customer: Customer,
    opened_on: dt.date,
    opening_balance: Decimal = ZERO,
    opened_by: User | None = None,
) -> PrepaidAccount:
    """Open the prepaid account of a prepaid customer (idempotent: an open account is returned
    as it is). An opening balance is written as an adjustment entry."""
    if customer.settlement_mode not in PREPAID_MODES:
        raise ValidationError({"customer": _("Only a prepaid customer has a prepaid account.")})
    account, created = PrepaidAccount.objects.get_or_create(customer=customer, defaults={"opened_on": opened_on})
    if created and opening_balance:
        _validate_amount(opening_balance, "opening_balance", allow_negative=True)
        PrepaidEntry.objects.create(
            account=account, kind=KIND.ADJUSTMENT, day=opened_on, amount=opening_balance, note=_("Opening balance")
        )
    return account


def prepaid_account_for(customer: Customer) -> PrepaidAccount | None:
    return PrepaidAccount.objects.filter(customer=customer).first()


def _after_credit(account: PrepaidAccount, *, key: str) -> PrepaidAccount:
    """Money came in: lower the state to what the balance deserves and, above zero, restore a
    tripped supply. The caller holds the account's lock."""
    figures = account_figures([account])[account.pk]
    level = level_for(figures.balance, figures.days_left)
    if RANK[level] < RANK[account.state]:
        PrepaidAccount.objects.filter(pk=account.pk).update(state=level)
        account.state = level
    if figures.balance > 0:
        customer = account.customer
        control_restore_after_credit(
            customer=customer,
            origin=ControlOriginChoices.PREPAID,
            reason=_("Prepaid balance topped up to %(balance)s.") % {"balance": money(figures.balance)},
            dedupe_key=f"prepaid:restore:{customer.account_no}:{key}",
        )
    return account


@transaction.atomic
def prepaid_top_up(*, payment: Payment) -> PrepaidEntry:
    """A payment for a prepaid customer tops the account up (called by payment_record, which
    has validated the payment and holds the customer's lock)."""
    account = PrepaidAccount.objects.select_for_update().select_related("customer").get(customer=payment.customer_id)
    entry = PrepaidEntry.objects.create(
        account=account,
        kind=KIND.TOP_UP,
        day=timezone.localdate(payment.received_at),
        amount=payment.amount,
        payment=payment,
        note=payment.get_channel_display()[:200],
    )
    _after_credit(account, key=f"payment:{payment.pk}")
    return entry


@transaction.atomic
def prepaid_top_up_reverse(*, payment: Payment) -> PrepaidEntry | None:
    """A returned top-up (bank return) takes the money off again with a negative adjustment;
    the next daily check warns or trips as the lower balance deserves. To be called by
    payment_reverse for a payment that has a prepaid entry."""
    entry = PrepaidEntry.objects.filter(payment=payment).select_related("account").first()
    if entry is None:
        return None
    PrepaidAccount.objects.select_for_update().get(pk=entry.account_id)
    return PrepaidEntry.objects.create(
        account=entry.account,
        kind=KIND.ADJUSTMENT,
        day=timezone.localdate(),
        amount=-entry.amount,
        note=(_("Top-up returned: payment %(id)s") % {"id": payment.pk})[:200],
    )


@transaction.atomic
def prepaid_adjust(
    *, account: PrepaidAccount, amount: Decimal, reason: str, adjusted_by: User | None, day: dt.date | None = None
) -> PrepaidEntry:
    """A manager's correction (±) with a reason. A credit is handled like a top-up."""
    if adjusted_by is not None and not is_manager(adjusted_by):
        raise PermissionDenied(_("Only a manager may adjust a prepaid balance."))
    amount = _validate_amount(amount, allow_negative=True)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Give the reason for the adjustment.")})
    Customer.objects.select_for_update().get(pk=account.customer_id)  # the same lock order as a payment
    account = PrepaidAccount.objects.select_for_update().select_related("customer").get(pk=account.pk)
    entry = PrepaidEntry.objects.create(
        account=account, kind=KIND.ADJUSTMENT, day=day or timezone.localdate(), amount=amount, note=reason[:200]
    )
    if amount > 0:
        _after_credit(account, key=f"entry:{entry.pk}")
    return entry


# ---------------------------------------------------------------------------------------------
# The daily job
# ---------------------------------------------------------------------------------------------
@dataclass
class PrepaidRunResult:
    day: dt.date
    accounts: int = 0
    deducted: int = 0
    caught_up: int = 0
    missing_usage: list[str] = field(default_factory=list)
    without_account: list[str] = field(default_factory=list)
    warned_7: int = 0
    warned_3: int = 0
    exhausted: int = 0
    trips: int = 0
    escalations: int = 0
    notifications: int = 0


# Marks the adjustments written when a day's charge was recomputed (stored as it is, not
# translated: it identifies those entries).
RECALCULATION_NOTE = "Daily charge recalculated"


def prepaid_deduct(*, day: dt.date, result: PrepaidRunResult | None = None) -> PrepaidRunResult:
    """Write the daily charge of `day` for every open account (and of the earlier days of the
    catch-up window whose statistics arrived late). A day already deducted is skipped, so a
    second run writes nothing; accounts without statistics for `day` are reported."""
    result = result or PrepaidRunResult(day=day)
    accounts = list(
        open_accounts().filter(opened_on__lte=day).values_list("id", "customer_id", "opened_on", "customer__account_no")
    )
    result.accounts = len(accounts)
    by_customer = {customer_id: (account_id, opened_on) for account_id, customer_id, opened_on, _no in accounts}
    start = day - dt.timedelta(days=catch_up_days())
    charged = PrepaidEntry.objects.filter(kind=KIND.DAILY_CHARGE, day__gte=start, day__lte=day)
    done = set(charged.values_list("account_id", "day"))
    # What each day already took, with earlier recalculations: a day whose statistics changed
    # (an estimate replaced by the late reading) gets an adjustment for the difference.
    taken_rows = (
        PrepaidEntry.objects.filter(day__gte=start, day__lte=day)
        .filter(Q(kind=KIND.DAILY_CHARGE) | Q(kind=KIND.ADJUSTMENT, note=RECALCULATION_NOTE))
        .values("account_id", "day")
        .annotate(total=Sum("amount"))
        .values_list("account_id", "day", "total")
    )
    taken = {(account_id, taken_day): total for account_id, taken_day, total in taken_rows}
    usage = DailyUsage.objects.filter(
        day__gte=start, day__lte=day, customer_id__in=open_accounts().values("customer_id")
    ).values_list("customer_id", "day", "charge")
    entries, has_today = [], set()
    for customer_id, usage_day, charge in usage:
        if customer_id not in by_customer:
            continue
        account_id, opened_on = by_customer[customer_id]
        if usage_day == day:
            has_today.add(customer_id)
        if usage_day < opened_on:
            continue
        if (account_id, usage_day) in done:
            difference = -charge - taken.get((account_id, usage_day), ZERO)
            if difference:
                entries.append(
                    PrepaidEntry(
                        account_id=account_id,
                        kind=KIND.ADJUSTMENT,
                        day=usage_day,
                        amount=difference,
                        note=RECALCULATION_NOTE,
                    )
                )
            continue
        entries.append(PrepaidEntry(account_id=account_id, kind=KIND.DAILY_CHARGE, day=usage_day, amount=-charge))
        if usage_day != day:
            result.caught_up += 1
    # The unique constraint (account, day) makes a concurrent second run write nothing more.
    PrepaidEntry.objects.bulk_create(entries, batch_size=2000, ignore_conflicts=True)
    result.deducted = sum(1 for entry in entries if entry.kind == KIND.DAILY_CHARGE)
    result.missing_usage = sorted(no for _a, customer_id, _o, no in accounts if customer_id not in has_today)
    result.without_account = sorted(
        Customer.objects.filter(settlement_mode__in=PREPAID_MODES, prepaid_account__isnull=True)
        .exclude(operating_status=CustomerOperatingStatusChoices.CLOSED)
        .values_list("account_no", flat=True)
    )
    return result


def prepaid_thresholds_check(*, day: dt.date, result: PrepaidRunResult | None = None) -> PrepaidRunResult:
    """Warn at 7 and 3 days left, trip or escalate at zero: each once per fall (the state
    remembers). A second run for the same day finds every state already reached."""
    result = result or PrepaidRunResult(day=day)
    accounts = list(open_accounts().filter(opened_on__lte=day).values_list("id", "customer_id", "state"))
    totals = balances(open_accounts().values("id"))
    averages = average_charges(open_accounts().values("customer_id"), as_of=day)
    falling = []
    for account_id, customer_id, state in accounts:
        balance = totals.get(account_id, ZERO)
        if RANK[level_for(balance, days_left_of(balance, averages.get(customer_id)))] > RANK[state]:
            falling.append(account_id)
    for start in range(0, len(falling), CHUNK):
        _fall(falling[start : start + CHUNK], day=day, averages=averages, result=result)
    return result


@transaction.atomic
def _fall(account_ids: list[int], *, day: dt.date, averages: dict[int, Decimal], result: PrepaidRunResult) -> None:
    """Move a chunk of accounts down to their new state, under their locks and with fresh
    balances (a top-up may have come in since the set-based pass)."""
    locked = list(PrepaidAccount.objects.select_for_update().filter(pk__in=account_ids).order_by("pk"))
    totals = balances(account_ids)
    customers = Customer.objects.in_bulk([a.customer_id for a in locked])
    moves: dict[str, list[int]] = defaultdict(list)
    falls: list[tuple[Customer, str, AccountFigures]] = []
    trips: list[TripRequest] = []
    with in_message_language():
        for account in locked:
            customer = customers[account.customer_id]
            balance = totals.get(account.pk, ZERO)
            average = averages.get(customer.pk)
            figures = AccountFigures(balance, average, days_left_of(balance, average), day)
            level = level_for(balance, figures.days_left)
            if RANK[level] <= RANK[account.state]:
                continue
            moves[level].append(account.pk)
            falls.append((customer, level, figures))
            if level == STATE.EXHAUSTED and customer.settlement_mode == CustomerSettlementModeChoices.PREPAID_REMOTE:
                trips.append(
                    TripRequest(
                        customer=customer,
                        reason=_("Prepaid balance used up: %(balance)s on %(day)s.")
                        % {"balance": money(balance), "day": day.isoformat()},
                        dedupe_key=f"prepaid:trip:{customer.account_no}:{day.isoformat()}",
                        detail=_("Prepaid balance: %(balance)s.") % {"balance": money(balance)},
                    )
                )
    # The trips first: the customer's message says whether the supply will be switched off.
    statuses = control_trips_automatic(requests=trips, origin=ControlOriginChoices.PREPAID)
    targets = notice_targets(customers.keys())
    messages: list[Notification] = []
    with in_message_language():
        for customer, level, figures in falls:
            tripped = statuses.get(customer.pk) in TRIPPING
            if level == STATE.EXHAUSTED:
                result.exhausted += 1
                if customer.pk in statuses:
                    result.trips += int(tripped)
                    result.escalations += int(statuses[customer.pk] == ControlStatusChoices.ESCALATED)
            elif level == STATE.WARNED_7:
                result.warned_7 += 1
            else:
                result.warned_3 += 1
            messages += _contact_messages(customer, targets.get(customer.pk, []), level, figures, day, tripped=tripped)
    for level, ids in moves.items():
        PrepaidAccount.objects.filter(pk__in=ids).update(state=level)
    result.notifications += notifications_queue_many(messages)


def prepaid_run(*, day: dt.date) -> PrepaidRunResult:
    """The daily job: deduct the day's charges, then check the thresholds."""
    result = prepaid_deduct(day=day)
    return prepaid_thresholds_check(day=day, result=result)
