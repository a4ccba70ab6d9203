from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from .models import Contact, Customer, MeterPoint, Region, ServiceVisit


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "kind", "parent", "leader"]
    list_filter = ["kind"]
    search_fields = ["code", "name"]
    autocomplete_fields = ["parent", "leader"]


class MeterPointInline(admin.TabularInline):
    model = MeterPoint
    extra = 0


class ContactInline(admin.TabularInline):
    model = Contact
    extra = 0


@admin.register(Customer)
class CustomerAdmin(SimpleHistoryAdmin):
    list_display = ["account_no", "name", "industry", "importance", "region", "collector", "settlement_mode"]
    list_filter = ["industry", "importance", "settlement_mode", "operating_status", "region"]
    search_fields = ["account_no", "name", "uscc"]
    autocomplete_fields = ["region", "collector", "account_manager"]
    inlines = [MeterPointInline, ContactInline]
    list_select_related = ["region", "collector"]


@admin.register(MeterPoint)
class MeterPointAdmin(SimpleHistoryAdmin):
    list_display = ["meter_no", "customer", "meter_type", "multiplier", "remote_switch", "active"]
    list_filter = ["meter_type", "remote_switch", "active"]
    search_fields = ["meter_no", "customer__account_no", "customer__name"]
    autocomplete_fields = ["customer"]


@admin.register(Contact)
class ContactAdmin(SimpleHistoryAdmin):
    list_display = ["name", "customer", "role", "mobile", "preferred_channel", "receives_dunning"]
    search_fields = ["name", "mobile", "customer__account_no"]
    autocomplete_fields = ["customer"]


@admin.register(ServiceVisit)
class ServiceVisitAdmin(admin.ModelAdmin):
    list_display = ["customer", "visited_on", "kind", "staff", "follow_up_on"]
    list_filter = ["kind"]
    search_fields = ["customer__account_no", "customer__name", "findings"]
    autocomplete_fields = ["customer", "staff"]
    date_hierarchy = "visited_on"
