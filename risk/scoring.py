"""Scoring as pure functions: a criterion's points for a value, the grade for a score, the
overrides, and the checks a scorecard must pass before it is published."""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.utils import translation
from django.utils.translation import gettext as _

from .choices import CriterionMethodChoices, CriterionSourceChoices, OverrideChoices
from .criteria import LONG_ARREARS_DAYS, NEW_CUSTOMER_BILLS, CustomerInputs
from .models import Criterion, Scorecard

TENTH = Decimal("0.1")
REASON_FIELDS = {  # what each source's reason may say, besides {value}
    CriterionSourceChoices.ON_TIME_RATIO: {"on_time", "count"},
    CriterionSourceChoices.WORST_DAYS_OVERDUE: {"days"},
    CriterionSourceChoices.ARREARS_RATIO: {"arrears", "share"},
    CriterionSourceChoices.BROKEN_COMMITMENTS: {"count"},
    CriterionSourceChoices.OPERATING_STATUS: {"status"},
    CriterionSourceChoices.CONSUMPTION_TREND: {"change", "basis"},
    CriterionSourceChoices.POLICY_INDUSTRY: {"industry", "assessment"},
    CriterionSourceChoices.EQUIPMENT_LINES: {"condition", "lines"},
    CriterionSourceChoices.COVER_RATIO: {"cover", "months"},
}


def _num(value) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def points_for(criterion: Criterion, value: float | None) -> Decimal:
    """Points of a value: the band it falls in (min inclusive, max exclusive), or linear
    between the value for no points and the value for full points. No data: the set share."""
    weight = Decimal(criterion.weight)
    if value is None:
        return (weight * Decimal(criterion.no_data_share)).quantize(TENTH, rounding=ROUND_HALF_UP)
    value = Decimal(str(value))
    if criterion.method == CriterionMethodChoices.LINEAR:
        low, high = Decimal(criterion.linear_from), Decimal(criterion.linear_to)
        share = (value - low) / (high - low)
        share = min(max(share, Decimal(0)), Decimal(1))
        return (weight * share).quantize(TENTH, rounding=ROUND_HALF_UP)
    for band in criterion.bands:
        low, high = _num(band.get("min")), _num(band.get("max"))
        if (low is None or value >= low) and (high is None or value < high):
            return Decimal(str(band["points"])).quantize(TENTH)
    return Decimal(0)  # unreachable for a validated scorecard: the bands cover every value


def grade_for(score: Decimal, bands: list) -> str:
    for grade, lowest in bands:
        if score >= Decimal(str(lowest)):
            return grade
    return bands[-1][0]


def step_of(grade: str, bands: list) -> int:
    """0 for the best grade; a grade not in the bands counts as the worst."""
    grades = [g for g, _low in bands]
    return grades.index(grade) if grade in grades else len(grades)


@dataclass
class ScoreResult:
    score: Decimal
    score_grade: str
    grade: str
    override: str = ""
    breakdown: list[dict] = field(default_factory=list)


def _reason(template: str, fact, language: str) -> str:
    with translation.override(language):
        values = {key: str(val) for key, val in fact.facts.items()}
        if fact.value is None:
            return _("insufficient history")
        values.setdefault("value", f"{fact.value:g}")
        try:
            return template.format(**values)
        except (KeyError, IndexError, ValueError):
            return template


def score(inputs: CustomerInputs, scorecard: Scorecard, criteria: list[Criterion]) -> ScoreResult:
    total = Decimal(0)
    breakdown = []
    for criterion in criteria:
        fact = inputs.sources.get(criterion.source)
        if fact is None:
            from .criteria import Fact

            fact = Fact(None)
        points = points_for(criterion, fact.value)
        total += points
        breakdown.append(
            {
                "key": criterion.key,
                "group": criterion.group,
                "label_en": criterion.label_en,
                "label_zh": criterion.label_zh,
                "weight": str(criterion.weight),
                "points": str(points),
                "value": None if fact.value is None else round(fact.value, 4),
                "reason_en": _reason(criterion.explanation_en, fact, "en"),
                "reason_zh": _reason(criterion.explanation_zh, fact, "zh-hans"),
            }
        )
    total = total.quantize(TENTH, rounding=ROUND_HALF_UP)
    bands = scorecard.grade_bands
    by_score = grade_for(total, bands)
    grade, override = by_score, ""
    worst = bands[-1][0]
    if inputs.theft_on is not None:
        grade, override = worst, OverrideChoices.THEFT
    elif inputs.oldest_overdue_days > LONG_ARREARS_DAYS and not inputs.arranged:
        grade, override = worst, OverrideChoices.LONG_ARREARS
    elif inputs.bills_count < NEW_CUSTOMER_BILLS:
        # A new customer starts at A (the grade of 70 points under the default bands) until
        # it has six bills to judge it by.
        grade, override = _new_customer_grade(bands), OverrideChoices.NEW_CUSTOMER
    return ScoreResult(total, by_score, grade, override, breakdown)


