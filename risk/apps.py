from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RiskConfig(AppConfig):
    """Floor 4: scorecards, credit scores and grades, grade policies, early warnings."""

    name = "risk"
    verbose_name = _("Risk")
