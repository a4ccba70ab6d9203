"""Reads of the arrears dashboard: everything comes from the summary tables (`ArrearsSummary`
rows of a date, a few thousand at most), except the two short lists — the top debtors from
today's per-customer positions and the open or executed cut-off orders.

Scoping is the archive's rule (`customers.selectors.visibility_condition`) applied to the
summary's own `region` and `collector` columns, so a leader's totals are their areas' and a
collector's their own customers', exactly the rows their drill-down lists show."""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal
from typing import NamedTuple

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Count, OuterRef, QuerySet, Subquery, Sum
from django.utils.translation import gettext_lazy as _

from collection.choices import CutoffStatusChoices, DunningLevelCodeChoices, DunningNoticeStatusChoices
from collection.models import Activity, CutoffOrder, DunningNotice
from customers.choices import CustomerImportanceChoices, CustomerIndustryChoices, CustomerSettlementModeChoices
from customers.filtersets import COLLECTOR_NONE, GRADE_NONE
from customers.models import Region
from customers.selectors import customers_visible_to, visibility, visibility_condition

from .filtersets import ArrearsSummaryFilterSet
from .models import MEASURES, ArrearsPosition, ArrearsRollup, ArrearsSummary, SummaryState
from .summary import BUCKETS, month_bounds, month_ends

ZERO = Decimal("0.00")
TOP_DEBTORS = 20
IMPORTANT_SHOWN = 20
CUTOFFS_SHOWN = 20
CHART_GROUPS = 12
# Groups of a breakdown on the dashboard itself (the rest summed into one row; the full table
# is a page of its own): a province's 300 collectors made the page 670 KB.
BREAKDOWN_SHOWN = 12
IMPORTANT = (CustomerImportanceChoices.CLASS_1, CustomerImportanceChoices.CLASS_2)
OPEN_CUTOFF = (CutoffStatusChoices.PROPOSED,)
EXECUTED_CUTOFF = (CutoffStatusChoices.EXECUTED, CutoffStatusChoices.RESTORING)

# group_by values (the API's and the page's); `area` is the same as `region`: a customer's
# region is the area it belongs to.
DIMENSIONS = ("region", "industry", "grade", "collector", "settlement_mode", "importance")
GROUP_BY = (*DIMENSIONS, "area", "aging")
GROUP_ALIASES = {"area": "region"}
DIMENSION_LABELS = {
    "region": _("Area"),
    "industry": _("Industry"),
    "grade": _("Credit grade"),
    "collector": _("Collector"),
    "settlement_mode": _("Settlement mode"),
    "importance": _("Importance"),
    "aging": _("Days overdue"),
}
_FIELD = {"region": "region_id", "collector": "collector_id"}
_CHOICES = {
    "industry": dict(CustomerIndustryChoices.choices),
    "settlement_mode": dict(CustomerSettlementModeChoices.choices),
    "importance": dict(CustomerImportanceChoices.choices),
}


class Bucket(NamedTuple):
    """An aging bucket: a summary measure and the days overdue it holds (inclusive)."""

    measure: str
    label: str
    days_min: int
    days_max: int | None


def _buckets() -> list[Bucket]:
    out, previous = [], 0
    for limit, measure in BUCKETS:
        label = ArrearsSummary._meta.get_field(measure).verbose_name
        out.append(Bucket(measure, label, previous + 1 if previous else 0, limit))
        previous = limit or previous
    return out


AGING = _buckets()


def _visible(model, user: User | AnonymousUser) -> QuerySet:
    """A table with the archive's `region` and `collector` columns, scoped by its rule."""
    condition = visibility_condition(user)
    return model.objects.none() if condition is None else model.objects.filter(condition)


def summary_visible_to(user: User | AnonymousUser) -> QuerySet[ArrearsSummary]:
    return _visible(ArrearsSummary, user)


def dashboard_filterset(data, request) -> ArrearsSummaryFilterSet:
    """The page's, the exports' and the API's filterset, over the user's scope: the summary and
    its rollups filtered by the archive's own rule (both have the area and collector columns)."""
    user = request.user
    seen = visibility(user)
    return ArrearsSummaryFilterSet(
        data,
        queryset=summary_visible_to(user),
        rollup=_visible(ArrearsRollup, user),
        # A collector's scope is their own customers: only grains with the collector can tell.
        scope_dimensions={"collector"} if seen is not None and seen.collector_id is not None else set(),
        request=request,
    )


def positions_visible_to(user: User | AnonymousUser) -> QuerySet[ArrearsPosition]:
    return _visible(ArrearsPosition, user)


def summary_state() -> SummaryState | None:
    return SummaryState.objects.first()


