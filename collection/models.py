"""Collections (floor 3): the dunning ladder and collection cases.

A notice covers all of a customer's overdue bills at one level (not one per bill) and
belongs to an arrears *episode* — identified by the oldest overdue bill — so a customer is
never sent the same level twice for the same arrears.
"""

import string

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from billing.models import MONEY, Bill
from customers.choices import CustomerImportanceChoices, CustomerSettlementModeChoices
from customers.models import Customer, Notification, Region

from .choices import (
    ActivityKindChoices,
    ActivityOutcomeChoices,
    ArrangementStatusChoices,
    CollectionCaseStatusChoices,
    CutoffStatusChoices,
    DunningLevelCodeChoices,
    DunningNoticeStatusChoices,
    PromiseStatusChoices,
)


class DunningPolicy(models.Model):
    """A dunning ladder (催费策略) and the customers it is for. A customer gets the active policy
    of lowest priority number whose segment (credit grades, importance, settlement mode; blank
    = any) it belongs to, else the default policy."""

    code = models.CharField(_("code"), max_length=30, unique=True)
    name = models.CharField(_("name"), max_length=100)
    is_default = models.BooleanField(_("default policy"), default=False)
    active = models.BooleanField(_("active"), default=True)
    priority = models.PositiveSmallIntegerField(
        _("priority"), default=100, help_text=_("When several policies fit a customer, the lowest number wins.")
    )
    credit_grades = models.CharField(
        _("credit grades"), max_length=50, blank=True, help_text=_("Comma-separated, e.g. B,C; blank for any grade.")
    )
    importance = models.CharField(_("importance"), max_length=10, choices=CustomerImportanceChoices.choices, blank=True)
    settlement_mode = models.CharField(
        _("settlement mode"), max_length=20, choices=CustomerSettlementModeChoices.choices, blank=True
    )

    class Meta:
        verbose_name = _("dunning policy")
        verbose_name_plural = _("dunning policies")
        ordering = ["priority", "code"]
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True), name="dunning_one_default"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def grade_list(self) -> set[str]:
        return {g.strip().upper() for g in self.credit_grades.split(",") if g.strip()}

    def fits(self, customer: Customer) -> bool:
        grades = self.grade_list
        return (
            (not grades or customer.credit_grade.upper() in grades)
            and (not self.importance or customer.importance == self.importance)
            and (not self.settlement_mode or customer.settlement_mode == self.settlement_mode)
        )


NOTICE_PLACEHOLDERS = ("name", "account", "amount", "penalty", "bills", "days", "channels")


def notice_template_check(text: str) -> None:
    """Raise ValidationError when a notice text uses a placeholder the run cannot fill."""
    try:
        names = {name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name is not None}
    except ValueError as exc:
        raise ValidationError(_("The text has an unmatched brace: %(error)s") % {"error": exc}) from exc
    unknown = names - set(NOTICE_PLACEHOLDERS)
    if unknown:
        raise ValidationError(
            _("Unknown placeholder(s) %(names)s; use %(fields)s.")
            % {"names": ", ".join(sorted(unknown)), "fields": ", ".join(f"{{{f}}}" for f in NOTICE_PLACEHOLDERS)}
        )


class DunningLevel(models.Model):
    """One step of a ladder: from how many days overdue, through which channels, with which
    texts, and whether a leader must approve it first."""

    policy = models.ForeignKey(DunningPolicy, on_delete=models.CASCADE, related_name="levels")
    step = models.PositiveSmallIntegerField(_("step"), validators=[MinValueValidator(1)])
    code = models.CharField(_("kind"), max_length=20, choices=DunningLevelCodeChoices.choices)
    days_overdue = models.PositiveSmallIntegerField(_("from days overdue"), validators=[MinValueValidator(1)])
    channels = models.CharField(_("channels"), max_length=50, default="sms,wechat,email")
    needs_approval = models.BooleanField(_("needs a leader's approval"), default=False)
    call_task = models.BooleanField(_("collector calls the customer"), default=False)
    subject_en = models.CharField(_("subject (English)"), max_length=200)
    subject_zh = models.CharField(_("subject (Chinese)"), max_length=200)
    template_en = models.TextField(_("text (English)"))
    template_zh = models.TextField(_("text (Chinese)"))
    short_en = models.TextField(
        _("short text for SMS and WeChat (English)"), blank=True, help_text=_("Blank: the full text is sent.")
    )
    short_zh = models.TextField(
        _("short text for SMS and WeChat (Chinese)"), blank=True, help_text=_("Blank: the full text is sent.")
    )

    class Meta:
        verbose_name = _("dunning level")
        verbose_name_plural = _("dunning levels")
        ordering = ["policy", "step"]
        constraints = [models.UniqueConstraint(fields=["policy", "step"], name="dunning_level_unique_step")]

    def __str__(self) -> str:
        return f"{self.policy.code} {self.step} {self.get_code_display()}"

    def clean(self) -> None:
        errors = {}
        for name in ("subject_en", "subject_zh", "template_en", "template_zh", "short_en", "short_zh"):
            try:
                notice_template_check(getattr(self, name))
            except ValidationError as exc:
                errors[name] = exc.messages
        if errors:
            raise ValidationError(errors)


