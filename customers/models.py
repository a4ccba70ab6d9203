"""The large-customer archive (大客户档案).

Every invariant a clerk can break is a database constraint as well as a form error, so
no API client, import or shell session can store what the forms would refuse.
"""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Length
from django.db.models.lookups import Exact
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from .choices import (
    AnnouncementKindChoices,
    AnnouncementStatusChoices,
    ContactChannelChoices,
    CustomerBasicChargeBasisChoices,
    CustomerConditionChoices,
    CustomerImportanceChoices,
    CustomerIndustryChoices,
    CustomerOperatingStatusChoices,
    CustomerPaymentChannelChoices,
    CustomerSettlementModeChoices,
    MeterPointTypeChoices,
    NotificationChannelChoices,
    NotificationStatusChoices,
    RegionKindChoices,
    ServiceVisitKindChoices,
)
from .validators import validate_cn_mobile, validate_uscc

# 抄表日: a day 1–28 exists in every month; month-end customers are stored as 31.
READING_DAY_MONTH_END = 31
MIN_INSTALMENTS_PER_MONTH = 3  # 分次结算: at least three settlements a month (DESIGN.md rule 6)

account_no_validator = RegexValidator(
    r"^[0-9A-Z]{6,20}$", _("An account number is 6–20 digits or capital letters."), code="account_no"
)
meter_no_validator = RegexValidator(
    r"^[0-9A-Z-]{4,32}$", _("A meter number is 4–32 digits, capital letters or hyphens."), code="meter_no"
)