def rate(part: Decimal | int, whole: Decimal | int) -> Decimal | None:
    """A percentage with one decimal, or None when there is nothing to divide by."""
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"))


def _with_rates(values: dict) -> dict:
    values["recovery_rate_month"] = rate(values["collected_month"], values["due_month"])
    values["recovery_rate_ytd"] = rate(values["collected_ytd"], values["due_ytd"])
    # 电费结零率: the share of customers with nothing overdue.
    values["zero_out_rate"] = rate(values["customers"] - values["overdue_customers"], values["customers"])
    values["aging"] = [
        {
            "bucket": b.measure,
            "label": b.label,
            "days_min": b.days_min,
            "days_max": b.days_max,
            "amount": values[b.measure],
            "share": rate(values[b.measure], values["arrears"]),
        }
        for b in AGING
    ]
    return values


def _sums() -> dict:
    return {name: Sum(name) for name in MEASURES}


def _zero_if_none(values: dict) -> dict:
    return {
        name: (values.get(name) or (0 if name in ("customers", "overdue_customers") else ZERO)) for name in MEASURES
    }


def figures(summary: QuerySet[ArrearsSummary]) -> dict:
    """Every measure summed over the rows, with the rates and the aging buckets."""
    return _with_rates(_zero_if_none(summary.aggregate(**_sums())))


def _labels(dimension: str, keys: list) -> dict:
    if dimension == "region":
        return dict(Region.objects.filter(pk__in=[k for k in keys if k is not None]).values_list("pk", "name"))
    if dimension == "collector":
        # A province has hundreds of collectors: their names without building User objects
        # (the label is `get_full_name() or username`, as everywhere else).
        users = User.objects.filter(pk__in=[k for k in keys if k is not None])
        names = users.values_list("pk", "first_name", "last_name", "username")
        return {pk: f"{first} {last}".strip() or username for pk, first, last, username in names}
    return _CHOICES.get(dimension, {})


def _key(dimension: str, value) -> str:
    if dimension == "collector" and value is None:
        return COLLECTOR_NONE
    if dimension == "grade" and not value:
        return GRADE_NONE
    return str(value)


def _label(dimension: str, value, labels: dict) -> str:
    if dimension == "collector" and value is None:
        return str(_("No collector"))
    if dimension == "grade":
        return value or str(_("No grade"))
    return str(labels.get(value, value))


def breakdown(filterset: ArrearsSummaryFilterSet, dimension: str, limit: int | None = None) -> list[dict]:
    """Per value of the dimension, every measure with its rates and aging; largest arrears first.
    With `limit`, the groups after the first `limit` have their measures only (no rates or aging:
    the dashboard sums them into one row)."""
    dimension = GROUP_ALIASES.get(dimension, dimension)
    field = _FIELD.get(dimension, dimension)
    summary = filterset.rows(by=dimension)
    rows = list(summary.order_by().values(field).annotate(**_sums()))
    labels = _labels(dimension, [row[field] for row in rows])
    groups = []
    for row in rows:
        values = _zero_if_none(row)
        values["key"] = _key(dimension, row[field])
        values["label"] = _label(dimension, row[field], labels)
        groups.append(values)
    groups.sort(key=lambda g: (-g["arrears"], g["label"]))
    for group in groups[:limit]:
        _with_rates(group)
    return groups


def combined(groups: list[dict]) -> dict:
    """Several groups summed into one (the dashboard's "other" row), with rates and aging."""
    return _with_rates({name: sum((g[name] for g in groups), 0 if name in ("customers", "overdue_customers")
                                  else ZERO) for name in MEASURES})  # fmt: skip


def grades_of(filterset: ArrearsSummaryFilterSet, as_of: dt.date) -> set[str]:
    """The grades present in the scope on the date ("" for ungraded), for the grade filter."""
    rows = filterset.grain_rows(needs=("grade",))
    return set(rows.filter(as_of=as_of).order_by().values_list("grade", flat=True).distinct())


def aging_groups(totals: dict) -> list[dict]:
    """The aging buckets as groups (the API's group_by=aging): only the amount is known per bucket."""
    return [
        {"key": b["bucket"], "label": b["label"], "days_min": b["days_min"], "days_max": b["days_max"],
         "arrears": b["amount"]}
        for b in totals["aging"]
    ]  # fmt: skip


