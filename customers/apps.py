from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    """Floor 1: the large-customer archive (大客户档案) and how the company reaches a customer."""

    name = "customers"
    verbose_name = _("Customer archive")
