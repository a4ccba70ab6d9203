"""Risk (floor 4): a versioned scorecard as data, credit scores with their reasons, the policy
per grade with proposals for staff, and early warnings (DESIGN.md rules 8–9)."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from core.i18n import bilingual
from customers.choices import CustomerSettlementModeChoices
from customers.models import Customer

from .choices import (
    AlertKindChoices,
    CriterionMethodChoices,
    CriterionSourceChoices,
    OverrideChoices,
    ProposalKindChoices,
    ProposalStatusChoices,
    RunStatusChoices,
    ScorecardStatusChoices,
)

DEFAULT_BANDS = [["AAA", 90], ["AA", 80], ["A", 70], ["B", 60], ["C", 0]]


def default_bands():
    return [list(band) for band in DEFAULT_BANDS]


class Scorecard(models.Model):
    """One version of the scoring rules (打分评价准则). A published version is never edited: a
    change is a new version, so old scores keep the rules they were computed with."""

    version = models.PositiveIntegerField(_("version"), unique=True)
    name = models.CharField(_("name"), max_length=100)
    status = models.CharField(
        _("status"), max_length=10, choices=ScorecardStatusChoices.choices, default=ScorecardStatusChoices.DRAFT
    )
    grade_bands = models.JSONField(
        _("grade bands"), default=default_bands, help_text=_("[[grade, lowest score], …] from the best grade down.")
    )
    notes = models.TextField(_("notes"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")  # fmt: skip
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")  # fmt: skip
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("scorecard")
        verbose_name_plural = _("scorecards")
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["status"], condition=Q(status="published"), name="scorecard_one_published")
        ]

    def __str__(self) -> str:
        return f"v{self.version} {self.name}"

    @property
    def grades(self) -> list[str]:
        return [grade for grade, _low in self.grade_bands]


class Criterion(models.Model):
    """One scoring rule: a data source, its weight in points, and how the value maps to points
    (bands, or linear between two values), with the reason shown to staff."""

    scorecard = models.ForeignKey(Scorecard, on_delete=models.CASCADE, related_name="criteria")
    key = models.SlugField(_("key"), max_length=40)
    group = models.CharField(_("group"), max_length=50, blank=True, help_text=_("e.g. payment behaviour"))
    label_en = models.CharField(_("label (English)"), max_length=100)
    label_zh = models.CharField(_("label (Chinese)"), max_length=100)
    source = models.CharField(_("data source"), max_length=30, choices=CriterionSourceChoices.choices, blank=True)
    weight = models.DecimalField(
        _("weight (points)"), max_digits=5, decimal_places=1, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    method = models.CharField(_("method"), max_length=10, choices=CriterionMethodChoices.choices,
                              default=CriterionMethodChoices.BANDS)  # fmt: skip
    bands = models.JSONField(
        _("bands"), default=list, blank=True,
        help_text=_('[{"min": a, "max": b, "points": p}, …]: min inclusive, max exclusive, null for open ends.'),
    )  # fmt: skip
    linear_from = models.DecimalField(_("value for no points"), max_digits=12, decimal_places=4, null=True,
                                      blank=True)  # fmt: skip
    linear_to = models.DecimalField(_("value for full points"), max_digits=12, decimal_places=4, null=True,
                                    blank=True)  # fmt: skip
    no_data_share = models.DecimalField(
        _("share of the weight without data"), max_digits=3, decimal_places=2, default=0.5,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
    )  # fmt: skip
    explanation_en = models.CharField(_("reason (English)"), max_length=200)
    explanation_zh = models.CharField(_("reason (Chinese)"), max_length=200)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("criterion")
        verbose_name_plural = _("criteria")
        ordering = ["scorecard", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["scorecard", "key"], name="criterion_unique_key")]

    def __str__(self) -> str:
        return f"{self.scorecard} {self.key}"


class ScoringRun(models.Model):
    """A scoring of all customers as of a date with one scorecard version; shows its progress."""

    as_of = models.DateField(_("as of"))
    scorecard = models.ForeignKey(Scorecard, on_delete=models.PROTECT, related_name="runs")
    status = models.CharField(_("status"), max_length=10, choices=RunStatusChoices.choices,
                              default=RunStatusChoices.RUNNING)  # fmt: skip
    total = models.PositiveIntegerField(_("customers"), default=0)
    done = models.PositiveIntegerField(_("scored"), default=0)
    started_at = models.DateTimeField(_("started at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("scoring run")
        verbose_name_plural = _("scoring runs")
        ordering = ["-as_of", "-id"]
        constraints = [models.UniqueConstraint(fields=["as_of", "scorecard"], name="scoring_run_once_per_date")]

    def __str__(self) -> str:
        return f"{self.as_of} v{self.scorecard_id}"


class CreditScore(models.Model):
    """A customer's score and grade as of a date under one scorecard version, with the points of
    each criterion and its reason, and the override that decided the grade if any."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="credit_scores")
    scorecard = models.ForeignKey(Scorecard, on_delete=models.PROTECT, related_name="scores")
    as_of = models.DateField(_("as of"))
    score = models.DecimalField(_("score"), max_digits=4, decimal_places=1)
    grade = models.CharField(_("grade"), max_length=3)
    score_grade = models.CharField(_("grade by score"), max_length=3)
    override = models.CharField(_("override"), max_length=20, choices=OverrideChoices.choices, blank=True)
    breakdown = models.JSONField(_("breakdown"), default=list)
    computed_at = models.DateTimeField(_("computed at"), auto_now_add=True)

    class Meta:
        verbose_name = _("credit score")
        verbose_name_plural = _("credit scores")
        ordering = ["-as_of", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "scorecard", "as_of"], name="credit_score_once_per_date")
        ]
        indexes = [models.Index(fields=["customer", "-as_of"])]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.as_of} {self.grade} {self.score}"


