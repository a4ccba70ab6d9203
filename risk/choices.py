from django.db import models
from django.utils.translation import gettext_lazy as _


class ScorecardStatusChoices(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PUBLISHED = "published", _("Published")
    RETIRED = "retired", _("Retired")


class CriterionSourceChoices(models.TextChoices):
    """The fixed set of data sources a criterion can be computed from (risk.criteria)."""

    ON_TIME_RATIO = "on_time_ratio", _("Share of the last 12 bills paid on time")
    WORST_DAYS_OVERDUE = "worst_days_overdue", _("Worst days overdue in 12 months")
    ARREARS_RATIO = "arrears_ratio", _("Overdue arrears ÷ average bill")
    BROKEN_COMMITMENTS = "broken_commitments", _("Broken promises and arrangements in 12 months")
    OPERATING_STATUS = "operating_status", _("Operating status")
    CONSUMPTION_TREND = "consumption_trend", _("Consumption against the same months last year")
    POLICY_INDUSTRY = "policy_industry", _("Energy-intensive or over-capacity industry")
    EQUIPMENT_LINES = "equipment_lines", _("Equipment condition and supply lines")
    COVER_RATIO = "cover_ratio", _("Guarantees, deposits and prepaid balance ÷ average bill")


class CriterionMethodChoices(models.TextChoices):
    BANDS = "bands", _("Points by bands of the value")
    LINEAR = "linear", _("Linear between two values")


class RunStatusChoices(models.TextChoices):
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class OverrideChoices(models.TextChoices):
    THEFT = "theft", _("Electricity theft on record")
    LONG_ARREARS = "long_arrears", _("Three months of arrears without an agreement")
    NEW_CUSTOMER = "new_customer", _("New customer (fewer than 6 bills)")


class ProposalKindChoices(models.TextChoices):
    SETTLEMENT_MODE = "settlement_mode", _("Change the settlement mode")
    GUARANTEE = "guarantee", _("Ask for a guarantee")


class ProposalStatusChoices(models.TextChoices):
    OPEN = "open", _("Open")
    ACCEPTED = "accepted", _("Accepted")
    REJECTED = "rejected", _("Rejected")
    WITHDRAWN = "withdrawn", _("Withdrawn (grade changed)")


class AlertKindChoices(models.TextChoices):
    CONSUMPTION_DROP = "consumption_drop", _("Consumption drop")
    GUARANTEE_EXPIRING = "guarantee_expiring", _("Guarantee expiring")
    BROKEN_PROMISE = "broken_promise", _("Broken promise")
    BROKEN_ARRANGEMENT = "broken_arrangement", _("Broken arrangement")
    GRADE_FALL = "grade_fall", _("Grade fell two or more steps")
    NEW_ARREARS = "new_arrears", _("New arrears on a clean customer")
