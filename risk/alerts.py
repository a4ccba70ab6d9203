"""Early warnings (预警, DESIGN.md rule 9 and the risk issue): a falling consumption, a guarantee
about to expire, a broken promise or arrangement, new arrears on a clean customer. Grade falls
are raised by the scoring run. Each alert has a dedupe key, so raising twice changes nothing."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.db.models.functions import ExtractIsoWeekDay
from django.utils import timezone
from django.utils.translation import gettext as _

from billing.models import DailyUsage, Guarantee
from billing.selectors import overdue_bills_by_customer
from collection.models import DunningNotice, PaymentArrangement, PromiseToPay
from core.formatting import money
from core.i18n import in_both
from core.permissions import can_log_contact_work

from .choices import AlertKindChoices as KIND
from .models import RiskAlert

RECENT_DAYS, BASELINE_WEEKS = 14, 8


def consumption_drops(day: dt.date) -> dict[int, tuple[Decimal, Decimal]]:
    """Customers whose consumption over the 14 days to `day` is ≥ the set share below their
    weekday-adjusted baseline: for each weekday, the mean of that weekday over the 8 weeks
    before, times how often it occurs in the 14 days. Returns {customer: (recent, baseline)}."""
    recent_from = day - dt.timedelta(days=RECENT_DAYS - 1)
    base_from = recent_from - dt.timedelta(weeks=BASELINE_WEEKS)
    threshold = Decimal(str(settings.RISK_CONSUMPTION_DROP))
    rows = (
        DailyUsage.objects.filter(day__gte=base_from, day__lte=day)
        .annotate(weekday=ExtractIsoWeekDay("day"))
        .values("customer_id", "weekday")
        .annotate(
            recent=Sum("kwh", filter=Q(day__gte=recent_from)),
            base=Sum("kwh", filter=~Q(day__gte=recent_from)),
            base_days=Count("id", filter=~Q(day__gte=recent_from)),
        )
        .values_list("customer_id", "weekday", "recent", "base", "base_days")
    )
    totals: dict[int, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    weekdays_in_recent = defaultdict(int)
    for offset in range(RECENT_DAYS):
        weekdays_in_recent[(recent_from + dt.timedelta(days=offset)).isoweekday()] += 1
    for customer_id, weekday, recent, base, base_days in rows:
        totals[customer_id][0] += recent or 0
        if base_days:
            totals[customer_id][1] += (base or 0) / base_days * weekdays_in_recent[weekday]
    return {
        cid: (recent.quantize(Decimal("0.001")), base.quantize(Decimal("0.001")))
        for cid, (recent, base) in totals.items()
        if base > 0 and recent <= base * (1 - threshold)
    }


@transaction.atomic
def alerts_raise(*, day: dt.date | None = None) -> int:
    """Raise the day's alerts. Idempotent: an alert already raised for the same cause is kept."""
    day = day or timezone.localdate()
    alerts: list[RiskAlert] = []

    def add(customer_id: int, kind: str, detail, key: str) -> None:
        # `detail` renders the text; it is stored in both languages (the job runs in neither reader's).
        english, chinese = in_both(detail)
        alerts.append(RiskAlert(customer_id=customer_id, kind=kind, raised_on=day, detail=english[:300],
                                detail_zh=chinese[:300], dedupe_key=f"{kind}:{key}"))  # fmt: skip

    for customer_id, (recent, base) in consumption_drops(day).items():
        drop = (1 - recent / base) * 100
        # One alert per customer and fortnight: a drop that lasts is not re-raised every day.
        fortnight = day.toordinal() // RECENT_DAYS
        add(customer_id, KIND.CONSUMPTION_DROP,
            lambda recent=recent, drop=drop, base=base:
            _("%(recent)s kWh in 14 days, %(drop)s%% below the usual %(base)s kWh; visit the customer")
            % {"recent": f"{recent:,.0f}", "drop": f"{drop:.0f}", "base": f"{base:,.0f}"},
            f"{customer_id}:{fortnight}")  # fmt: skip
    for g in Guarantee.objects.filter(released_on__isnull=True, valid_to__gte=day,
                                      valid_to__lte=day + dt.timedelta(days=30)):  # fmt: skip
        add(g.customer_id, KIND.GUARANTEE_EXPIRING,
            lambda g=g: _("%(kind)s of %(amount)s ends on %(date)s")
            % {"kind": g.get_kind_display(), "amount": money(g.amount), "date": g.valid_to},
            str(g.pk))  # fmt: skip
    week_ago = day - dt.timedelta(days=7)
    for p in PromiseToPay.objects.filter(status="broken", resolved_on__gte=week_ago, resolved_on__lte=day):
        add(p.customer_id, KIND.BROKEN_PROMISE,
            lambda p=p: _("%(amount)s promised for %(date)s was not paid")
            % {"amount": money(p.amount), "date": p.promised_on},
            str(p.pk))  # fmt: skip
    for a in PaymentArrangement.objects.filter(status="broken", resolved_on__gte=week_ago, resolved_on__lte=day):
        add(a.customer_id, KIND.BROKEN_ARRANGEMENT,
            lambda a=a: _("Arrangement of %(amount)s signed %(date)s is broken")
            % {"amount": money(a.total), "date": a.made_on},
            str(a.pk))  # fmt: skip
    # New arrears on a clean customer: newly overdue, and no payment notice in the year before.
    overdue = overdue_bills_by_customer(day)
    fresh = {cid: bills for cid, bills in overdue.items() if (day - bills[0].due_on).days <= 3}
    dunned = set(
        DunningNotice.objects.filter(customer_id__in=list(fresh), status="sent",
                                     proposed_on__gte=day - dt.timedelta(days=365),
                                     proposed_on__lt=fresh_start(fresh)).values_list("customer_id", flat=True)
    )  # fmt: skip
    for customer_id, bills in fresh.items():
        if customer_id in dunned:
            continue
        amount = sum((b.principal_due + b.penalty_due for b in bills), Decimal(0))
        add(customer_id, KIND.NEW_ARREARS,
            lambda amount=amount, since=bills[0].due_on:
            _("%(amount)s overdue since %(date)s, the first arrears in a year")
            % {"amount": money(amount), "date": since},
            f"{customer_id}:{bills[0].pk}")  # fmt: skip
    before = RiskAlert.objects.count()
    RiskAlert.objects.bulk_create(alerts, ignore_conflicts=True)
    return RiskAlert.objects.count() - before


def fresh_start(fresh: dict) -> dt.date:
    """The earliest due date among the newly overdue: notices before it belong to older arrears."""
    return min((bills[0].due_on for bills in fresh.values()), default=dt.date.max)


@transaction.atomic
def alert_acknowledge(*, alert: RiskAlert, by, note: str) -> RiskAlert:
    if not can_log_contact_work(by):
        raise PermissionDenied(_("Your role may not acknowledge alerts."))
    if not note.strip():
        raise ValidationError({"note": _("Say what was done about the alert.")})
    alert = RiskAlert.objects.select_for_update().get(pk=alert.pk)
    if alert.acknowledged_at is not None:
        raise ValidationError(_("This alert has already been acknowledged."))
    alert.acknowledged_by, alert.acknowledged_at, alert.note = by, timezone.now(), note.strip()[:300]
    alert.save(update_fields=["acknowledged_by", "acknowledged_at", "note"])
    return alert
