from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CollectionConfig(AppConfig):
    """Floor 3: dunning, cases, promises, agreements, guarantees, cut-off orders.

    Named in the singular because `collections` is a standard-library module.
    """

    name = "collection"
    verbose_name = _("Collections")
