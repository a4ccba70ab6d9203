from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    """Floor 0: roles, health, API plumbing and page chrome shared by every domain app."""

    name = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        from django.urls import register_converter

        from .converters import AccountNumberConverter

        register_converter(AccountNumberConverter, "account")