class Region(models.Model):
    """A node of the supply organisation (供电区域): company → district → area (片区).

    An area's leader answers for all customers in it (领导包片); a leader of a district
    answers for every area below it.
    """

    code = models.CharField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=10, choices=RegionKindChoices.choices, default=RegionKindChoices.AREA)
    parent = models.ForeignKey(
        "self", verbose_name=_("parent"), null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    leader = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("leader"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="led_regions",
    )

    class Meta:
        verbose_name = _("region")
        verbose_name_plural = _("regions")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=~Q(parent=models.F("id")), name="region_not_own_parent"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        ancestor = self.parent
        while ancestor is not None:
            if ancestor.pk == self.pk and self.pk is not None:
                raise ValidationError({"parent": _("A region cannot sit below itself.")})
            ancestor = ancestor.parent


class Customer(models.Model):
    """A large customer account (大客户, 10 kV and above) and everything collections needs to know about it."""

    account_no = models.CharField(_("account number"), max_length=20, unique=True, validators=[account_no_validator])
    name = models.CharField(_("name"), max_length=200)
    uscc = models.CharField(
        _("unified social credit code"),
        max_length=18,
        validators=[validate_uscc],
        help_text=_("18 characters per GB 32100-2015, including the check character."),
    )
    industry = models.CharField(_("industry"), max_length=20, choices=CustomerIndustryChoices.choices)
    importance = models.CharField(
        _("importance"),
        max_length=10,
        choices=CustomerImportanceChoices.choices,
        default=CustomerImportanceChoices.NORMAL,
        help_text=_("Important users (class 1 or 2) are never cut off automatically."),
    )
    address = models.CharField(_("address"), max_length=300, blank=True)
    voltage_kv = models.DecimalField(
        _("supply voltage (kV)"), max_digits=5, decimal_places=1, validators=[MinValueValidator(Decimal("0.4"))]
    )
    contracted_capacity_kva = models.PositiveIntegerField(
        _("contracted capacity (kVA)"), validators=[MinValueValidator(1)]
    )
    basic_charge_basis = models.CharField(
        _("basic charge basis"),
        max_length=10,
        choices=CustomerBasicChargeBasisChoices.choices,
        default=CustomerBasicChargeBasisChoices.CAPACITY,
    )
    contract_demand_kw = models.PositiveIntegerField(
        _("contract demand (kW)"),
        null=True,
        blank=True,
        help_text=_("Required when the basic charge is billed on maximum demand."),
    )
    settlement_mode = models.CharField(
        _("settlement mode"),
        max_length=20,
        choices=CustomerSettlementModeChoices.choices,
        default=CustomerSettlementModeChoices.MONTHLY,
    )
    instalments_per_month = models.PositiveSmallIntegerField(
        _("instalments per month"),
        null=True,
        blank=True,
        validators=[MinValueValidator(MIN_INSTALMENTS_PER_MONTH), MaxValueValidator(10)],
    )
    prepay_ratio = models.DecimalField(
        _("prepayment ratio"),
        max_digits=4,
        decimal_places=3,
        default=Decimal("1.000"),
        validators=[MinValueValidator(Decimal("0.001")), MaxValueValidator(Decimal("2"))],
        help_text=_("Share of the forecast bill paid in advance; more than 0 and at most 2."),
    )
    reading_day = models.PositiveSmallIntegerField(
        _("meter-reading day"),
        default=READING_DAY_MONTH_END,
        help_text=_("Day 1–28 of the month, or 31 for the month end."),
    )
    payment_terms_days = models.PositiveSmallIntegerField(
        _("payment terms (days)"), default=15, validators=[MaxValueValidator(90)]
    )
    government_funded = models.BooleanField(_("paid from government allocations"), default=False)
    usual_payment_channel = models.CharField(
        _("usual payment channel"),
        max_length=20,
        choices=CustomerPaymentChannelChoices.choices,
        default=CustomerPaymentChannelChoices.BANK_TRANSFER,
    )
    operating_status = models.CharField(
        _("operating status"),
        max_length=10,
        choices=CustomerOperatingStatusChoices.choices,
        default=CustomerOperatingStatusChoices.NORMAL,
    )
    employees = models.PositiveIntegerField(_("employees"), null=True, blank=True)
    annual_output = models.DecimalField(
        _("annual output (10k yuan)"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    equipment_condition = models.CharField(
        _("equipment condition"),
        max_length=10,
        choices=CustomerConditionChoices.choices,
        default=CustomerConditionChoices.GOOD,
    )
    line_ageing = models.BooleanField(_("ageing supply lines"), default=False)
    region = models.ForeignKey(Region, verbose_name=_("area"), on_delete=models.PROTECT, related_name="customers")
    account_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("account manager"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="managed_customers",
    )
    collector = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("collector"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="collected_customers",
    )
    penalty_rate_override = models.DecimalField(
        _("contract penalty rate (per day)"),
        max_digits=5,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.0010")), MaxValueValidator(Decimal("0.0030"))],
        help_text=_("A contract rate between 0.0010 and 0.0030 per day replaces the statutory rate."),
    )
    remote_control_agreement = models.BooleanField(_("remote control agreement signed"), default=False)
    credit_grade = models.CharField(
        _("credit grade"),
        max_length=3,
        blank=True,
        help_text=_("Written by the risk scoring; read here so lower floors need not import it."),
    )
    opened_on = models.DateField(_("account opened on"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["account_no"]
        indexes = [
            models.Index(fields=["region", "account_no"]),
            models.Index(fields=["collector", "account_no"]),
            models.Index(fields=["industry"]),
            models.Index(fields=["name"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Exact(Length("uscc"), 18), name="customer_uscc_18_chars"),
            models.CheckConstraint(
                condition=Q(reading_day__gte=1, reading_day__lte=28) | Q(reading_day=READING_DAY_MONTH_END),
                name="customer_reading_day_valid",
            ),
            models.CheckConstraint(
                condition=Q(prepay_ratio__gt=0, prepay_ratio__lte=2), name="customer_prepay_ratio_range"
            ),
            models.CheckConstraint(
                condition=Q(penalty_rate_override__isnull=True)
                | Q(penalty_rate_override__gte=Decimal("0.001"), penalty_rate_override__lte=Decimal("0.003")),
                name="customer_penalty_rate_range",
            ),
            models.CheckConstraint(
                condition=~Q(settlement_mode=CustomerSettlementModeChoices.INSTALMENTS)
                | Q(instalments_per_month__isnull=False, instalments_per_month__gte=MIN_INSTALMENTS_PER_MONTH),
                name="customer_instalments_at_least_3",
            ),
            models.CheckConstraint(
                condition=~Q(basic_charge_basis=CustomerBasicChargeBasisChoices.DEMAND)
                | Q(contract_demand_kw__isnull=False, contract_demand_kw__gt=0),
                name="customer_demand_basis_needs_demand",
            ),
            models.CheckConstraint(condition=Q(voltage_kv__gt=0), name="customer_voltage_positive"),
            models.CheckConstraint(condition=Q(contracted_capacity_kva__gt=0), name="customer_capacity_positive"),
            models.CheckConstraint(condition=Q(payment_terms_days__lte=90), name="customer_payment_terms_max"),
        ]

    def __str__(self) -> str:
        return f"{self.account_no} {self.name}"

    @property
    def is_important(self) -> bool:
        return self.importance in (CustomerImportanceChoices.CLASS_1, CustomerImportanceChoices.CLASS_2)

    def clean(self) -> None:
        errors = {}
        if self.uscc:
            self.uscc = self.uscc.strip().upper()
        if self.reading_day is not None and not (
            1 <= self.reading_day <= 28 or self.reading_day == READING_DAY_MONTH_END
        ):
            errors["reading_day"] = _("The reading day is 1–28, or 31 for the month end.")
        if self.settlement_mode == CustomerSettlementModeChoices.INSTALMENTS and (
            self.instalments_per_month is None or self.instalments_per_month < MIN_INSTALMENTS_PER_MONTH
        ):
            errors["instalments_per_month"] = _("Instalment settlement needs at least 3 instalments a month.")
        if self.basic_charge_basis == CustomerBasicChargeBasisChoices.DEMAND and not self.contract_demand_kw:
            errors["contract_demand_kw"] = _("A customer billed on maximum demand needs a contract demand.")
        if errors:
            raise ValidationError(errors)


class MeterPoint(models.Model):
    """A metering point (计量点); consumption is the register difference times the CT×PT multiplier."""

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="meter_points"
    )
    meter_no = models.CharField(_("meter number"), max_length=32, unique=True, validators=[meter_no_validator])
    location = models.CharField(_("location"), max_length=200, blank=True)
    usage = models.CharField(_("usage"), max_length=100, blank=True, help_text=_("What the metered supply feeds."))
    meter_type = models.CharField(
        _("meter type"), max_length=20, choices=MeterPointTypeChoices.choices, default=MeterPointTypeChoices.SMART
    )
    multiplier = models.DecimalField(
        _("multiplier (CT×PT)"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("1"),
        validators=[MinValueValidator(Decimal("0.01"))],
    )
    installed_on = models.DateField(_("installed on"), null=True, blank=True)
    remote_switch = models.BooleanField(_("remote switch capable"), default=False)
    active = models.BooleanField(_("in service"), default=True)
    removed_on = models.DateField(_("removed on"), null=True, blank=True)
    replaces = models.OneToOneField(
        "self",
        verbose_name=_("replaces meter"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="replaced_by",
        help_text=_("A replacement meter starts from its own register; the old meter's last reading closes it."),
    )

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("meter point")
        verbose_name_plural = _("meter points")
        ordering = ["meter_no"]
        constraints = [
            models.CheckConstraint(condition=Q(multiplier__gt=0), name="meterpoint_multiplier_positive"),
        ]

    def __str__(self) -> str:
        return self.meter_no


class Contact(models.Model):
    """A person at the customer the company reaches by phone, SMS, WeChat or e-mail."""

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="contacts"
    )
    name = models.CharField(_("name"), max_length=100)
    role = models.CharField(_("role"), max_length=100, blank=True, help_text=_("e.g. finance manager, electrician"))
    mobile = models.CharField(_("mobile"), max_length=11, blank=True, validators=[validate_cn_mobile])
    wechat_id = models.CharField(_("WeChat ID"), max_length=64, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    preferred_channel = models.CharField(
        _("preferred channel"), max_length=10, choices=ContactChannelChoices.choices, default=ContactChannelChoices.SMS
    )
    receives_dunning = models.BooleanField(_("receives payment notices"), default=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        ordering = ["customer", "name"]
        constraints = [
            models.CheckConstraint(condition=~Q(mobile="") | ~Q(wechat_id="") | ~Q(email=""), name="contact_reachable"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        needs = {
            ContactChannelChoices.PHONE: ("mobile", self.mobile),
            ContactChannelChoices.SMS: ("mobile", self.mobile),
            ContactChannelChoices.WECHAT: ("wechat_id", self.wechat_id),
            ContactChannelChoices.EMAIL: ("email", self.email),
        }
        field, value = needs[self.preferred_channel]
        if not value:
            raise ValidationError({field: _("The preferred channel needs this to be filled in.")})


class ServiceVisit(models.Model):
    """A service-log entry (走访记录): visits and technical services that keep a customer paying."""

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="service_visits"
    )
    visited_on = models.DateField(_("date"))
    kind = models.CharField(_("kind"), max_length=20, choices=ServiceVisitKindChoices.choices)
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("staff"), null=True, blank=True, on_delete=models.SET_NULL
    )
    findings = models.TextField(_("findings"), blank=True)
    follow_up_on = models.DateField(_("follow-up date"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("service visit")
        verbose_name_plural = _("service visits")
        ordering = ["-visited_on", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(follow_up_on__isnull=True) | Q(follow_up_on__gte=models.F("visited_on")),
                name="servicevisit_follow_up_after_visit",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer.account_no} {self.visited_on} {self.get_kind_display()}"

    def clean(self) -> None:
        if self.follow_up_on and self.visited_on and self.follow_up_on < self.visited_on:
            raise ValidationError({"follow_up_on": _("The follow-up cannot be before the visit.")})


class Announcement(models.Model):
    """A notice to many customers at once (计划停电通知, 电价调整通知): one message per reachable
    contact of the customers chosen with the customer list's filters, on each contact's channel —
    the short text by SMS and WeChat, the full text by e-mail."""

    kind = models.CharField(_("kind"), max_length=20, choices=AnnouncementKindChoices.choices)
    subject = models.CharField(_("subject"), max_length=100)
    short_text = models.CharField(
        _("SMS and WeChat text"), max_length=200, help_text=_("Sent by SMS and WeChat; keep it short.")
    )
    body = models.TextField(_("e-mail text"), blank=True, help_text=_("Sent by e-mail; the short text if left empty."))
    audience = models.CharField(
        _("customers chosen"), max_length=1000, blank=True, help_text=_("The customer list's filters, as a query.")
    )
    all_contacts = models.BooleanField(
        _("every contact"), default=True, help_text=_("Else only the contacts that receive payment notices.")
    )
    send_after = models.DateTimeField(_("send from"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=AnnouncementStatusChoices.choices, default=AnnouncementStatusChoices.QUEUING
    )
    expected = models.PositiveIntegerField(_("contacts chosen"), default=0)
    customers = models.PositiveIntegerField(_("customers reached"), default=0)
    messages = models.PositiveIntegerField(_("messages"), default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("notice to customers")
        verbose_name_plural = _("notices to customers")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.subject}"


class Notification(models.Model):
    """The outbox (SMS, WeChat, e-mail): written in the same transaction as the event that
    causes it, drained by a Celery task with retries. `dedupe_key` makes the writer
    idempotent (the same warning for the same day is queued once); the conditional claim of
    a queued row makes the sender idempotent (a message is sent at most once)."""

    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="notifications",
    )
    contact = models.ForeignKey(Contact, verbose_name=_("contact"), null=True, blank=True, on_delete=models.SET_NULL)
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("staff member"), null=True, blank=True, on_delete=models.SET_NULL
    )
    channel = models.CharField(_("channel"), max_length=10, choices=NotificationChannelChoices.choices)
    recipient = models.CharField(_("recipient"), max_length=200)
    kind = models.CharField(_("kind"), max_length=50, help_text=_("What the message is about, e.g. prepaid_warning"))
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(_("text"))
    status = models.CharField(
        _("status"), max_length=10, choices=NotificationStatusChoices.choices, default=NotificationStatusChoices.QUEUED
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    provider_ref = models.CharField(_("provider reference"), max_length=100, blank=True)
    dedupe_key = models.CharField(max_length=150, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    # The last "send again" of a failed message: who decided it and when (the messages page).
    retried_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("sent again by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    retried_at = models.DateTimeField(_("sent again at"), null=True, blank=True)
    announcement = models.ForeignKey(
        Announcement,
        verbose_name=_("notice to customers"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="notifications",
    )

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="notification_due_idx"),
            models.Index(fields=["customer", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.recipient} {self.kind}"

    @property
    def kind_label(self) -> str:
        """What the message is about, in words (settings.NOTIFICATION_KIND_LABELS), else its kind."""
        return str(settings.NOTIFICATION_KIND_LABELS.get(self.kind, self.kind))

    @property
    def is_retrying(self) -> bool:
        """Queued again after a failed attempt (waiting for its backoff), not yet given up."""
        return self.status == NotificationStatusChoices.QUEUED and self.attempts > 0
