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


class ActivityKindChoices(models.TextChoices):
    CALL = "call", _("Call")
    VISIT = "visit", _("Visit")
    NOTICE = "notice", _("Notice handed over")
    NOTE = "note", _("Note")


class ActivityOutcomeChoices(models.TextChoices):
    REACHED = "reached", _("Reached the customer")
    NO_ANSWER = "no_answer", _("No answer")
    PROMISED = "promised", _("Promised to pay")
    REFUSED = "refused", _("Refused")
    OTHER = "other", _("Other")


class PromiseStatusChoices(models.TextChoices):
    OPEN = "open", _("Open")
    KEPT = "kept", _("Kept")
    BROKEN = "broken", _("Broken")


class ArrangementStatusChoices(models.TextChoices):
    ACTIVE = "active", _("Active")
    COMPLETED = "completed", _("Completed")
    BROKEN = "broken", _("Broken")
    # Withdrawn by agreement (re-signed on other terms, the arrears settled another way): neither
    # kept nor broken, so it counts neither way in the credit score.
    CANCELLED = "cancelled", _("Cancelled")


class CutoffStatusChoices(models.TextChoices):
    PROPOSED = "proposed", _("Proposed")
    EXECUTED = "executed", _("Executed")
    RESTORING = "restoring", _("Restore issued")
    RESTORED = "restored", _("Supply restored")
    CANCELLED = "cancelled", _("Cancelled")
