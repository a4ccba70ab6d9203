"""FilterSets shared by the billing API and the staff pages."""

import datetime as dt

import django_filters
from django import forms
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from customers.filtersets import CustomerDimensionFilterSet

from .choices import (
    BillKindChoices,
    BillStatusChoices,
    MeterReadingSourceChoices,
    PaymentChannelChoices,
    PaymentStatusChoices,
)
from .models import Bill, BillingRun, MeterReading, Payment, Tariff
from .selectors import overdue_bills_as_of


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


@extend_schema_field(OpenApiTypes.INT)
class DaysFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField


class BillFilterSet(CustomerDimensionFilterSet):
    """Bills for the API and the bill list. With `overdue_on` the list is the arrears of that
    day, each bill with what was unpaid of it then (`billing.selectors.overdue_bills_as_of`, the
    definition the dashboards add up), so a dashboard figure and its drill-down agree."""

    customer_path = "customer__"

    q = django_filters.CharFilter(method="filter_q", label=_("Search"))
    customer = django_filters.CharFilter(field_name="customer__account_no", label=_("Customer account number"))
    period = django_filters.CharFilter(label=_("Period (YYYY-MM)"))
    status = django_filters.MultipleChoiceFilter(choices=BillStatusChoices.choices, label=_("Status"))
    kind = django_filters.MultipleChoiceFilter(choices=BillKindChoices.choices, label=_("Kind"))
    overdue = django_filters.BooleanFilter(method="filter_overdue", label=_("Overdue"))
    due_after = django_filters.DateFilter(field_name="due_on", lookup_expr="gte", label=_("Due on or after"))
    due_before = django_filters.DateFilter(field_name="due_on", lookup_expr="lte", label=_("Due on or before"))
    issued_after = django_filters.DateFilter(field_name="issued_on", lookup_expr="gte", label=_("Issued on or after"))
    issued_before = django_filters.DateFilter(field_name="issued_on", lookup_expr="lte", label=_("Issued on or before"))
    overdue_on = django_filters.DateFilter(
        method="filter_overdue_on", label=_("Overdue on (with the amounts unpaid that day)")
    )
    overdue_days_min = DaysFilter(
        method="filter_overdue_days_min",
        min_value=0,
        max_value=36500,
        label=_("At least this many days overdue (on the overdue_on date, else today)"),
    )
    overdue_days_max = DaysFilter(
        method="filter_overdue_days_max",
        min_value=0,
        max_value=36500,
        label=_("At most this many days overdue (on the overdue_on date, else today)"),
    )

    class Meta:
        model = Bill
        fields = [
            "q",
            "customer",
            "period",
            "status",
            "kind",
            "overdue",
            "due_after",
            "due_before",
            "issued_after",
            "issued_before",
            "overdue_on",
            "overdue_days_min",
            "overdue_days_max",
            "region",
            "industry",
            "importance",
            "settlement_mode",
            "grade",
            "collector",
        ]

    def filter_q(self, queryset, name, value):
        return queryset.filter(Q(number__icontains=value) | Q(customer__name__icontains=value))

    def filter_overdue(self, queryset, name, value):
        overdue = Q(due_on__lt=timezone.localdate()) & ~Q(status=BillStatusChoices.PAID)
        return queryset.filter(overdue) if value else queryset.exclude(overdue)

    def filter_overdue_on(self, queryset, name, value):
        return overdue_bills_as_of(queryset, value)

    def _due_on_or_before(self, days) -> dt.date | None:
        # d days overdue on D means due on D − d (the dashboards' aging counts the same way).
        try:
            return (self.form.cleaned_data.get("overdue_on") or timezone.localdate()) - dt.timedelta(days=days)
        except OverflowError:  # before the calendar's first day
            return None

    def filter_overdue_days_min(self, queryset, name, value):
        latest_due = self._due_on_or_before(value)
        return queryset.none() if latest_due is None else queryset.filter(due_on__lte=latest_due)

    def filter_overdue_days_max(self, queryset, name, value):
        earliest_due = self._due_on_or_before(value)
        return queryset if earliest_due is None else queryset.filter(due_on__gte=earliest_due)


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
