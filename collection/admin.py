from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from .models import CollectionCase, CutoffOrder, DunningLevel, DunningNotice, DunningPolicy, PaymentArrangement


class DunningLevelInline(admin.StackedInline):
    model = DunningLevel
    extra = 0


@admin.register(DunningPolicy)
class DunningPolicyAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "is_default", "active"]
    inlines = [DunningLevelInline]


@admin.register(DunningNotice)
class DunningNoticeAdmin(admin.ModelAdmin):
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
