from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DashboardsConfig(AppConfig):
    """Floor 5: the managers' arrears dashboards, reading every floor below."""

    name = "dashboards"
    verbose_name = _("Dashboards")
