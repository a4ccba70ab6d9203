"""Billing (floor 2): tariffs, meter readings, bills, late-payment penalties and payments.

Money is Decimal, NUMERIC(14,2) in the database. A customer's balance is the sum of
immutable rows: bills and adjustment notes, penalty accruals and waivers, payments,
allocations and reversals. Nothing here is updated in place once written, except the
cached `Bill.status`, which services recompute in the same transaction that changes it.
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from customers.models import Customer, MeterPoint

from .choices import (
    BillingRunStatusChoices,
    BillKindChoices,
    BillLineKindChoices,
    BillStatusChoices,
    ControlActionChoices,
    ControlOriginChoices,
    ControlStatusChoices,
    GuaranteeKindChoices,
    MeterReadingSourceChoices,
    PaymentChannelChoices,
    PaymentStatusChoices,
    PrepaidEntryKindChoices,
    PrepaidStateChoices,
    TariffCategoryChoices,
)

MONEY = {"max_digits": 14, "decimal_places": 2}
ENERGY = {"max_digits": 16, "decimal_places": 3}
PRICE = {"max_digits": 10, "decimal_places": 6}
period_validator = RegexValidator(r"^\d{4}-(0[1-9]|1[0-2])$", _("A period is written YYYY-MM."), code="period")


class Tariff(models.Model):
    """A tariff version (电价), in force from `valid_from` until the next version of the same code.

    Two-part tariffs (两部制) have a basic charge per kVA·month (capacity) or kW·month (demand)
    plus energy prices per time-of-use period; single-part tariffs have energy prices only.
    """

    code = models.CharField(_("code"), max_length=30)
    name = models.CharField(_("name"), max_length=100)
    category = models.CharField(_("category"), max_length=20, choices=TariffCategoryChoices.choices)
    valid_from = models.DateField(_("valid from"))
    basic_capacity_price = models.DecimalField(
        _("basic charge per kVA·month"), **PRICE, default=Decimal("0"), validators=[MinValueValidator(0)]
    )
    basic_demand_price = models.DecimalField(
        _("basic charge per kW·month"), **PRICE, default=Decimal("0"), validators=[MinValueValidator(0)]
    )
    price_critical_peak = models.DecimalField(_("critical peak price per kWh"), **PRICE, null=True, blank=True)
    price_peak = models.DecimalField(_("peak price per kWh"), **PRICE, null=True, blank=True)
    price_flat = models.DecimalField(_("flat price per kWh"), **PRICE)
    price_valley = models.DecimalField(_("valley price per kWh"), **PRICE, null=True, blank=True)
    funds_per_kwh = models.DecimalField(
        _("government funds per kWh"), **PRICE, default=Decimal("0"), validators=[MinValueValidator(0)]
    )
    pf_standard = models.DecimalField(
        _("power-factor standard"),
        max_digits=3,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("0.90, 0.85 or 0.80; empty where no power-factor adjustment applies."),
    )

    class Meta:
        verbose_name = _("tariff")
        verbose_name_plural = _("tariffs")
        ordering = ["code", "-valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["code", "valid_from"], name="tariff_unique_version"),
            models.CheckConstraint(
                condition=Q(pf_standard__isnull=True)
                | Q(pf_standard__in=[Decimal("0.90"), Decimal("0.85"), Decimal("0.80")]),
                name="tariff_pf_standard_known",
            ),
            models.CheckConstraint(condition=Q(price_flat__gte=0), name="tariff_price_flat_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.valid_from})"

    @property
    def time_of_use(self) -> bool:
        return self.price_peak is not None and self.price_valley is not None


class PowerFactorAdjustment(models.Model):
    """One row of the national adjustment table (功率因数调整电费办法, 1983): for a standard and a
    power factor (2 decimals), the percent added to (positive) or taken off (negative) the
    basic and energy charges. Stored as data so a province's revision is an admin edit."""

    standard = models.DecimalField(_("standard"), max_digits=3, decimal_places=2)
    power_factor = models.DecimalField(_("power factor"), max_digits=3, decimal_places=2)
    percent = models.DecimalField(_("adjustment (%)"), max_digits=6, decimal_places=2)

    class Meta:
        verbose_name = _("power-factor adjustment")
        verbose_name_plural = _("power-factor adjustments")
        ordering = ["standard", "power_factor"]
        constraints = [
            models.UniqueConstraint(fields=["standard", "power_factor"], name="pf_adjustment_unique"),
            models.CheckConstraint(
                condition=Q(power_factor__gte=0, power_factor__lte=1), name="pf_adjustment_pf_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.standard}: {self.power_factor} → {self.percent}%"


class CustomerTariff(models.Model):
    """Which tariff code a customer is billed on, from a date (a change of tariff is a new row)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="tariff_assignments")
    tariff_code = models.CharField(_("tariff code"), max_length=30)
    valid_from = models.DateField(_("valid from"))

    class Meta:
        verbose_name = _("customer tariff")
        verbose_name_plural = _("customer tariffs")
        ordering = ["customer", "-valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "valid_from"], name="customer_tariff_unique_date"),
        ]

    def __str__(self) -> str:
        return f"{self.customer.account_no} {self.tariff_code} {self.valid_from}"


class PenaltyRule(models.Model):
    """The late-payment penalty rates in force from a date (电力供应与使用条例 Art. 39,
    供电营业规则 Art. 98, revised 2024): configuration, not literals in code."""

    valid_from = models.DateField(_("valid from"), unique=True)
    current_year_rate = models.DecimalField(_("daily rate, current-year arrears"), max_digits=6, decimal_places=5)
    cross_year_rate = models.DecimalField(
        _("daily rate, arrears carried across a year end"), max_digits=6, decimal_places=5
    )
    residential_rate = models.DecimalField(_("daily rate, residential"), max_digits=6, decimal_places=5)
    minimum_amount = models.DecimalField(_("minimum penalty per bill"), **MONEY)
    source = models.CharField(_("regulatory source"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("penalty rule")
        verbose_name_plural = _("penalty rules")
        ordering = ["-valid_from"]

    def __str__(self) -> str:
        return f"{self.valid_from}: {self.current_year_rate}/{self.cross_year_rate}"


class MeterReading(models.Model):
    """A daily reading of a meter's cumulative registers (not consumption).

    Consumption between two readings is the register difference times the meter's CT×PT
    multiplier. Unique per meter and date; an identical re-send is a duplicate, not an error.
    """

    meter = models.ForeignKey(MeterPoint, on_delete=models.PROTECT, related_name="readings")
    read_on = models.DateField(_("read on"))
    total_kwh = models.DecimalField(_("total (kWh)"), **ENERGY)
    critical_peak_kwh = models.DecimalField(_("critical peak (kWh)"), **ENERGY, default=Decimal("0"))
    peak_kwh = models.DecimalField(_("peak (kWh)"), **ENERGY)
    flat_kwh = models.DecimalField(_("flat (kWh)"), **ENERGY)
    valley_kwh = models.DecimalField(_("valley (kWh)"), **ENERGY)
    reactive_kvarh = models.DecimalField(_("reactive (kvarh)"), **ENERGY)
    max_demand_kw = models.DecimalField(_("maximum demand (kW)"), max_digits=12, decimal_places=3)
    source = models.CharField(
        _("source"), max_length=10, choices=MeterReadingSourceChoices.choices, default=MeterReadingSourceChoices.AMI
    )
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)

    class Meta:
        verbose_name = _("meter reading")
        verbose_name_plural = _("meter readings")
        ordering = ["meter", "read_on"]
        constraints = [
            models.UniqueConstraint(fields=["meter", "read_on"], name="reading_unique_meter_date"),
            models.CheckConstraint(
                condition=Q(
                    total_kwh__gte=0,
                    critical_peak_kwh__gte=0,
                    peak_kwh__gte=0,
                    flat_kwh__gte=0,
                    valley_kwh__gte=0,
                    reactive_kvarh__gte=0,
                    max_demand_kw__gte=0,
                ),
                name="reading_registers_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.meter_id} {self.read_on}"


class BillingRun(models.Model):
    """One billing run for a period: progress, counts and per-customer problems."""

    period = models.CharField(_("period"), max_length=7, validators=[period_validator])
    status = models.CharField(
        _("status"), max_length=10, choices=BillingRunStatusChoices.choices, default=BillingRunStatusChoices.PENDING
    )
    issue_date = models.DateField(_("issue date"))
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    customers_total = models.PositiveIntegerField(_("customers"), default=0)
    customers_done = models.PositiveIntegerField(_("customers processed"), default=0)
    bills_created = models.PositiveIntegerField(_("bills created"), default=0)
    already_billed = models.PositiveIntegerField(_("already billed"), default=0)
    skipped = models.JSONField(_("skipped customers"), default=list, blank=True)

    class Meta:
        verbose_name = _("billing run")
        verbose_name_plural = _("billing runs")
        ordering = ["-created_at"]
        constraints = [
            # One active run of a period: a second POST finds the first instead of racing it.
            models.UniqueConstraint(
                fields=["period"], condition=Q(status__in=["pending", "running"]), name="billing_run_one_active"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.period} ({self.get_status_display()})"


class Bill(models.Model):
    """An electricity bill (电费账单). Issued bills are never edited: a correction is an
    `AdjustmentNote`. `total` is the sum of the lines, written once when the bill is issued."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="bills")
    period = models.CharField(_("period"), max_length=7, validators=[period_validator])
    kind = models.CharField(_("kind"), max_length=10, choices=BillKindChoices.choices, default=BillKindChoices.MONTHLY)
    number = models.CharField(_("bill number"), max_length=40, unique=True)
    period_start = models.DateField(_("period start"), null=True, blank=True)
    period_end = models.DateField(_("period end"), null=True, blank=True)
    issued_on = models.DateField(_("issued on"))
    due_on = models.DateField(_("due on"))
    status = models.CharField(
        _("status"), max_length=12, choices=BillStatusChoices.choices, default=BillStatusChoices.ISSUED
    )
    total = models.DecimalField(_("total"), **MONEY)
    tariff = models.ForeignKey(Tariff, null=True, blank=True, on_delete=models.PROTECT)
    total_kwh = models.DecimalField(_("energy (kWh)"), **ENERGY, default=Decimal("0"))
    reactive_kvarh = models.DecimalField(_("reactive energy (kvarh)"), **ENERGY, default=Decimal("0"))
    max_demand_kw = models.DecimalField(_("maximum demand (kW)"), max_digits=12, decimal_places=3, null=True)
    power_factor = models.DecimalField(_("power factor"), max_digits=3, decimal_places=2, null=True)
    external_ref = models.CharField(_("external reference"), max_length=64, blank=True)
    billing_run = models.ForeignKey(BillingRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="bills")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("bill")
        verbose_name_plural = _("bills")
        ordering = ["customer", "due_on", "id"]
        constraints = [
            # A re-run never duplicates a bill: one monthly bill per customer and period.
            models.UniqueConstraint(
                fields=["customer", "period"], condition=Q(kind="monthly"), name="bill_one_monthly_per_period"
            ),
            models.UniqueConstraint(
                fields=["customer", "external_ref"], condition=~Q(external_ref=""), name="bill_unique_external_ref"
            ),
            models.CheckConstraint(condition=Q(due_on__gte=models.F("issued_on")), name="bill_due_after_issue"),
        ]
        indexes = [
            models.Index(fields=["customer", "status", "due_on"]),
            models.Index(fields=["period", "status"]),
            models.Index(fields=["due_on"], name="bill_open_due_idx", condition=~Q(status="paid")),
        ]

    def __str__(self) -> str:
        return self.number


class BillLine(models.Model):
    """A line of a bill's composition (电费构成): quantity × unit price = amount, rounded to the fen."""

    bill = models.ForeignKey(Bill, on_delete=models.PROTECT, related_name="lines")
    kind = models.CharField(_("kind"), max_length=24, choices=BillLineKindChoices.choices)
    description = models.CharField(_("description"), max_length=200, blank=True)
    quantity = models.DecimalField(_("quantity"), max_digits=16, decimal_places=4, null=True, blank=True)
    unit_price = models.DecimalField(_("unit price"), max_digits=12, decimal_places=6, null=True, blank=True)
    amount = models.DecimalField(_("amount"), **MONEY)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("bill line")
        verbose_name_plural = _("bill lines")
        ordering = ["bill", "position"]

    def __str__(self) -> str:
        return f"{self.bill_id} {self.kind} {self.amount}"


class AdjustmentNote(models.Model):
    """A correction to an issued bill (positive: more to pay; negative: a credit). The bill
    itself never changes; its outstanding amount includes its notes."""

    bill = models.ForeignKey(Bill, on_delete=models.PROTECT, related_name="adjustments")
    amount = models.DecimalField(_("amount"), **MONEY)
    reason = models.CharField(_("reason"), max_length=300)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("adjustment note")
        verbose_name_plural = _("adjustment notes")
        ordering = ["created_at"]
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="adjustment_not_zero")]

    def __str__(self) -> str:
        return f"{self.bill_id} {self.amount}"