def _new_customer_grade(bands: list) -> str:
    grades = [g for g, _low in bands]
    return "A" if "A" in grades else grades[len(grades) // 2]


def scorecard_check(scorecard: Scorecard, criteria: list[Criterion]) -> None:
    """Everything a scorecard must satisfy to be published; one ValidationError listing each
    problem with the criterion it concerns."""
    errors: list[str] = []
    bands = scorecard.grade_bands
    try:
        lows = [Decimal(str(low)) for _g, low in bands]
        grades = [str(g) for g, _low in bands]
    except (TypeError, ValueError, ArithmeticError):
        raise ValidationError(_("Grade bands are pairs of a grade and its lowest score.")) from None
    if not bands or len(set(grades)) != len(grades) or any(not g for g in grades):
        errors.append(_("Grade bands need distinct, non-empty grades."))
    if lows != sorted(lows, reverse=True) or len(set(lows)) != len(lows):
        errors.append(_("Grade bands go from the best grade down, each lowest score below the one before."))
    if lows and lows[-1] != 0:
        errors.append(_("The last grade band starts at 0 so that every score has a grade."))
    if not criteria:
        errors.append(_("A scorecard needs at least one criterion."))
    total = sum((Decimal(c.weight) for c in criteria), Decimal(0))
    if total != 100:
        errors.append(_("The weights add up to %(total)s, not 100.") % {"total": total})
    for c in criteria:
        name = c.key or "?"
        if not c.source:
            errors.append(_("Criterion %(key)s has no data source.") % {"key": name})
        elif c.source not in CriterionSourceChoices.values:
            errors.append(_("Criterion %(key)s has an unknown data source.") % {"key": name})
        if c.method == CriterionMethodChoices.LINEAR:
            if c.linear_from is None or c.linear_to is None or c.linear_from == c.linear_to:
                errors.append(_("Criterion %(key)s needs two different values for the linear scale.") % {"key": name})
        else:
            errors += _band_problems(c, name)
        allowed = REASON_FIELDS.get(c.source, set()) | {"value"}
        for text in (c.explanation_en, c.explanation_zh):
            try:
                used = {n for _l, n, _s, _c in string.Formatter().parse(text) if n}
            except ValueError:
                used = {"{"}
            if used - allowed:
                errors.append(
                    _("The reason of criterion %(key)s uses %(names)s; it may use %(allowed)s.")
                    % {"key": name, "names": ", ".join(sorted(used - allowed)),
                       "allowed": ", ".join("{%s}" % a for a in sorted(allowed))}  # noqa: UP031
                )  # fmt: skip
    if errors:
        raise ValidationError(errors)


def _band_problems(criterion: Criterion, name: str) -> list[str]:
    bands = criterion.bands
    if not isinstance(bands, list) or not bands:
        return [_("Criterion %(key)s has no bands.") % {"key": name}]
    try:
        rows = [(_num(b.get("min")), _num(b.get("max")), Decimal(str(b["points"]))) for b in bands]
    except (AttributeError, KeyError, TypeError, ValueError, ArithmeticError):
        return [_("Criterion %(key)s: each band has min, max and points.") % {"key": name}]
    rows.sort(key=lambda r: (r[0] is not None, r[0] or 0))
    problems = []
    if rows[0][0] is not None or rows[-1][1] is not None:
        problems.append(_("Criterion %(key)s: the bands must start and end open (null), to cover every value.")
                        % {"key": name})  # fmt: skip
    for (low, high, points), following in zip(rows, [*rows[1:], None], strict=True):
        if low is not None and high is not None and low >= high:
            problems.append(_("Criterion %(key)s: a band ends before it starts.") % {"key": name})
        if not Decimal(0) <= points <= Decimal(criterion.weight):
            problems.append(_("Criterion %(key)s: band points must be between 0 and the weight.") % {"key": name})
        if following is not None and high != following[0]:
            kind = _("overlap") if high is None or (following[0] is not None and following[0] < high) else _("a gap")
            problems.append(_("Criterion %(key)s: the bands have %(kind)s at %(value)s.")
                            % {"key": name, "kind": kind, "value": high})  # fmt: skip
    return problems
