"""Writes of the risk pages beside scoring itself: editing a draft scorecard, and the policy of
a grade together with the dunning ladder it gets (alerts are acknowledged in risk.alerts).

The dunning ladder of a grade is stored where the dunning run reads it — the credit grades of
collection's DunningPolicy — so there is one place that decides it, not a copy here.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from collection.models import DunningPolicy
from core.roles import is_manager

from .choices import ScorecardStatusChoices
from .models import Criterion, GradePolicy, Scorecard

NOTE_MAX = 300  # the note of an alert and of a proposal decision (the model fields)
CRITERION_FIELDS = (
    "key", "group", "label_en", "label_zh", "source", "weight", "method", "bands", "linear_from", "linear_to",
    "no_data_share", "explanation_en", "explanation_zh", "position",
)  # fmt: skip
GRADE_POLICY_FIELDS = ("settlement_mode", "guarantee_months", "monitoring_days", "incentives")


def _require_manager(by: User, message: str) -> None:
    if not (by.is_superuser or is_manager(by)):
        raise PermissionDenied(message)


# ---------------------------------------------------------------------------------------------
# Draft scorecards (a published version is never edited: scorecard_draft_from makes a new one)
# ---------------------------------------------------------------------------------------------
def _editable(card: Scorecard, by: User) -> Scorecard:
    _require_manager(by, _("Only managers edit scorecards."))
    card = Scorecard.objects.select_for_update().get(pk=card.pk)
    if card.status != ScorecardStatusChoices.DRAFT:
        raise ValidationError(
            _("Version %(version)s is %(status)s and cannot be changed; make a new draft from it.")
            % {"version": card.version, "status": card.get_status_display().lower()}
        )
    return card


@transaction.atomic
def scorecard_draft_update(*, card: Scorecard, data: dict[str, Any], by: User) -> Scorecard:
    """Name, notes and grade bands of a draft. Whether the bands make sense is checked when it
    is published (scorecard_check), so a draft can be saved half-done."""
    card = _editable(card, by)
    for name in ("name", "notes", "grade_bands"):
        if name in data:
            setattr(card, name, data[name])
    card._history_user = by
    card.full_clean()
    card.save()
    return card


@transaction.atomic
def criterion_save(*, card: Scorecard, data: dict[str, Any], by: User, criterion: Criterion | None = None) -> Criterion:
    card = _editable(card, by)
    if criterion is not None and criterion.scorecard_id != card.pk:
        raise ValidationError(_("This criterion belongs to another version."))
    criterion = criterion or Criterion(scorecard=card)
    for name in CRITERION_FIELDS:
        if name in data:
            setattr(criterion, name, data[name])
    if Criterion.objects.filter(scorecard=card, key=criterion.key).exclude(pk=criterion.pk).exists():
        raise ValidationError({"key": _("This version already has a criterion %(key)s.") % {"key": criterion.key}})
    criterion.full_clean()
    criterion.save()
    # The scorecard's audit trail says when its rules changed, and by whom.
    card._history_user = by
    card._change_reason = _("Criterion %(key)s saved") % {"key": criterion.key}
    card.save()
    return criterion


@transaction.atomic
def criterion_delete(*, criterion: Criterion, by: User) -> None:
    card = _editable(criterion.scorecard, by)
    key = criterion.key
    criterion.delete()
    card._history_user = by
    card._change_reason = _("Criterion %(key)s removed") % {"key": key}
    card.save()


# ---------------------------------------------------------------------------------------------
# Grade policies
# ---------------------------------------------------------------------------------------------
def grade_check(grade: str) -> str:
    """A grade policy only for a grade the published scorecard can give."""
    card = Scorecard.objects.filter(status=ScorecardStatusChoices.PUBLISHED).first()
    grades = card.grades if card else []
    grade = (grade or "").strip().upper()
    if grade not in grades:
        raise ValidationError(
            {
                "grade": _("%(grade)s is not a grade of the published scorecard; its grades are %(grades)s.")
                % {"grade": grade or "—", "grades": ", ".join(grades) or "—"}
            }
        )
    return grade


def dunning_policies_for(grade: str) -> list[DunningPolicy]:
    """The active segment policies naming the grade, the one the dunning run tries first first."""
    return [
        p
        for p in DunningPolicy.objects.filter(active=True, is_default=False).order_by("priority", "code")
        if grade.upper() in p.grade_list
    ]


def dunning_policy_choices():
    """Policies that can be given a grade: active segment policies that already name grades.
    One that names none applies to every grade, and narrowing it to one would quietly change
    the ladder of all the others; its grades are set in the dunning policy admin first."""
    return (
        DunningPolicy.objects.filter(active=True, is_default=False)
        .exclude(credit_grades="")
        .order_by("priority", "code")
    )


def _grades_text(grades: list[str]) -> str:
    return ",".join(grades)


def _dunning_assign(grade: str, chosen: DunningPolicy | None) -> list[str]:
    """Make `chosen` (None: the default ladder) the one policy that names the grade. Returns
    what changed, in words, for the audit trail and the message."""
    changes: list[str] = []
    policies = list(DunningPolicy.objects.select_for_update().filter(is_default=False).order_by("priority", "code"))
    if chosen is not None:
        chosen = next((p for p in policies if p.pk == chosen.pk), None)
        if chosen is None or not chosen.active:
            raise ValidationError({"dunning_policy": _("Choose an active dunning policy.")})
        if not chosen.grade_list:
            raise ValidationError(
                {
                    "dunning_policy": _(
                        "%(policy)s applies to every grade; give it its grades in the dunning policy admin first."
                    )
                    % {"policy": chosen.name}
                }
            )
    for policy in policies:
        grades = [g.strip().upper() for g in policy.credit_grades.split(",") if g.strip()]
        if policy == chosen:
            if grade not in grades:
                policy.credit_grades = _grades_text([*grades, grade])
                policy.save(update_fields=["credit_grades"])
                changes.append(_("%(grade)s added to %(policy)s") % {"grade": grade, "policy": policy.name})
            continue
        if grade in grades:
            rest = [g for g in grades if g != grade]
            if not rest:
                # Left without grades the policy would apply to every grade: refuse instead.
                raise ValidationError(
                    {
                        "dunning_policy": _(
                            "%(policy)s is only for grade %(grade)s; taking the grade away would make it apply to "
                            "every grade. Deactivate it or give it another grade in the dunning policy admin first."
                        )
                        % {"policy": policy.name, "grade": grade}
                    }
                )
            policy.credit_grades = _grades_text(rest)
            policy.save(update_fields=["credit_grades"])
            changes.append(_("%(grade)s removed from %(policy)s") % {"grade": grade, "policy": policy.name})
    return changes


@transaction.atomic
def grade_policy_save(
    *, grade: str, data: dict[str, Any], by: User, dunning_policy: DunningPolicy | None | bool = False
) -> tuple[GradePolicy, list[str]]:
    """Create or change the policy of a grade, and (unless `dunning_policy` is False) the
    dunning ladder the grade gets. A grade the published scorecard does not give is refused.
    Returns the policy and the dunning changes in words."""
    _require_manager(by, _("Only managers edit grade policies."))
    grade = grade_check(grade)
    policy = GradePolicy.objects.select_for_update().filter(grade=grade).first() or GradePolicy(grade=grade)
    for name in GRADE_POLICY_FIELDS:
        if name in data:
            setattr(policy, name, data[name])
    if policy.guarantee_months is not None:
        policy.guarantee_months = Decimal(policy.guarantee_months)
    policy.full_clean()
    changes = [] if dunning_policy is False else _dunning_assign(grade, dunning_policy or None)
    policy._history_user = by
    if changes:
        policy._change_reason = _("Dunning: %(changes)s") % {"changes": "; ".join(changes)}
    policy.save()
    return policy, changes
