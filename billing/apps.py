from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    """Floor 2: readings, tariffs, bills, penalties, payments, prepaid accounts, forecasts."""

    name = "billing"
    verbose_name = _("Billing")
