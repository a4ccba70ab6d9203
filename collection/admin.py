from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from .models import (
    CollectionCase,
    CollectionTarget,
    CutoffOrder,
    DunningLevel,
    DunningNotice,
    DunningPolicy,
    PaymentArrangement,
)


class DunningLevelInline(admin.StackedInline):
    """Texts may use {name} {account} {amount} {penalty} {bills} {days} {channels}; the short
    texts go by SMS and WeChat, the full ones by e-mail. Unknown placeholders are refused."""

    model = DunningLevel
    extra = 0


@admin.register(DunningPolicy)
class DunningPolicyAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "name",
        "priority",
        "credit_grades",
        "importance",
        "settlement_mode",
        "is_default",
        "active",
    ]
    list_filter = ["active"]
    inlines = [DunningLevelInline]


@admin.register(CollectionTarget)
class CollectionTargetAdmin(SimpleHistoryAdmin):
    list_display = ["month", "region", "collector", "recovery_rate", "zero_out_rate", "set_by"]
    list_filter = ["month"]


@admin.register(DunningNotice)
class DunningNoticeAdmin(SimpleHistoryAdmin):
    list_display = ["customer", "level", "status", "proposed_on", "overdue_days", "amount_due", "sent_at"]
    list_filter = ["status", "level__code"]
    search_fields = ["customer__account_no", "customer__name"]
    readonly_fields = [f.name for f in DunningNotice._meta.fields] + ["notifications"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(CollectionCase)
class CollectionCaseAdmin(admin.ModelAdmin):
    list_display = ["customer", "status", "opened_on", "closed_on", "arrears_at_opening"]
    list_filter = ["status"]
    search_fields = ["customer__account_no", "customer__name"]


@admin.register(CutoffOrder)
class CutoffOrderAdmin(SimpleHistoryAdmin):
    list_display = ["customer", "status", "planned_at", "leader_approved_by", "manager_approved_by", "executed_at"]
    list_filter = ["status"]
    search_fields = ["customer__account_no", "customer__name"]


@admin.register(PaymentArrangement)
class PaymentArrangementAdmin(SimpleHistoryAdmin):
    list_display = ["customer", "total", "status", "made_on", "resolved_on"]
    list_filter = ["status"]
    search_fields = ["customer__account_no", "customer__name"]