class DunningNotice(models.Model):
    """A notice at one level to one customer for one arrears episode, with what it said."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="dunning_notices")
    level = models.ForeignKey(DunningLevel, on_delete=models.PROTECT, related_name="notices")
    episode_bill = models.ForeignKey(
        Bill, on_delete=models.PROTECT, related_name="+", help_text=_("The oldest overdue bill of the arrears.")
    )
    status = models.CharField(_("status"), max_length=10, choices=DunningNoticeStatusChoices.choices)
    proposed_on = models.DateField(_("proposed on"))
    overdue_days = models.PositiveIntegerField(_("days overdue"))
    amount_due = models.DecimalField(_("amount due"), **MONEY)
    bills = models.JSONField(_("bills"), default=list)
    text = models.TextField(_("text"), blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    notifications = models.ManyToManyField(Notification, blank=True, related_name="dunning_notices")
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords(excluded_fields=["bills", "text"])

    class Meta:
        verbose_name = _("dunning notice")
        verbose_name_plural = _("dunning notices")
        ordering = ["-proposed_on", "-id"]
        constraints = [
            # Never the same level twice for the same arrears (a cancelled proposal may be proposed again).
            models.UniqueConstraint(
                fields=["customer", "level", "episode_bill"],
                condition=~Q(status__in=["cancelled", "rejected"]),
                name="dunning_notice_once_per_episode",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.level} {self.status}"


class CollectionCase(models.Model):
    """A collection case (催收案件): opened when a customer is overdue beyond the first level,
    closed when its arrears reach zero."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="collection_cases")
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=CollectionCaseStatusChoices.choices,
        default=CollectionCaseStatusChoices.OPEN,
    )
    opened_on = models.DateField(_("opened on"))
    closed_on = models.DateField(_("closed on"), null=True, blank=True)
    arrears_at_opening = models.DecimalField(_("arrears at opening"), **MONEY)

    class Meta:
        verbose_name = _("collection case")
        verbose_name_plural = _("collection cases")
        ordering = ["-opened_on", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["customer"], condition=Q(status="open"), name="case_one_open_per_customer"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.opened_on}"


