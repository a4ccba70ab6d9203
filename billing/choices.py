from django.db import models
from django.utils.translation import gettext_lazy as _

from customers.choices import CustomerPaymentChannelChoices


class TariffCategoryChoices(models.TextChoices):
    LARGE_INDUSTRY = "large_industry", _("Large industry (two-part)")
    COMMERCIAL = "commercial", _("General commercial (single-part)")
    RESIDENTIAL = "residential", _("Residential")


class MeterReadingSourceChoices(models.TextChoices):
    AMI = "ami", _("Automatic (AMI)")
    MANUAL = "manual", _("Manual")
    ESTIMATED = "estimated", _("Estimated")


class BillKindChoices(models.TextChoices):
    MONTHLY = "monthly", _("Monthly bill")
    INSTALMENT = "instalment", _("Instalment")
    IMPORTED = "imported", _("Imported bill")


class BillStatusChoices(models.TextChoices):
    ISSUED = "issued", _("Issued")
    PARTLY_PAID = "partly_paid", _("Partly paid")
    PAID = "paid", _("Paid")


class BillLineKindChoices(models.TextChoices):
    BASIC_CAPACITY = "basic_capacity", _("Basic charge (capacity)")
    BASIC_DEMAND = "basic_demand", _("Basic charge (demand)")
    BASIC_DEMAND_EXCESS = "basic_demand_excess", _("Basic charge (demand above 105%, doubled)")
    ENERGY_CRITICAL_PEAK = "energy_critical_peak", _("Energy, critical peak")
    ENERGY_PEAK = "energy_peak", _("Energy, peak")
    ENERGY_FLAT = "energy_flat", _("Energy, flat")
    ENERGY_VALLEY = "energy_valley", _("Energy, valley")
    POWER_FACTOR = "power_factor", _("Power-factor adjustment")
    FUNDS = "funds", _("Government funds and surcharges")
    INSTALMENT = "instalment", _("Instalment of the month's forecast charge")
    INSTALMENT_CREDIT = "instalment_credit", _("Instalments already billed this month")
    OTHER = "other", _("Other")


class BillingRunStatusChoices(models.TextChoices):
    PENDING = "pending", _("Pending")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


# One list of payment channels for the archive (a customer's usual channel) and for payments.
PaymentChannelChoices = CustomerPaymentChannelChoices


class PaymentStatusChoices(models.TextChoices):
    POSTED = "posted", _("Posted")
    REVERSED = "reversed", _("Reversed")


class PrepaidEntryKindChoices(models.TextChoices):
    TOP_UP = "top_up", _("Top-up")
    DAILY_CHARGE = "daily_charge", _("Daily charge")
    ADJUSTMENT = "adjustment", _("Adjustment")


class PrepaidStateChoices(models.TextChoices):
    NORMAL = "normal", _("Normal")
    WARNED_7 = "warned_7", _("Warned: 7 days left")
    WARNED_3 = "warned_3", _("Warned: 3 days left")
    EXHAUSTED = "exhausted", _("Balance exhausted")


class ControlActionChoices(models.TextChoices):
    TRIP = "trip", _("Trip (cut supply)")
    RESTORE = "restore", _("Restore supply")


class ControlStatusChoices(models.TextChoices):
    AWAITING_APPROVAL = "awaiting_approval", _("Awaiting approval")
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    FAILED = "failed", _("Failed, retrying")
    GAVE_UP = "gave_up", _("Failed, gave up")
    ESCALATED = "escalated", _("Escalated, not sent")
    CANCELLED = "cancelled", _("Cancelled")


class ControlOriginChoices(models.TextChoices):
    PREPAID = "prepaid", _("Prepaid balance")
    CUTOFF = "cutoff", _("Cut-off order")
    MANUAL = "manual", _("Manual")


class GuaranteeKindChoices(models.TextChoices):
    BANK_GUARANTEE = "bank_guarantee", _("Bank guarantee")
    DEPOSIT = "deposit", _("Deposit")
    THIRD_PARTY = "third_party", _("Third-party guarantee")
    LETTER_OF_CREDIT = "letter_of_credit", _("Letter of credit")
