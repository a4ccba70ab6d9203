"""FilterSets of payment arrangements and guarantees, shared by the API and the staff pages.

The querysets they filter are already scoped (customers_visible_to) by the view; the area
filter only offers the regions the user may see.
"""

import datetime as dt

import django_filters
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from billing.choices import GuaranteeKindChoices
from billing.models import Guarantee
from customers.models import Region
from customers.selectors import region_subtree_ids, regions_visible_to

from .choices import ArrangementStatusChoices
from .models import PaymentArrangement
from .selectors_agreements import arrangements_with_figures


def _regions(request):
    return regions_visible_to(request.user) if request is not None else Region.objects.all()


def _in_region(queryset, region: Region):
    # A district selects every area below it.
    return queryset.filter(customer__region_id__in=region_subtree_ids([region.pk]))


def _customer_matches(value: str) -> Q:
    return Q(customer__account_no__icontains=value) | Q(customer__name__icontains=value)


class PaymentArrangementFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", label=_("Search"))
    customer = django_filters.CharFilter(field_name="customer__account_no", label=_("Customer account number"))
    status = django_filters.MultipleChoiceFilter(choices=ArrangementStatusChoices.choices, label=_("Status"))
    region = django_filters.ModelChoiceFilter(
        field_name="customer__region", queryset=_regions, method="filter_region", label=_("Region or area")
    )
    missed = django_filters.BooleanFilter(method="filter_missed", label=_("Missed an instalment"))

    class Meta:
        model = PaymentArrangement
        fields = ["q", "customer", "status", "region", "missed"]

    def filter_q(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(_customer_matches(value)) if value else queryset

    def filter_region(self, queryset, name, value):
        return _in_region(queryset, value)

    def filter_missed(self, queryset, name, value):
        # The list view annotates already; the API's queryset gets the figures here.
        if "missed" not in queryset.query.annotations:
            queryset = arrangements_with_figures(queryset)
        return queryset.filter(missed=value)


GUARANTEE_STATES = [
    ("active", _("In force")),
    ("expired", _("Expired, not released")),
    ("released", _("Released")),
]


class GuaranteeFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", label=_("Search"))
    customer = django_filters.CharFilter(field_name="customer__account_no", label=_("Customer account number"))
    kind = django_filters.MultipleChoiceFilter(choices=GuaranteeKindChoices.choices, label=_("Kind"))
    state = django_filters.ChoiceFilter(choices=GUARANTEE_STATES, method="filter_state", label=_("Validity"))
    expiring_within = django_filters.NumberFilter(
        method="filter_expiring", min_value=0, max_value=3660, label=_("Expiring within (days)")
    )
    region = django_filters.ModelChoiceFilter(
        field_name="customer__region", queryset=_regions, method="filter_region", label=_("Region or area")
    )

    class Meta:
        model = Guarantee
        fields = ["q", "customer", "kind", "state", "expiring_within", "region"]

    def filter_q(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(_customer_matches(value) | Q(issuer__icontains=value) | Q(document_ref__icontains=value))

    def filter_region(self, queryset, name, value):
        return _in_region(queryset, value)

    def filter_state(self, queryset, name, value):
        today = timezone.localdate()
        current = Q(valid_to__isnull=True) | Q(valid_to__gte=today)
        if value == "active":
            return queryset.filter(current, released_on__isnull=True)
        if value == "expired":
            return queryset.filter(released_on__isnull=True, valid_to__lt=today)
        return queryset.filter(released_on__isnull=False)

    def filter_expiring(self, queryset, name, value):
        # Still held and ending between today and N days from now (a deposit without an end never expires).
        today = timezone.localdate()
        return queryset.filter(
            released_on__isnull=True, valid_to__gte=today, valid_to__lte=today + dt.timedelta(days=int(value))
        )