class PenaltyAccrual(models.Model):
    """One day's late-payment penalty (违约金) on one bill, with its working.

    `exact_amount` is principal × rate unrounded; `amount` is the change in the bill's rounded
    running total (max(round(Σ exact), minimum)), so the fen-valued entries always add up to
    the rounded total and the ¥1 minimum, without rounding every day separately.
    """

    bill = models.ForeignKey(Bill, on_delete=models.PROTECT, related_name="penalties")
    accrued_on = models.DateField(_("date"))
    principal = models.DecimalField(_("unpaid principal"), **MONEY)
    rate = models.DecimalField(_("daily rate"), max_digits=6, decimal_places=5)
    cross_year = models.BooleanField(_("carried across a year end"), default=False)
    exact_amount = models.DecimalField(_("exact amount"), max_digits=18, decimal_places=6)
    amount = models.DecimalField(_("amount"), **MONEY)
    is_correction = models.BooleanField(
        _("recalculation"),
        default=False,
        help_text=_("Written when a back-dated payment or a reversal changes the principal of days already accrued."),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("penalty accrual")
        verbose_name_plural = _("penalty accruals")
        ordering = ["bill", "accrued_on"]
        constraints = [
            # The accrual job is idempotent per day: a second run finds the row and adds nothing.
            models.UniqueConstraint(
                fields=["bill", "accrued_on"], condition=Q(is_correction=False), name="penalty_one_per_bill_day"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.bill_id} {self.accrued_on} {self.amount}"


class PenaltyWaiver(models.Model):
    """A manager's waiver of (part of) a bill's penalty, with the reason."""

    bill = models.ForeignKey(Bill, on_delete=models.PROTECT, related_name="penalty_waivers")
    amount = models.DecimalField(_("amount"), **MONEY, validators=[MinValueValidator(Decimal("0.01"))])
    reason = models.CharField(_("reason"), max_length=300)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("penalty waiver")
        verbose_name_plural = _("penalty waivers")
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="waiver_positive")]

    def __str__(self) -> str:
        return f"{self.bill_id} {self.amount}"


