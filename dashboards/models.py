"""The arrears summary behind the dashboards: per customer for today (`ArrearsPosition`) and per
date and dimension combination (`ArrearsSummary`), so a dashboard request sums a few thousand
summary rows instead of scanning every bill."""

import math

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from customers.models import Customer, Region

MONEY = {"max_digits": 16, "decimal_places": 2, "default": 0}
DIMENSIONS = ("region", "industry", "grade", "collector", "settlement_mode", "importance")


def _grains() -> tuple[tuple[str, ...], ...]:
    """The rollup's grains, smallest first (a request sums the first that holds what it needs):
    the area with any one or two of the other dimensions — a filter and a breakdown, or two
    filters — and everything but the collector. Ordered by how many rows a grain can have (a
    province's distinct values: 3 importances, 4 settlement modes, 6 grades, 12 industries, some
    300 collectors)."""
    values = {"importance": 3, "settlement_mode": 4, "grade": 6, "industry": 12, "collector": 300}
    others = sorted(values, key=values.get)
    grains = [()] + [(a,) for a in others] + [(a, b) for i, a in enumerate(others) for b in others[i + 1 :]]
    grains.sort(key=lambda grain: math.prod(values[d] for d in grain))
    grains.append(("industry", "grade", "settlement_mode", "importance"))
    return tuple(("region", *grain) for grain in grains)


ROLLUP_GRAINS = _grains()
MEASURES = (
    "customers", "overdue_customers", "arrears", "principal_overdue", "penalty_overdue",
    "aged_0_30", "aged_31_60", "aged_61_90", "aged_91_180", "aged_over_180",
    "due_month", "collected_month", "due_ytd", "collected_ytd",
    "penalty_accrued_month", "penalty_collected_month", "billed_month", "received_month", "exposure_uncovered",
)  # fmt: skip
MONEY_MEASURES = MEASURES[2:]


class Figures(models.Model):
    """The measures, shared by the per-customer position and the summary."""

    customers = models.PositiveIntegerField(_("customers"), default=0)
    overdue_customers = models.PositiveIntegerField(_("customers in arrears"), default=0)
    arrears = models.DecimalField(_("arrears (overdue principal and penalty)"), **MONEY)
    principal_overdue = models.DecimalField(_("overdue principal"), **MONEY)
    penalty_overdue = models.DecimalField(_("unpaid penalty"), **MONEY)
    aged_0_30 = models.DecimalField(_("0–30 days"), **MONEY)
    aged_31_60 = models.DecimalField(_("31–60 days"), **MONEY)
    aged_61_90 = models.DecimalField(_("61–90 days"), **MONEY)
    aged_91_180 = models.DecimalField(_("91–180 days"), **MONEY)
    aged_over_180 = models.DecimalField(_("over 180 days"), **MONEY)
    due_month = models.DecimalField(_("principal due this month"), **MONEY)
    collected_month = models.DecimalField(_("collected on this month's bills"), **MONEY)
    due_ytd = models.DecimalField(_("principal due this year"), **MONEY)
    collected_ytd = models.DecimalField(_("collected on this year's bills"), **MONEY)
    penalty_accrued_month = models.DecimalField(_("penalty accrued this month"), **MONEY)
    penalty_collected_month = models.DecimalField(_("penalty collected this month"), **MONEY)
    billed_month = models.DecimalField(_("billed this month"), **MONEY)
    received_month = models.DecimalField(_("received this month"), **MONEY)
    exposure_uncovered = models.DecimalField(_("exposure not covered"), **MONEY)

    class Meta:
        abstract = True


class ArrearsPosition(Figures):
    """One customer's figures as of the latest summary date, with its dimensions then — so an
    incremental refresh knows which summary rows the customer counted in."""

    customer = models.OneToOneField(Customer, on_delete=models.CASCADE, primary_key=True, related_name="+")
    as_of = models.DateField(_("as of"))
    region = models.ForeignKey(Region, on_delete=models.CASCADE, related_name="+")
    industry = models.CharField(max_length=20)
    grade = models.CharField(max_length=3, blank=True)
    collector = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    settlement_mode = models.CharField(max_length=20)
    importance = models.CharField(max_length=10)

    class Meta:
        verbose_name = _("arrears position")
        verbose_name_plural = _("arrears positions")
        # The top-debtor lists: the largest first, read from the top of the index.
        indexes = [models.Index(fields=["-arrears", "customer"], name="arrears_position_largest")]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.as_of} {self.arrears}"


