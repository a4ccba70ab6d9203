from django.db import models
from django.utils.translation import gettext_lazy as _


class DunningLevelCodeChoices(models.TextChoices):
    REMINDER = "reminder", _("Payment reminder")
    DEMAND = "demand", _("Formal payment demand")
    SUSPENSION = "suspension", _("Notice of supply suspension")


class DunningNoticeStatusChoices(models.TextChoices):
    PROPOSED = "proposed", _("Proposed, awaiting approval")
    SENT = "sent", _("Sent")
    CANCELLED = "cancelled", _("Cancelled (paid meanwhile)")
    REJECTED = "rejected", _("Rejected")


class CollectionCaseStatusChoices(models.TextChoices):
    OPEN = "open", _("Open")
    CLOSED = "closed", _("Closed")