class Payment(models.Model):
    """Money received from a customer through one channel. Allocated to bills by the rules of
    Civil Code Art. 560–561 (oldest due first, penalty before principal); what is left is credit."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="payments")
    amount = models.DecimalField(_("amount"), **MONEY)
    channel = models.CharField(_("channel"), max_length=20, choices=PaymentChannelChoices.choices)
    external_ref = models.CharField(_("external reference"), max_length=64, blank=True)
    received_at = models.DateTimeField(_("received at"))
    status = models.CharField(
        _("status"), max_length=10, choices=PaymentStatusChoices.choices, default=PaymentStatusChoices.POSTED
    )
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["customer", "received_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_positive"),
            # The same bank transaction can never be posted twice.
            models.UniqueConstraint(
                fields=["channel", "external_ref"], condition=~Q(external_ref=""), name="payment_unique_channel_ref"
            ),
        ]
        indexes = [models.Index(fields=["customer", "received_at"])]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.amount} {self.channel} {self.external_ref}"


class PaymentReversal(models.Model):
    """A returned payment (bank return): re-opens what the payment had paid."""

    payment = models.OneToOneField(Payment, on_delete=models.PROTECT, related_name="reversal")
    reason = models.CharField(_("reason"), max_length=300)
    reversed_on = models.DateField(_("reversed on"))
    reversed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("payment reversal")
        verbose_name_plural = _("payment reversals")

    def __str__(self) -> str:
        return f"{self.payment_id} {self.reversed_on}"


class PaymentAllocation(models.Model):
    """Part of a payment applied to a bill's penalty and principal. A reversal writes
    negative allocations instead of deleting these."""

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="allocations")
    bill = models.ForeignKey(Bill, on_delete=models.PROTECT, related_name="allocations")
    penalty = models.DecimalField(_("to penalty"), **MONEY, default=Decimal("0"))
    principal = models.DecimalField(_("to principal"), **MONEY, default=Decimal("0"))
    allocated_on = models.DateField(_("allocated on"))
    reversal = models.ForeignKey(
        PaymentReversal, null=True, blank=True, on_delete=models.PROTECT, related_name="allocations"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("payment allocation")
        verbose_name_plural = _("payment allocations")
        ordering = ["id"]
        indexes = [models.Index(fields=["bill"]), models.Index(fields=["payment"])]

    def __str__(self) -> str:
        return f"{self.payment_id}→{self.bill_id} {self.penalty}+{self.principal}"


class ReadingUpload(models.Model):
    """A CSV of readings uploaded by staff: validated first (the row report), stored on confirm."""

    class Status(models.TextChoices):
        VALIDATED = "validated", _("Checked, not yet stored")
        REJECTED = "rejected", _("Rejected")
        IMPORTED = "imported", _("Stored")

    file_name = models.CharField(_("file name"), max_length=200)
    content = models.TextField(_("content"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    rows = models.PositiveIntegerField(_("rows"), default=0)
    new_readings = models.PositiveIntegerField(_("new readings"), default=0)
    duplicates = models.PositiveIntegerField(_("duplicates"), default=0)
    errors = models.JSONField(_("errors"), default=list, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    imported_at = models.DateTimeField(_("stored at"), null=True, blank=True)

    class Meta:
        verbose_name = _("reading upload")
        verbose_name_plural = _("reading uploads")
        ordering = ["-uploaded_at"]

    def __str__(self) -> str:
        return self.file_name


class Guarantee(models.Model):
    """Security held against a customer's bills (电费担保): a bank guarantee, a cash deposit, a
    third-party guarantee or a letter of credit. Kept in billing (not collections) because the
    exposure of DESIGN.md rule 7 — a billing figure — subtracts it; collections manages the
    agreements and their expiry warnings on top of it."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="guarantees")
    kind = models.CharField(_("kind"), max_length=20, choices=GuaranteeKindChoices.choices)
    amount = models.DecimalField(_("amount"), **MONEY)
    valid_from = models.DateField(_("valid from"))
    valid_to = models.DateField(
        _("valid to"), null=True, blank=True, help_text=_("Empty for a deposit held until returned.")
    )
    issuer = models.CharField(_("issuer"), max_length=200, blank=True, help_text=_("Bank or guarantor"))
    document_ref = models.CharField(_("document reference"), max_length=100, blank=True)
    released_on = models.DateField(_("released on"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("guarantee")
        verbose_name_plural = _("guarantees")
        ordering = ["customer", "-valid_from"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="guarantee_positive"),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=models.F("valid_from")),
                name="guarantee_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.get_kind_display()} {self.amount}"


class DailyUsage(models.Model):
    """One customer's day (电量每天有统计): consumption by time-of-use period from the meters,
    the day's charge (energy, basic charge pro rata, funds) and the month-to-date totals of the
    billing period. Derived data: recomputed when a late reading replaces an estimate."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="daily_usage")
    day = models.DateField(_("day"))
    period = models.CharField(_("billing period"), max_length=7)
    kwh = models.DecimalField(_("energy (kWh)"), **ENERGY)
    critical_peak_kwh = models.DecimalField(_("critical peak (kWh)"), **ENERGY, default=Decimal("0"))
    peak_kwh = models.DecimalField(_("peak (kWh)"), **ENERGY, default=Decimal("0"))
    flat_kwh = models.DecimalField(_("flat (kWh)"), **ENERGY, default=Decimal("0"))
    valley_kwh = models.DecimalField(_("valley (kWh)"), **ENERGY, default=Decimal("0"))
    reactive_kvarh = models.DecimalField(_("reactive (kvarh)"), **ENERGY, default=Decimal("0"))
    energy_charge = models.DecimalField(_("energy charge"), **MONEY)
    basic_charge = models.DecimalField(_("basic charge (pro rata)"), **MONEY)
    funds_charge = models.DecimalField(_("government funds"), **MONEY)
    charge = models.DecimalField(_("charge for the day"), **MONEY)
    mtd_kwh = models.DecimalField(_("month-to-date energy (kWh)"), **ENERGY)
    mtd_charge = models.DecimalField(_("month-to-date charge"), **MONEY)
    estimated = models.BooleanField(_("estimated"), default=False)
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("daily usage")
        verbose_name_plural = _("daily usage")
        ordering = ["customer", "day"]
        constraints = [models.UniqueConstraint(fields=["customer", "day"], name="daily_usage_unique_day")]
        indexes = [models.Index(fields=["day"])]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.day} {self.kwh}"


class Forecast(models.Model):
    """The forecast and exposure computed after a day's statistics (电费每日有预测)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="forecasts")
    day = models.DateField(_("day"))
    method = models.CharField(_("method"), max_length=30)
    next_day_kwh = models.DecimalField(_("next day (kWh)"), **ENERGY)
    projected_month_kwh = models.DecimalField(_("projected month (kWh)"), **ENERGY)
    projected_month_charge = models.DecimalField(_("projected month charge"), **MONEY)
    unbilled_charge = models.DecimalField(_("unbilled charge"), **MONEY)
    arrears = models.DecimalField(_("arrears"), **MONEY)
    cover = models.DecimalField(_("cover (guarantees, deposits, prepaid)"), **MONEY)
    exposure = models.DecimalField(_("exposure"), **MONEY)
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("forecast")
        verbose_name_plural = _("forecasts")
        ordering = ["customer", "day"]
        constraints = [models.UniqueConstraint(fields=["customer", "day"], name="forecast_unique_day")]
        indexes = [models.Index(fields=["day", "exposure"])]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.day}"


