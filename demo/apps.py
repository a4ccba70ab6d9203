from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DemoConfig(AppConfig):
    """The top floor: demo data across the archive and billing (`manage.py seed_demo`).

    It stands above every domain app so that it may use all of them, which no floor below may
    (DESIGN.md, "Floors"); nothing imports it.
    """

    name = "demo"
    verbose_name = _("Demo data")