class GradePolicy(models.Model):
    """What a grade calls for (DESIGN.md rule 8): settlement mode, guarantee cover in months of
    the average bill, monitoring frequency and incentives. The dunning ladder of a grade is set
    on the dunning policy (its credit grades), the single place the dunning run reads."""

    grade = models.CharField(_("grade"), max_length=3, unique=True)
    settlement_mode = models.CharField(
        _("required settlement mode"), max_length=20, choices=CustomerSettlementModeChoices.choices, blank=True
    )
    guarantee_months = models.DecimalField(
        _("guarantee cover (months of average bill)"), max_digits=4, decimal_places=1, default=0,
        validators=[MinValueValidator(0)],
    )  # fmt: skip
    monitoring_days = models.PositiveSmallIntegerField(_("review every (days)"), default=30)
    incentives = models.CharField(_("incentives"), max_length=300, blank=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("grade policy")
        verbose_name_plural = _("grade policies")
        ordering = ["grade"]

    def __str__(self) -> str:
        return self.grade


class PolicyProposal(models.Model):
    """A change of treatment a customer's grade calls for, proposed to the area leader — never
    applied silently."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="policy_proposals")
    score = models.ForeignKey(CreditScore, on_delete=models.CASCADE, related_name="proposals")
    grade = models.CharField(_("grade"), max_length=3)
    kind = models.CharField(_("kind"), max_length=20, choices=ProposalKindChoices.choices)
    settlement_mode = models.CharField(
        _("proposed settlement mode"), max_length=20, choices=CustomerSettlementModeChoices.choices, blank=True
    )
    guarantee_amount = models.DecimalField(_("guarantee asked"), max_digits=14, decimal_places=2, null=True,
                                           blank=True)  # fmt: skip
    reason = models.CharField(_("reason"), max_length=300)
    reason_zh = models.CharField(_("reason (Chinese)"), max_length=300, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=ProposalStatusChoices.choices,
                              default=ProposalStatusChoices.OPEN)  # fmt: skip
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")  # fmt: skip
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.CharField(_("note"), max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("policy proposal")
        verbose_name_plural = _("policy proposals")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "kind"], condition=Q(status="open"),
                                    name="proposal_one_open_per_kind"),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"{self.customer_id} {self.kind} {self.status}"

    @property
    def reason_text(self) -> str:
        return bilingual(self.reason, self.reason_zh)


class RiskAlert(models.Model):
    """An early warning (预警) for the collector: it lands in the worklist and on the customer
    page until acknowledged with a note."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="risk_alerts")
    kind = models.CharField(_("kind"), max_length=20, choices=AlertKindChoices.choices)
    raised_on = models.DateField(_("raised on"))
    detail = models.CharField(_("detail"), max_length=300)
    detail_zh = models.CharField(_("detail (Chinese)"), max_length=300, blank=True)
    dedupe_key = models.CharField(max_length=100, unique=True)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="+")  # fmt: skip
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("risk alert")
        verbose_name_plural = _("risk alerts")
        ordering = ["-raised_on", "-id"]
        indexes = [models.Index(fields=["customer", "acknowledged_at"])]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.kind} {self.raised_on}"

    @property
    def detail_text(self) -> str:
        return bilingual(self.detail, self.detail_zh)
