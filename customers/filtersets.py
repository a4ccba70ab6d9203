"""One FilterSet per model, shared by the REST API and the htmx list pages (STYLE.md)."""

import django_filters
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext_lazy as _

from .choices import (
    CustomerImportanceChoices,
    CustomerIndustryChoices,
    CustomerOperatingStatusChoices,
    CustomerSettlementModeChoices,
    MeterPointTypeChoices,
    NotificationChannelChoices,
    NotificationStatusChoices,
    RegionKindChoices,
    ServiceVisitKindChoices,
)
from .models import Contact, Customer, MeterPoint, Notification, Region, ServiceVisit
from .selectors import region_subtree_ids, regions_visible_to


class RegionFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", label=_("Search"))
    kind = django_filters.ChoiceFilter(choices=RegionKindChoices.choices, label=_("Kind"))

    class Meta:
        model = Region
        fields = ["q", "kind", "parent"]

    def filter_q(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(code__icontains=value))


class CustomerFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", label=_("Search"))
    region = django_filters.ModelChoiceFilter(
        queryset=lambda request: regions_visible_to(request.user) if request else Region.objects.all(),
        method="filter_region",
        label=_("Region or area"),
    )
    industry = django_filters.MultipleChoiceFilter(choices=CustomerIndustryChoices.choices, label=_("Industry"))
    importance = django_filters.MultipleChoiceFilter(choices=CustomerImportanceChoices.choices, label=_("Importance"))
    settlement_mode = django_filters.MultipleChoiceFilter(
        choices=CustomerSettlementModeChoices.choices, label=_("Settlement mode")
    )
    operating_status = django_filters.MultipleChoiceFilter(
        choices=CustomerOperatingStatusChoices.choices, label=_("Operating status")
    )
    collector = django_filters.NumberFilter(field_name="collector_id", label=_("Collector (user id)"))
    government_funded = django_filters.BooleanFilter(label=_("Government funded"))

    class Meta:
        model = Customer
        fields = ["q", "region", "industry", "importance", "settlement_mode", "operating_status", "collector"]

    def filter_q(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        # Exists rather than a join: a join on meters would need DISTINCT over whole rows.
        by_meter = Exists(MeterPoint.objects.filter(customer=OuterRef("pk"), meter_no__iexact=value))
        return queryset.filter(
            Q(account_no__icontains=value) | Q(name__icontains=value) | Q(uscc__iexact=value) | by_meter
        )

    def filter_region(self, queryset, name, value):
        # A district selects every area below it.
        return queryset.filter(region_id__in=region_subtree_ids([value.pk]))


class MeterPointFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", label=_("Search"))
    customer = django_filters.CharFilter(field_name="customer__account_no", label=_("Customer account number"))
    meter_type = django_filters.ChoiceFilter(choices=MeterPointTypeChoices.choices, label=_("Meter type"))

    class Meta:
        model = MeterPoint
        fields = ["q", "customer", "meter_type", "remote_switch", "active"]

    def filter_q(self, queryset, name, value):
        return queryset.filter(Q(meter_no__icontains=value) | Q(location__icontains=value))


class ContactFilterSet(django_filters.FilterSet):
    customer = django_filters.CharFilter(field_name="customer__account_no", label=_("Customer account number"))

    class Meta:
        model = Contact
        fields = ["customer", "preferred_channel", "receives_dunning"]


class ServiceVisitFilterSet(django_filters.FilterSet):
    customer = django_filters.CharFilter(field_name="customer__account_no", label=_("Customer account number"))
    kind = django_filters.ChoiceFilter(choices=ServiceVisitKindChoices.choices, label=_("Kind"))
    visited_after = django_filters.DateFilter(
        field_name="visited_on", lookup_expr="gte", label=_("Visited on or after")
    )
    visited_before = django_filters.DateFilter(
        field_name="visited_on", lookup_expr="lte", label=_("Visited on or before")
    )

    class Meta:
        model = ServiceVisit
        fields = ["customer", "kind", "visited_after", "visited_before"]


NOTIFICATION_STATE_CHOICES = [
    (NotificationStatusChoices.QUEUED, _("Queued (first attempt)")),
    ("retrying", _("Retrying")),
    (NotificationStatusChoices.SENDING, NotificationStatusChoices.SENDING.label),
    (NotificationStatusChoices.SENT, NotificationStatusChoices.SENT.label),
    (NotificationStatusChoices.DELIVERED, NotificationStatusChoices.DELIVERED.label),
    (NotificationStatusChoices.FAILED, NotificationStatusChoices.FAILED.label),
]


class NotificationFilterSet(django_filters.FilterSet):
    """The outbox, for the Messages page and an API list. `status` splits "queued" into the
    messages waiting for their first attempt and those retrying after a failed one."""

    q = django_filters.CharFilter(method="filter_q", label=_("Search"))
    status = django_filters.ChoiceFilter(choices=NOTIFICATION_STATE_CHOICES, method="filter_status", label=_("Status"))
    channel = django_filters.ChoiceFilter(choices=NotificationChannelChoices.choices, label=_("Message channel"))
    kind = django_filters.CharFilter(field_name="kind", lookup_expr="startswith", label=_("Kind"))
    customer = django_filters.CharFilter(field_name="customer__account_no", label=_("Customer account number"))
    created_after = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__gte", label=_("Created on or after")
    )
    created_before = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__lte", label=_("Created on or before")
    )

    class Meta:
        model = Notification
        fields = ["q", "status", "channel", "kind", "customer", "created_after", "created_before"]

    def filter_q(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(recipient__icontains=value) | Q(customer__account_no__icontains=value))

    def filter_status(self, queryset, name, value):
        if value == "retrying":
            return queryset.filter(status=NotificationStatusChoices.QUEUED, attempts__gt=0)
        if value == NotificationStatusChoices.QUEUED:
            return queryset.filter(status=value, attempts=0)
        return queryset.filter(status=value)