class PrepaidAccount(models.Model):
    """A prepaid account (预付费 / 远程费控). Its balance is the sum of its entries; `state`
    remembers which warning was sent so each threshold warns once per fall."""

    customer = models.OneToOneField(Customer, on_delete=models.PROTECT, related_name="prepaid_account")
    state = models.CharField(
        _("state"), max_length=10, choices=PrepaidStateChoices.choices, default=PrepaidStateChoices.NORMAL
    )
    opened_on = models.DateField(_("opened on"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("prepaid account")
        verbose_name_plural = _("prepaid accounts")

    def __str__(self) -> str:
        return f"{self.customer_id} prepaid"


class PrepaidEntry(models.Model):
    """An immutable movement of a prepaid account: top-up (+), daily charge (−), adjustment (±)."""

    account = models.ForeignKey(PrepaidAccount, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(_("kind"), max_length=15, choices=PrepaidEntryKindChoices.choices)
    day = models.DateField(_("day"))
    amount = models.DecimalField(_("amount"), **MONEY)
    payment = models.OneToOneField(
        Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="prepaid_entry"
    )
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("prepaid entry")
        verbose_name_plural = _("prepaid entries")
        ordering = ["account", "day", "id"]
        constraints = [
            # The deduction job is idempotent: one daily charge per account and day.
            models.UniqueConstraint(
                fields=["account", "day"], condition=Q(kind="daily_charge"), name="prepaid_one_charge_per_day"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.kind} {self.amount}"


class ControlCommand(models.Model):
    """A trip or restore command for a customer's supply (远程费控 / 停电), sent to the terminal
    through a gateway. States: pending → sending → sent → acknowledged, or failed (retried)
    and gave_up; awaiting_approval for manual trips of important users; escalated when the
    rules forbid an automatic trip (important user, no agreement)."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="control_commands")
    meter = models.ForeignKey(MeterPoint, null=True, blank=True, on_delete=models.PROTECT)
    action = models.CharField(_("action"), max_length=10, choices=ControlActionChoices.choices)
    origin = models.CharField(_("origin"), max_length=10, choices=ControlOriginChoices.choices)
    status = models.CharField(_("status"), max_length=20, choices=ControlStatusChoices.choices)
    reason = models.CharField(_("reason"), max_length=300)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    gateway_ref = models.CharField(_("gateway reference"), max_length=100, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approval_reason = models.CharField(_("approval reason"), max_length=300, blank=True)
    dedupe_key = models.CharField(max_length=150, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)

    class Meta:
        verbose_name = _("control command")
        verbose_name_plural = _("control commands")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="control_due_idx")]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.action} {self.status}"


class InstalmentChange(models.Model):
    """A recorded change of a customer's prepayment ratio or number of instalments (调整预付比例)."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="instalment_changes")
    old_ratio = models.DecimalField(_("old ratio"), max_digits=4, decimal_places=3)
    new_ratio = models.DecimalField(_("new ratio"), max_digits=4, decimal_places=3)
    old_count = models.PositiveSmallIntegerField(_("old instalments"), null=True)
    new_count = models.PositiveSmallIntegerField(_("new instalments"), null=True)
    reason = models.CharField(_("reason"), max_length=300)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("instalment change")
        verbose_name_plural = _("instalment changes")
        ordering = ["-changed_at"]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.old_ratio}→{self.new_ratio}"
