"""Admin for configuration (tariffs, the adjustment table, penalty rules) and read-only money rows.

Money rows are immutable: the admin shows them but cannot add, change or delete them; every
change goes through a service (payments, reversals, waivers, adjustment notes) with its audit trail.
"""

from django.contrib import admin

from .models import (
    AdjustmentNote,
    Bill,
    BillingRun,
    BillLine,
    CustomerTariff,
    MeterReading,
    Payment,
    PaymentAllocation,
    PenaltyAccrual,
    PenaltyRule,
    PenaltyWaiver,
    PowerFactorAdjustment,
    ReadingUpload,
    Tariff,
)


@admin.register(Tariff)
class TariffAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "category", "valid_from", "price_flat", "pf_standard"]
    list_filter = ["category"]
    search_fields = ["code", "name"]


@admin.register(PowerFactorAdjustment)
class PowerFactorAdjustmentAdmin(admin.ModelAdmin):
    list_display = ["standard", "power_factor", "percent"]
    list_filter = ["standard"]


@admin.register(PenaltyRule)
class PenaltyRuleAdmin(admin.ModelAdmin):
    list_display = ["valid_from", "current_year_rate", "cross_year_rate", "residential_rate", "minimum_amount"]


@admin.register(CustomerTariff)
class CustomerTariffAdmin(admin.ModelAdmin):
    list_display = ["customer", "tariff_code", "valid_from"]
    search_fields = ["customer__account_no", "tariff_code"]
    autocomplete_fields = ["customer"]


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(MeterReading)
class MeterReadingAdmin(ReadOnlyAdmin):
    list_display = ["meter", "read_on", "total_kwh", "reactive_kvarh", "max_demand_kw", "source"]
    list_filter = ["source"]
    search_fields = ["meter__meter_no"]
    date_hierarchy = "read_on"


class BillLineInline(admin.TabularInline):
    model = BillLine
    extra = 0
    can_delete = False

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Bill)
class BillAdmin(ReadOnlyAdmin):
    list_display = ["number", "customer", "period", "issued_on", "due_on", "total", "status"]
    list_filter = ["status", "kind", "period"]
    search_fields = ["number", "customer__account_no", "customer__name"]
    inlines = [BillLineInline]


@admin.register(BillingRun)
class BillingRunAdmin(ReadOnlyAdmin):
    list_display = ["period", "status", "customers_done", "customers_total", "bills_created", "created_at"]


for model in (PenaltyAccrual, PenaltyWaiver, Payment, PaymentAllocation, AdjustmentNote, ReadingUpload):
    admin.site.register(model, ReadOnlyAdmin)
