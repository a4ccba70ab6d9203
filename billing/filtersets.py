"""FilterSets shared by the billing API and the staff pages."""

import django_filters
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .choices import (
    BillKindChoices,
    BillStatusChoices,
    MeterReadingSourceChoices,
    PaymentChannelChoices,
    PaymentStatusChoices,
)
from .models import Bill, BillingRun, MeterReading, Payment, Tariff


class TariffFilterSet(django_filters.FilterSet):
    class Meta:
        model = Tariff
        fields = ["code", "category"]


class MeterReadingFilterSet(django_filters.FilterSet):
    meter = django_filters.CharFilter(field_name="meter__meter_no", label=_("Meter number"))
    customer = django_filters.CharFilter(field_name="meter__customer__account_no", label=_("Customer account number"))
    read_after = django_filters.DateFilter(field_name="read_on", lookup_expr="gte", label=_("Read on or after"))
    read_before = django_filters.DateFilter(field_name="read_on", lookup_expr="lte", label=_("Read on or before"))
    source = django_filters.ChoiceFilter(choices=MeterReadingSourceChoices.choices, label=_("Source"))

    class Meta:
        model = MeterReading
        fields = ["meter", "customer", "read_after", "read_before", "source"]


class BillFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", label=_("Search"))
    customer = django_filters.CharFilter(field_name="customer__account_no", label=_("Customer account number"))
    period = django_filters.CharFilter(label=_("Period (YYYY-MM)"))
    status = django_filters.MultipleChoiceFilter(choices=BillStatusChoices.choices, label=_("Status"))
    kind = django_filters.MultipleChoiceFilter(choices=BillKindChoices.choices, label=_("Kind"))
    overdue = django_filters.BooleanFilter(method="filter_overdue", label=_("Overdue"))
    due_after = django_filters.DateFilter(field_name="due_on", lookup_expr="gte", label=_("Due on or after"))
    due_before = django_filters.DateFilter(field_name="due_on", lookup_expr="lte", label=_("Due on or before"))

    class Meta:
        model = Bill
        fields = ["q", "customer", "period", "status", "kind", "overdue", "due_after", "due_before"]

    def filter_q(self, queryset, name, value):
        return queryset.filter(Q(number__icontains=value) | Q(customer__name__icontains=value))

    def filter_overdue(self, queryset, name, value):
        overdue = Q(due_on__lt=timezone.localdate()) & ~Q(status=BillStatusChoices.PAID)
        return queryset.filter(overdue) if value else queryset.exclude(overdue)


class PaymentFilterSet(django_filters.FilterSet):
    customer = django_filters.CharFilter(field_name="customer__account_no", label=_("Customer account number"))
    channel = django_filters.ChoiceFilter(choices=PaymentChannelChoices.choices, label=_("Channel"))
    status = django_filters.ChoiceFilter(choices=PaymentStatusChoices.choices, label=_("Status"))
    external_ref = django_filters.CharFilter(label=_("External reference"))
    received_after = django_filters.DateFilter(
        field_name="received_at", lookup_expr="date__gte", label=_("Received on or after")
    )
    received_before = django_filters.DateFilter(
        field_name="received_at", lookup_expr="date__lte", label=_("Received on or before")
    )

    class Meta:
        model = Payment
        fields = ["customer", "channel", "status", "external_ref", "received_after", "received_before"]


class BillingRunFilterSet(django_filters.FilterSet):
    class Meta:
        model = BillingRun
        fields = ["period", "status"]
