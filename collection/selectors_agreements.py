"""Reads for the agreements pages: how a payment arrangement (分次结算协议 / 还款协议) stands
instalment by instalment, which arrangements have missed one, what a customer owes today and
the split helper of the arrangement form.

Payments count the way `services.arrangements_check` counts them: the customer's posted
payments received from the day the arrangement was signed through the day asked about. So the
"missed" shown here is exactly what the next check breaks, and the worklist and the pages never
disagree with the status the check will give.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal

from django.db.models import (
    BooleanField,
    Case,
    DecimalField,
    F,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from billing.models import Bill, Payment
from billing.selectors import bills_with_balances
from customers.models import Customer

from .choices import ArrangementStatusChoices
from .models import ArrangementInstalment, PaymentArrangement

ZERO = Decimal("0.00")
FEN = Decimal("0.01")
_MONEY = DecimalField(max_digits=16, decimal_places=2)

PAID, DUE, MISSED, UPCOMING = "paid", "due", "missed", "upcoming"
INSTALMENT_STATES = {
    PAID: _("Paid"),
    DUE: _("Due today"),
    MISSED: _("Missed"),
    UPCOMING: _("Upcoming"),
}


@dataclass
class InstalmentProgress:
    number: int
    due_on: dt.date
    amount: Decimal
    cumulative_due: Decimal  # this instalment and all before it
    cumulative_paid: Decimal  # paid since signing up to this instalment's date (or the day asked, if earlier)
    state: str  # PAID, DUE, MISSED or UPCOMING as on the day asked

    @property
    def state_label(self) -> str:
        return str(INSTALMENT_STATES[self.state])

    @property
    def paid_late(self) -> bool:
        """Covered now, but less had been paid than was due by its date."""
        return self.state == PAID and self.cumulative_paid < self.cumulative_due


@dataclass
class ArrangementProgress:
    day: dt.date
    total: Decimal
    paid: Decimal  # paid since signing through `day`, as arrangements_check counts it
    rows: list[InstalmentProgress] = field(default_factory=list)

    @property
    def remaining(self) -> Decimal:
        return max(self.total - self.paid, ZERO)

    @property
    def missed(self) -> bool:
        return any(row.state == MISSED for row in self.rows)

    @property
    def behind(self) -> Decimal:
        """How much more should have been paid by now (what the missed instalments lack)."""
        due = max((row.cumulative_due for row in self.rows if row.state == MISSED), default=ZERO)
        return max(due - self.paid, ZERO)

    @property
    def next_instalment(self) -> InstalmentProgress | None:
        """The first instalment not yet covered whose date is today or later."""
        return next((row for row in self.rows if row.state in (DUE, UPCOMING)), None)


def arrangement_progress(arrangement: PaymentArrangement, day: dt.date | None = None) -> ArrangementProgress:
    """Each instalment of the schedule with its cumulative due and paid figures and its state
    on `day` (default today): paid when the payments since signing cover it and every one
    before it; otherwise missed if its date has passed, due if it is today, else upcoming.

    The state is judged on everything paid through `day`, like arrangements_check: an
    instalment paid a few days late reads "paid" (its `paid_late` says so) as long as the
    check had not broken the arrangement meanwhile."""
    day = day or timezone.localdate()
    payments = sorted(
        (timezone.localdate(received_at), amount)
        for received_at, amount in Payment.objects.filter(
            customer_id=arrangement.customer_id,
            status="posted",
            received_at__date__gte=arrangement.made_on,
            received_at__date__lte=day,
        ).values_list("received_at", "amount")
    )
    paid = sum((amount for _day, amount in payments), ZERO)
    progress = ArrangementProgress(day=day, total=arrangement.total, paid=paid)
    cumulative = ZERO
    for number, instalment in enumerate(arrangement.instalments.order_by("due_on", "id"), start=1):
        cumulative += instalment.amount
        until = min(instalment.due_on, day)
        paid_by_then = sum((amount for paid_on, amount in payments if paid_on <= until), ZERO)
        if paid >= cumulative:
            state = PAID
        elif instalment.due_on < day:
            state = MISSED
        elif instalment.due_on == day:
            state = DUE
        else:
            state = UPCOMING
        progress.rows.append(
            InstalmentProgress(number, instalment.due_on, instalment.amount, cumulative, paid_by_then, state)
        )
    return progress


def arrangements_with_figures(
    queryset: QuerySet[PaymentArrangement], day: dt.date | None = None
) -> QuerySet[PaymentArrangement]:
    """Arrangements annotated, in SQL, with `due_so_far` (instalments whose date is before
    `day`), `paid_so_far` (payments since signing through `day`), `next_due_on` (the first
    instalment date on or after `day`) and `missed` (active, and less paid than was due)."""
    day = day or timezone.localdate()
    due = (
        ArrangementInstalment.objects.filter(arrangement=OuterRef("pk"), due_on__lt=day)
        .values("arrangement")
        .annotate(s=Sum("amount"))
        .values("s")
    )
    paid = (
        Payment.objects.filter(
            customer=OuterRef("customer"),
            status="posted",
            received_at__date__gte=OuterRef("made_on"),
            received_at__date__lte=day,
        )
        .values("customer")
        .annotate(s=Sum("amount"))
        .values("s")
    )
    upcoming = (
        ArrangementInstalment.objects.filter(arrangement=OuterRef("pk"), due_on__gte=day)
        .values("arrangement")
        .annotate(first=Min("due_on"))
        .values("first")
    )
    return queryset.annotate(
        due_so_far=Coalesce(Subquery(due, output_field=_MONEY), Value(ZERO), output_field=_MONEY),
        paid_so_far=Coalesce(Subquery(paid, output_field=_MONEY), Value(ZERO), output_field=_MONEY),
        next_due_on=Subquery(upcoming),
    ).annotate(
        missed=Case(
            When(Q(status=ArrangementStatusChoices.ACTIVE) & Q(due_so_far__gt=F("paid_so_far")), then=Value(True)),
            default=Value(False),
            output_field=BooleanField(),
        )
    )


def arrangements_missed(scope_qs: QuerySet[Customer], day: dt.date | None = None) -> QuerySet[PaymentArrangement]:
    """Active arrangements of the customers in `scope_qs` (e.g. `customers_visible_to(user)`)
    with an instalment whose date is before `day` (default today) and that the payments since
    signing do not cover — the ones the next `arrangements_check` will break.

    Returns a queryset annotated as in `arrangements_with_figures` (`due_so_far`,
    `paid_so_far`, `next_due_on`), with the customer loaded, ordered by the shortfall (most
    money behind first). The daily job breaks these arrangements each morning, so a worklist
    reading this after the run sees those whose instalment fell due yesterday only while the
    job has not run yet; broken arrangements are `status="broken"` with `resolved_on`."""
    queryset = PaymentArrangement.objects.filter(status=ArrangementStatusChoices.ACTIVE, customer__in=scope_qs)
    return (
        arrangements_with_figures(queryset, day)
        .filter(missed=True)
        .select_related("customer")
        .order_by(F("paid_so_far") - F("due_so_far"), "made_on", "pk")
    )


def customer_owed(customer: Customer) -> Decimal:
    """What the customer owes today: principal and penalty of its unpaid bills — the figure an
    arrangement's schedule must add up to (the same sum `services.arrangement_create` checks)."""
    bills = bills_with_balances(Bill.objects.filter(customer=customer)).filter(
        Q(principal_due__gt=0) | Q(penalty_due__gt=0)
    )
    return sum((b.principal_due + b.penalty_due for b in bills), ZERO)


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` later, or that month's last day when it is shorter (31 Jan + 1 → 28/29 Feb)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def arrangement_split(total: Decimal, count: int, first_due: dt.date) -> list[tuple[dt.date, Decimal]]:
    """`count` monthly instalments from `first_due` adding up to `total` exactly: each is the
    even share rounded down to the fen and the last takes the remainder (10,000.00 in 3 →
    3,333.33 + 3,333.33 + 3,333.34), so no fen is lost or invented. Raises ValueError when
    `total` is too small to give every instalment at least a fen."""
    if count < 1:
        raise ValueError("count must be at least 1")
    if total < FEN * count:
        raise ValueError("total too small to split")
    share = (total / count).quantize(FEN, rounding=ROUND_DOWN)
    amounts = [share] * (count - 1) + [total - share * (count - 1)]
    return [(add_months(first_due, k), amount) for k, amount in enumerate(amounts)]