def trend(filterset: ArrearsSummaryFilterSet, as_of: dt.date, months: int = 13) -> list[dict]:
    """Billed against received in each of the last 13 months and the arrears at each month-end,
    from the month-end summaries (the as-of date stands for its own month); a month without a
    summary is shown empty, not as zero."""
    ends = month_ends(as_of, months)
    found = {
        row["as_of"]: row
        for row in filterset.rows(every_date=True)
        .filter(as_of__in=ends)
        .order_by()
        .values("as_of")
        .annotate(billed=Sum("billed_month"), received=Sum("received_month"), arrears=Sum("arrears"))
    }
    out = []
    for end in ends:
        row = found.get(end)
        out.append(
            {
                "month_end": end,
                "month_start": month_bounds(end)[0],
                "billed": row["billed"] if row else None,
                "received": row["received"] if row else None,
                "arrears": row["arrears"] if row else None,
            }
        )
    return out


def _with_last_action(positions: QuerySet[ArrearsPosition]) -> QuerySet[ArrearsPosition]:
    activities = Activity.objects.filter(customer=OuterRef("customer_id")).order_by("-happened_at", "-id")
    notices = DunningNotice.objects.filter(
        customer=OuterRef("customer_id"), status=DunningNoticeStatusChoices.SENT, sent_at__isnull=False
    ).order_by("-sent_at", "-id")
    return positions.annotate(
        last_activity_at=Subquery(activities.values("happened_at")[:1]),
        last_activity_kind=Subquery(activities.values("kind")[:1]),
        last_notice_at=Subquery(notices.values("sent_at")[:1]),
        last_notice_level=Subquery(notices.values("level__code")[:1]),
    )


def last_action(position) -> dict | None:
    """The later of the customer's last collection activity and last notice sent."""
    candidates = []
    if position.last_activity_at is not None:
        label = Activity(kind=position.last_activity_kind).get_kind_display()
        candidates.append({"at": position.last_activity_at, "label": str(label), "kind": "activity"})
    if position.last_notice_at is not None:
        label = dict(DunningLevelCodeChoices.choices).get(position.last_notice_level, position.last_notice_level)
        candidates.append({"at": position.last_notice_at, "label": str(label), "kind": "notice"})
    return max(candidates, key=lambda c: c["at"]) if candidates else None


def top_debtors(positions: QuerySet[ArrearsPosition], limit: int = TOP_DEBTORS) -> list[ArrearsPosition]:
    rows = list(
        _with_last_action(positions.filter(arrears__gt=0))
        .select_related("customer", "customer__region", "customer__collector")
        .order_by("-arrears", "customer_id")[:limit]
    )
    for row in rows:
        row.last_action = last_action(row)
    return rows


def important_in_arrears(positions: QuerySet[ArrearsPosition], limit: int = IMPORTANT_SHOWN) -> list[ArrearsPosition]:
    return top_debtors(positions.filter(importance__in=IMPORTANT), limit)


def cutoff_orders(user, dimension_filterset) -> dict:
    """Open (proposed) and executed (supply off, or restore issued) cut-off orders of the scope
    and the chosen dimensions: counts and the latest few of each."""
    orders = CutoffOrder.objects.filter(customer__in=customers_visible_to(user))
    if dimension_filterset.is_valid():
        orders = dimension_filterset.filter_queryset(orders)
    counts = dict(orders.values_list("status").annotate(n=Count("id")).order_by())
    shown = orders.select_related("customer").order_by("-planned_at", "-id")
    return {
        "open_count": sum(counts.get(s, 0) for s in OPEN_CUTOFF),
        "executed_count": sum(counts.get(s, 0) for s in EXECUTED_CUTOFF),
        "open": list(shown.filter(status__in=OPEN_CUTOFF)[:CUTOFFS_SHOWN]),
        "executed": list(shown.filter(status__in=EXECUTED_CUTOFF)[:CUTOFFS_SHOWN]),
    }


def positions_date() -> dt.date | None:
    """The date of the per-customer positions (today's summary, kept current by the refresh)."""
    state = summary_state()
    return state.as_of if state else None


def cache_key(kind: str, user, filterset: ArrearsSummaryFilterSet, extra: str = "") -> str | None:
    """A cache key for a dashboard answer: whose rows (two users with the same scope share their
    answers: every manager, say), what is asked (the filterset's cleaned filters and the date they
    resolve to, so `?` and `?as_of=<latest>` share an answer and a stray parameter changes
    nothing), the summary's version (when each date was last written, so a refresh that changed
    something makes every cached answer stale without deleting anything) and `extra` (the
    language, the API's group_by). None when there is no summary or scope, or caching is off
    (`DASHBOARD_CACHE_SECONDS` 0)."""
    seen = visibility(user)
    if seen is None or not filterset.version or settings.DASHBOARD_CACHE_SECONDS <= 0:
        return None
    raw = f"{kind}|{seen.key}|{filterset.asked()}|{filterset.version}|{extra}"
    return f"dashboard:{kind}:" + hashlib.sha256(raw.encode()).hexdigest()
