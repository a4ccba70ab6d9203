"""FilterSets of remote prepaid control, shared by the API and the staff pages."""

import django_filters
from django.utils.translation import gettext_lazy as _

from customers.choices import CustomerSettlementModeChoices

from .choices import ControlActionChoices, ControlOriginChoices, ControlStatusChoices, PrepaidStateChoices
from .models import ControlCommand, PrepaidAccount


class PrepaidAccountFilterSet(django_filters.FilterSet):
    customer = django_filters.CharFilter(field_name="customer__account_no", label=_("Customer account number"))
    state = django_filters.MultipleChoiceFilter(choices=PrepaidStateChoices.choices, label=_("State"))
    settlement_mode = django_filters.ChoiceFilter(
        field_name="customer__settlement_mode",
        choices=[
            (CustomerSettlementModeChoices.PREPAID_REMOTE, CustomerSettlementModeChoices.PREPAID_REMOTE.label),
            (CustomerSettlementModeChoices.PREPAID_CARD, CustomerSettlementModeChoices.PREPAID_CARD.label),
        ],
        label=_("Settlement mode"),
    )

    class Meta:
        model = PrepaidAccount
        fields = ["customer", "state", "settlement_mode"]


class ControlCommandFilterSet(django_filters.FilterSet):
    customer = django_filters.CharFilter(field_name="customer__account_no", label=_("Customer account number"))
    status = django_filters.MultipleChoiceFilter(choices=ControlStatusChoices.choices, label=_("Status"))
    action = django_filters.ChoiceFilter(choices=ControlActionChoices.choices, label=_("Action"))
    origin = django_filters.ChoiceFilter(choices=ControlOriginChoices.choices, label=_("Origin"))
    created_after = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__gte", label=_("Created on or after")
    )

    class Meta:
        model = ControlCommand
        fields = ["customer", "status", "action", "origin", "created_after"]
