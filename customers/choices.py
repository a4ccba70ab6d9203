from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class RegionKindChoices(models.TextChoices):
    COMPANY = "company", _("Company")
    DISTRICT = "district", _("District")
    AREA = "area", _("Area")


class CustomerIndustryChoices(models.TextChoices):
    STEEL = "steel", _("Steel")
    CHEMICAL = "chemical", _("Chemical")
    CEMENT = "cement", _("Cement")
    NON_FERROUS = "non_ferrous", _("Non-ferrous metals")
    MANUFACTURING = "manufacturing", _("Manufacturing")
    HOSPITAL = "hospital", _("Hospital")
    RAILWAY = "railway", _("Railway")
    TELECOM = "telecom", _("Telecom")
    DATA_CENTRE = "data_centre", _("Data centre")
    WATER = "water", _("Water works")
    COMMERCIAL = "commercial", _("Commercial complex")
    OTHER = "other", _("Other")


class CustomerImportanceChoices(models.TextChoices):
    CLASS_1 = "class_1", _("Important user, class 1")
    CLASS_2 = "class_2", _("Important user, class 2")
    # "Normal" is also an operating status; in Chinese the two differ (一般 / 正常).
    NORMAL = "normal", pgettext_lazy("importance", "Normal")


class CustomerBasicChargeBasisChoices(models.TextChoices):
    CAPACITY = "capacity", _("Capacity (kVA)")
    DEMAND = "demand", _("Maximum demand (kW)")


class CustomerSettlementModeChoices(models.TextChoices):
    MONTHLY = "monthly", _("Monthly")
    INSTALMENTS = "instalments", _("Instalments")
    PREPAID_CARD = "prepaid_card", _("Prepaid card")
    PREPAID_REMOTE = "prepaid_remote", _("Remote prepaid control")


class CustomerPaymentChannelChoices(models.TextChoices):
    BANK_TRANSFER = "bank_transfer", _("Bank transfer")
    ONLINE_BANKING = "online_banking", _("Online banking")
    SELF_SERVICE = "self_service", _("Self-service terminal")
    MOBILE = "mobile", _("Mobile payment (WeChat Pay / Alipay)")
    COUNTER = "counter", _("Counter")
    PREPAID_CARD = "prepaid_card", _("Prepaid card")


class CustomerOperatingStatusChoices(models.TextChoices):
    NORMAL = "normal", _("Normal")
    REDUCED = "reduced", _("Reduced production")
    SUSPENDED = "suspended", _("Suspended")
    BANKRUPT = "bankrupt", _("Bankrupt")
    CLOSED = "closed", _("Account closed")


class CustomerConditionChoices(models.TextChoices):
    GOOD = "good", _("Good")
    FAIR = "fair", _("Fair")
    POOR = "poor", _("Poor")


class MeterPointTypeChoices(models.TextChoices):
    SMART = "smart", _("Smart meter")
    PREPAID_CARD = "prepaid_card", _("Prepaid card meter")
    REMOTE = "remote", _("Remote-controlled meter")


class ContactChannelChoices(models.TextChoices):
    PHONE = "phone", _("Phone")
    SMS = "sms", _("SMS")
    WECHAT = "wechat", _("WeChat")
    EMAIL = "email", _("E-mail")


class ServiceVisitKindChoices(models.TextChoices):
    ROUTINE = "routine", _("Routine visit")
    TECHNICAL = "technical", _("Technical service")
    INSPECTION = "inspection", _("Equipment inspection")
    TRAINING = "training", _("Electrician training")
    EMERGENCY_PLAN = "emergency_plan", _("Outage emergency plan")
    MAINTENANCE = "maintenance", _("Maintenance contract")
    THEFT = "theft", _("Electricity theft found")


class NotificationChannelChoices(models.TextChoices):
    SMS = "sms", _("SMS")
    WECHAT = "wechat", _("WeChat")
    EMAIL = "email", _("E-mail")


class AnnouncementKindChoices(models.TextChoices):
    PLANNED_OUTAGE = "planned_outage", _("Planned outage")
    TARIFF_CHANGE = "tariff_change", _("Tariff change")
    SERVICE = "service", _("Service notice")


class AnnouncementStatusChoices(models.TextChoices):
    QUEUING = "queuing", _("Preparing the messages")
    QUEUED = "queued", _("Messages queued")


class NotificationStatusChoices(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")