class Activity(models.Model):
    """What a collector did (催收记录): a call, a visit, a notice handed over, a note."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="collection_activities")
    case = models.ForeignKey(
        CollectionCase, null=True, blank=True, on_delete=models.SET_NULL, related_name="activities"
    )
    kind = models.CharField(_("kind"), max_length=10, choices=ActivityKindChoices.choices)
    outcome = models.CharField(_("outcome"), max_length=10, choices=ActivityOutcomeChoices.choices, blank=True)
    note = models.TextField(_("note"), blank=True)
    happened_at = models.DateTimeField(_("when"))
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        ordering = ["-happened_at", "-id"]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.kind} {self.happened_at:%Y-%m-%d}"


class PromiseToPay(models.Model):
    """A promise to pay an amount by a date (承诺缴费); kept or broken is decided from the
    payments received between the promise and its date."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="payment_promises")
    case = models.ForeignKey(CollectionCase, null=True, blank=True, on_delete=models.SET_NULL, related_name="promises")
    promised_on = models.DateField(_("promised for"))
    amount = models.DecimalField(_("amount"), **MONEY)
    status = models.CharField(
        _("status"), max_length=10, choices=PromiseStatusChoices.choices, default=PromiseStatusChoices.OPEN
    )
    made_on = models.DateField(_("made on"))
    resolved_on = models.DateField(_("resolved on"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("promise to pay")
        verbose_name_plural = _("promises to pay")
        ordering = ["promised_on", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="promise_positive"),
            models.CheckConstraint(condition=Q(promised_on__gte=models.F("made_on")), name="promise_not_in_past"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.amount} by {self.promised_on}"


class CollectorAssignment(models.Model):
    """The history of who answered for a customer (包点职工): each reassignment with who and why."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="collector_assignments")
    collector = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    previous = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    assigned_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    assigned_on = models.DateField(_("assigned on"))
    reason = models.CharField(_("reason"), max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("collector assignment")
        verbose_name_plural = _("collector assignments")
        ordering = ["-assigned_on", "-id"]

    def __str__(self) -> str:
        return f"{self.customer_id} → {self.collector_id}"


class PaymentArrangement(models.Model):
    """An instalment agreement for old arrears (分次结算协议 / 还款协议): a schedule that covers
    what the customer owed when it was signed. While it is kept, dunning is suspended."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="payment_arrangements")
    case = models.ForeignKey(CollectionCase, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    total = models.DecimalField(_("total"), **MONEY)
    status = models.CharField(
        _("status"), max_length=10, choices=ArrangementStatusChoices.choices, default=ArrangementStatusChoices.ACTIVE
    )
    made_on = models.DateField(_("made on"))
    resolved_on = models.DateField(_("resolved on"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("payment arrangement")
        verbose_name_plural = _("payment arrangements")
        ordering = ["-made_on", "-id"]
        constraints = [models.CheckConstraint(condition=Q(total__gt=0), name="arrangement_positive")]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.total}"


class ArrangementInstalment(models.Model):
    arrangement = models.ForeignKey(PaymentArrangement, on_delete=models.CASCADE, related_name="instalments")
    due_on = models.DateField(_("due on"))
    amount = models.DecimalField(_("amount"), **MONEY)

    class Meta:
        verbose_name = _("arrangement instalment")
        verbose_name_plural = _("arrangement instalments")
        ordering = ["arrangement", "due_on"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="arrangement_instalment_positive")]

    def __str__(self) -> str:
        return f"{self.arrangement_id} {self.due_on} {self.amount}"


class CutoffOrder(models.Model):
    """A supply suspension order (停电) behind the legal gate of DESIGN.md rule 4. It keeps its
    evidence: the notices served, who approved and when, the re-notice, the power-administration
    record for important users, and the trip or field order."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="cutoff_orders")
    status = models.CharField(
        _("status"), max_length=10, choices=CutoffStatusChoices.choices, default=CutoffStatusChoices.PROPOSED
    )
    planned_at = models.DateTimeField(_("planned for"))
    reason = models.CharField(_("reason"), max_length=300)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    leader_approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    leader_approved_at = models.DateTimeField(_("area leader approved at"), null=True, blank=True)
    manager_approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    manager_approved_at = models.DateTimeField(_("manager approved at"), null=True, blank=True)
    power_admin_informed_at = models.DateTimeField(_("power administration informed at"), null=True, blank=True)
    power_admin_reference = models.CharField(_("power administration record"), max_length=100, blank=True)
    renotice_at = models.DateTimeField(_("re-notice sent at"), null=True, blank=True)
    executed_at = models.DateTimeField(_("executed at"), null=True, blank=True)
    trip_command_id = models.BigIntegerField(_("trip command"), null=True, blank=True)
    field_order = models.CharField(_("field order"), max_length=50, blank=True)
    cause_cleared_at = models.DateTimeField(_("cause cleared at"), null=True, blank=True)
    restored_at = models.DateTimeField(_("supply restored at"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("cut-off order")
        verbose_name_plural = _("cut-off orders")
        ordering = ["-planned_at", "-id"]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.planned_at:%Y-%m-%d %H:%M} {self.status}"


class CollectionTarget(models.Model):
    """A month's target (月度回收目标) for an area or a collector: the recovery rate (collected ÷
    due) and the zero-out rate (share of customers with nothing overdue), in percent."""

    month = models.DateField(_("month"), help_text=_("The first day of the month."))
    region = models.ForeignKey(
        Region, verbose_name=_("area"), null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    collector = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("collector"), null=True, blank=True, on_delete=models.CASCADE,
        related_name="+",
    )  # fmt: skip
    recovery_rate = models.DecimalField(
        _("recovery rate target (%)"), max_digits=5, decimal_places=1,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )  # fmt: skip
    zero_out_rate = models.DecimalField(
        _("zero-out rate target (%)"), max_digits=5, decimal_places=1,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )  # fmt: skip
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("collection target")
        verbose_name_plural = _("collection targets")
        ordering = ["-month", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(region__isnull=False, collector__isnull=True)
                | Q(region__isnull=True, collector__isnull=False),
                name="target_area_or_collector",
            ),
            models.UniqueConstraint(
                fields=["month", "region"], condition=Q(region__isnull=False), name="target_one_per_area"
            ),
            models.UniqueConstraint(
                fields=["month", "collector"], condition=Q(collector__isnull=False), name="target_one_per_collector"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.region or self.collector}"