class ArrearsSummary(Figures):
    """The figures of every customer sharing one combination of dimensions, as of a date."""

    as_of = models.DateField(_("as of"), db_index=True)
    region = models.ForeignKey(Region, on_delete=models.CASCADE, related_name="+")
    industry = models.CharField(max_length=20)
    grade = models.CharField(max_length=3, blank=True)
    # Indexed with the date: a collector's dashboard sums their own few rows of the date.
    collector = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    settlement_mode = models.CharField(max_length=20)
    importance = models.CharField(max_length=10)

    class Meta:
        verbose_name = _("arrears summary")
        verbose_name_plural = _("arrears summaries")
        constraints = [
            models.UniqueConstraint(
                fields=["as_of", *DIMENSIONS], nulls_distinct=False, name="arrears_summary_one_row_per_combination"
            )
        ]
        indexes = [models.Index(fields=["as_of", "collector"], name="arrears_summary_collector")]

    def __str__(self) -> str:
        return f"{self.as_of} {self.region_id} {self.industry} {self.arrears}"


class ArrearsRollup(Figures):
    """The summary summed over fewer dimensions ("grains"), one set of rows per date and grain; a
    dimension outside the grain is blank (collector: null). A province's date has some 40,000
    summary rows (collectors split every combination of an area) but 37 rows by area, a few
    hundred by area and collector, some 8,000 by everything but the collector: a request sums the
    smallest grain that holds what it filters, groups and is scoped by
    (`ArrearsSummaryFilterSet.rows`). Every grain holds the area, which scoping needs."""

    as_of = models.DateField(_("as of"))
    grain = models.CharField(max_length=80)
    region = models.ForeignKey(Region, on_delete=models.CASCADE, related_name="+")
    industry = models.CharField(max_length=20, blank=True)
    grade = models.CharField(max_length=3, blank=True)
    collector = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    settlement_mode = models.CharField(max_length=20, blank=True)
    importance = models.CharField(max_length=10, blank=True)

    class Meta:
        verbose_name = _("arrears rollup")
        verbose_name_plural = _("arrears rollups")
        constraints = [
            models.UniqueConstraint(
                fields=["as_of", "grain", *DIMENSIONS],
                nulls_distinct=False,
                name="arrears_rollup_one_row_per_combination",
            )
        ]

    def __str__(self) -> str:
        return f"{self.as_of} {self.grain} {self.region_id} {self.arrears}"


class SummaryDate(models.Model):
    """A date the summary has been built for, and when: the dashboard's date choices and the
    version its cached answers are keyed by, read from a dozen rows instead of a DISTINCT over
    the summary."""

    as_of = models.DateField(_("as of"), primary_key=True)
    rows = models.PositiveIntegerField(_("summary rows"), default=0)
    built_at = models.DateTimeField(_("built at"))

    class Meta:
        verbose_name = _("summary date")
        verbose_name_plural = _("summary dates")
        ordering = ["-as_of"]

    def __str__(self) -> str:
        return f"{self.as_of} ({self.rows})"


class SummaryState(models.Model):
    """Where the incremental refresh stands: changes after `watermark` are not yet counted."""

    as_of = models.DateField(_("summary date"))
    watermark = models.DateTimeField(_("changes counted up to"))
    accrual_watermark = models.BigIntegerField(default=0, help_text="Penalty accruals up to this id are counted.")
    rebuilt_at = models.DateTimeField(_("last full rebuild"), null=True, blank=True)
    refreshed_at = models.DateTimeField(_("last refresh"), null=True, blank=True)
    customers_refreshed = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.as_of} {self.watermark:%Y-%m-%d %H:%M:%S}"
