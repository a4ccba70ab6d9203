"""The FilterSet of cut-off orders, shared by the API (`cutoff-orders/`) and the staff list."""

import django_filters
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from customers.choices import CustomerImportanceChoices
from customers.models import Region
from customers.selectors import region_subtree_ids, regions_visible_to

from .choices import CutoffStatusChoices
from .cutoff import RESTORE_LIMIT
from .models import CutoffOrder


class CutoffOrderFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", label=_("Search"))
    customer = django_filters.CharFilter(field_name="customer__account_no", label=_("Customer account number"))
    status = django_filters.MultipleChoiceFilter(choices=CutoffStatusChoices.choices, label=_("Status"))
    region = django_filters.ModelChoiceFilter(
        queryset=lambda request: regions_visible_to(request.user) if request else Region.objects.all(),
        field_name="customer__region",
        method="filter_region",
        label=_("Region or area"),
    )
    importance = django_filters.MultipleChoiceFilter(
        field_name="customer__importance", choices=CustomerImportanceChoices.choices, label=_("Importance")
    )
    planned_after = django_filters.DateFilter(
        field_name="planned_at", lookup_expr="date__gte", label=_("Planned on or after")
    )
    planned_before = django_filters.DateFilter(
        field_name="planned_at", lookup_expr="date__lte", label=_("Planned on or before")
    )
    restore_overdue = django_filters.BooleanFilter(
        method="filter_restore_overdue", label=_("Restore more than 3 days after the cause was cleared")
    )

    class Meta:
        model = CutoffOrder
        fields = [
            "q",
            "customer",
            "status",
            "region",
            "importance",
            "planned_after",
            "planned_before",
            "restore_overdue",
        ]

    def filter_q(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(customer__account_no__icontains=value) | Q(customer__name__icontains=value))

    def filter_region(self, queryset, name, value):
        # A district selects every area below it.
        return queryset.filter(customer__region_id__in=region_subtree_ids([value.pk]))

    def filter_restore_overdue(self, queryset, name, value):
        # Still waiting past the limit, or restored after it (供电营业规则 Art. 69: within 3 days).
        late = Q(status=CutoffStatusChoices.RESTORING, cause_cleared_at__lt=timezone.now() - RESTORE_LIMIT) | Q(
            status=CutoffStatusChoices.RESTORED, restored_at__gt=F("cause_cleared_at") + RESTORE_LIMIT
        )
        return queryset.filter(late) if value else queryset.exclude(late)
