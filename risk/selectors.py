"""Reads of the risk floor that depend on who is asking or span apps: the latest grade per
customer in the user's scope, a score's breakdown in the viewer's language, what would raise
the grade, and the open alerts for the collector's worklist."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import translation

from billing.selectors import overdue_bills_by_customer
from customers.models import Customer
from customers.selectors import customers_visible_to

from .choices import AlertKindChoices, ScorecardStatusChoices
from .models import CreditScore, PolicyProposal, RiskAlert, Scorecard

ZERO = Decimal("0")
TREND_SCORES = 12
SHORTFALL_CRITERIA = 3


def _latest_score_id():
    return CreditScore.objects.filter(customer=OuterRef("pk")).order_by("-as_of", "-id").values("pk")[:1]


def latest_scores(customers: QuerySet[Customer]) -> QuerySet[CreditScore]:
    """The latest score (by date, then the last computed) of each of these customers. One
    correlated subquery per customer that the (customer, -as_of) index answers; it needs no
    PostgreSQL-only DISTINCT ON, so the SQLite default runs it too."""
    latest = customers.annotate(latest_score=Subquery(_latest_score_id())).values("latest_score")
    return CreditScore.objects.filter(pk__in=latest).select_related("customer__region", "scorecard")


def latest_scores_visible_to(user: User | AnonymousUser) -> QuerySet[CreditScore]:
    return latest_scores(customers_visible_to(user))


def scores_of(customer: Customer) -> QuerySet[CreditScore]:
    """A customer's score history, newest first."""
    return customer.credit_scores.select_related("scorecard").order_by("-as_of", "-id")


def alerts_visible_to(user: User | AnonymousUser) -> QuerySet[RiskAlert]:
    return RiskAlert.objects.filter(customer__in=customers_visible_to(user)).select_related(
        "customer__region", "acknowledged_by"
    )


def proposals_visible_to(user: User | AnonymousUser) -> QuerySet[PolicyProposal]:
    return PolicyProposal.objects.filter(customer__in=customers_visible_to(user)).select_related(
        "customer__region", "decided_by", "score"
    )


def grades_known() -> list[str]:
    """Every grade a score can carry: the published scorecard's first (best first), then any
    other version's, so a score kept from a retired version can still be filtered."""
    cards = sorted(Scorecard.objects.only("grade_bands", "status"), key=lambda c: c.status != "published")
    seen: list[str] = []
    for card in cards:
        for band in card.grade_bands or []:
            grade = str(band[0]) if isinstance(band, list | tuple) and band else ""
            if grade and grade not in seen:
                seen.append(grade)
    return seen


def published_grades() -> tuple[Scorecard | None, list[str]]:
    card = Scorecard.objects.filter(status=ScorecardStatusChoices.PUBLISHED).first()
    return card, (card.grades if card else [])


# ---------------------------------------------------------------------------------------------
# A score as staff read it
# ---------------------------------------------------------------------------------------------
def _decimal(value) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, TypeError, ValueError):
        return ZERO


def uses_chinese(language: str | None = None) -> bool:
    return (language or translation.get_language() or "").lower().startswith("zh")


@dataclass
class BreakdownRow:
    key: str
    group: str
    label: str
    reason: str
    weight: Decimal
    points: Decimal
    value: float | None

    @property
    def shortfall(self) -> Decimal:
        return max(self.weight - self.points, ZERO)


def breakdown_rows(score: CreditScore, language: str | None = None) -> list[BreakdownRow]:
    """The criteria of a score with the label and reason in the viewer's language (the scoring
    stored both, so the reason reads as it did on the day it was computed)."""
    zh = uses_chinese(language)
    rows = []
    for item in score.breakdown or []:
        if not isinstance(item, dict):
            continue
        english_label, english_reason = item.get("label_en") or item.get("key", ""), item.get("reason_en", "")
        label = (item.get("label_zh") or english_label) if zh else english_label
        reason = (item.get("reason_zh") or english_reason) if zh else english_reason
        rows.append(
            BreakdownRow(
                key=str(item.get("key", "")),
                group=str(item.get("group", "")),
                label=str(label),
                reason=str(reason),
                weight=_decimal(item.get("weight")),
                points=_decimal(item.get("points")),
                value=item.get("value"),
            )
        )
    return rows


@dataclass
class GradeOutlook:
    """What would raise the grade: the points missing to the next band up and the criteria
    that lose the most points."""

    next_grade: str | None
    points_needed: Decimal | None
    shortfalls: list[BreakdownRow] = field(default_factory=list)
    at_best: bool = False


def grade_outlook(score: CreditScore, rows: list[BreakdownRow]) -> GradeOutlook:
    """Measured on the score's own bands (the version it was computed with). With an override
    the grade is set by the override, so the next band is counted from the grade by score."""
    bands = score.scorecard.grade_bands or []
    by_score = score.score_grade or score.grade
    grades = [str(b[0]) for b in bands]
    shortfalls = sorted((r for r in rows if r.shortfall > 0), key=lambda r: (-r.shortfall, r.label))
    shortfalls = shortfalls[:SHORTFALL_CRITERIA]
    if by_score not in grades or grades.index(by_score) == 0:
        return GradeOutlook(None, None, shortfalls, at_best=by_score in grades)
    next_grade, lowest = bands[grades.index(by_score) - 1]
    needed = max(_decimal(lowest) - _decimal(score.score), ZERO)
    return GradeOutlook(str(next_grade), needed, shortfalls)


def score_trend(customer: Customer, limit: int = TREND_SCORES) -> list[CreditScore]:
    """The last `limit` scores, oldest first (the order a chart reads)."""
    return list(scores_of(customer)[:limit])[::-1]


# ---------------------------------------------------------------------------------------------
# The collector's worklist (collection.selectors.worklist_for calls this via WORKLIST_SOURCES)
# ---------------------------------------------------------------------------------------------
def worklist_alerts(
    user: User | AnonymousUser, day: dt.date, scope: QuerySet[Customer]
) -> list[tuple[int, str, str, Decimal, str]]:
    """Open (unacknowledged) alerts raised by `day` for the customers in `scope`, as worklist
    rows (customer id, reason, detail, money at risk, action). A falling consumption is the
    earliest sign of arrears and is checked on site, so it asks for a visit; the rest for a call.
    The money at risk is the customer's overdue arrears, read only for the alerted customers."""
    alerts = list(
        RiskAlert.objects.filter(customer__in=scope, acknowledged_at__isnull=True, raised_on__lte=day).order_by(
            "raised_on", "id"
        )
    )
    if not alerts:
        return []
    alerted = scope.filter(pk__in={a.customer_id for a in alerts})
    arrears = {
        customer_id: sum((b.principal_due + b.penalty_due for b in bills), ZERO)
        for customer_id, bills in overdue_bills_by_customer(day, alerted).items()
    }
    return [
        (
            alert.customer_id,
            str(alert.get_kind_display()),
            alert.detail_text,
            arrears.get(alert.customer_id, ZERO),
            "visit" if alert.kind == AlertKindChoices.CONSUMPTION_DROP else "call",
        )
        for alert in alerts
    ]
