"""FilterSets of credit scores, alerts and policy proposals, shared by the API and the staff
pages. The querysets they filter are already scoped (customers_visible_to) by the view; the
area filter only offers the regions the user may see, a district selecting every area below it."""

import django_filters
from django.db.models import F, OuterRef, Q, Subquery
from django.utils.translation import gettext_lazy as _

from customers.choices import CustomerImportanceChoices, CustomerIndustryChoices
from customers.models import Region
from customers.selectors import region_subtree_ids, regions_visible_to

from .choices import AlertKindChoices, ProposalKindChoices, ProposalStatusChoices
from .models import CreditScore, PolicyProposal, RiskAlert
from .selectors import grades_known


def _regions(request):
    return regions_visible_to(request.user) if request is not None else Region.objects.all()


def _grade_choices():
    return [(grade, grade) for grade in grades_known()]


class _CustomerFilters(django_filters.FilterSet):
    """What every risk list filters its customers by."""

    q = django_filters.CharFilter(method="filter_q", label=_("Search"), help_text=_("Account number or name"))
    customer = django_filters.CharFilter(field_name="customer__account_no", label=_("Customer account number"))
    region = django_filters.ModelChoiceFilter(
        field_name="customer__region", queryset=_regions, method="filter_region", label=_("Region or area")
    )

    def filter_q(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(customer__account_no__icontains=value) | Q(customer__name__icontains=value))

    def filter_region(self, queryset, name, value):
        return queryset.filter(customer__region_id__in=region_subtree_ids([value.pk]))


class CreditScoreFilterSet(_CustomerFilters):
    grade = django_filters.MultipleChoiceFilter(choices=_grade_choices, label=_("Grade"))
    industry = django_filters.MultipleChoiceFilter(
        field_name="customer__industry", choices=CustomerIndustryChoices.choices, label=_("Industry")
    )
    importance = django_filters.MultipleChoiceFilter(
        field_name="customer__importance", choices=CustomerImportanceChoices.choices, label=_("Importance")
    )
    changed_since = django_filters.DateFilter(
        method="filter_changed_since",
        label=_("Grade changed since"),
        help_text=_(
            "Customers scored since this date whose grade differs from the one they had before it (a first grade "
            "counts)."
        ),
    )
    scored_since = django_filters.DateFilter(field_name="as_of", lookup_expr="gte", label=_("Scored on or after"))

    class Meta:
        model = CreditScore
        fields = ["q", "customer", "grade", "region", "industry", "importance", "changed_since", "scored_since"]

    def filter_changed_since(self, queryset, name, value):
        # The grade held the day before: the customer's latest score dated before `value`.
        before = (
            CreditScore.objects.filter(customer=OuterRef("customer"), as_of__lt=value)
            .order_by("-as_of", "-id")
            .values("grade")[:1]
        )
        return (
            queryset.filter(as_of__gte=value)
            .annotate(grade_before=Subquery(before))
            .filter(Q(grade_before__isnull=True) | ~Q(grade_before=F("grade")))
        )


class RiskAlertFilterSet(_CustomerFilters):
    kind = django_filters.MultipleChoiceFilter(choices=AlertKindChoices.choices, label=_("Kind"))
    acknowledged = django_filters.BooleanFilter(
        field_name="acknowledged_at", lookup_expr="isnull", exclude=True, label=_("Acknowledged")
    )
    raised_since = django_filters.DateFilter(field_name="raised_on", lookup_expr="gte", label=_("Raised on or after"))

    class Meta:
        model = RiskAlert
        fields = ["q", "customer", "region", "kind", "acknowledged", "raised_since"]


class PolicyProposalFilterSet(_CustomerFilters):
    status = django_filters.MultipleChoiceFilter(choices=ProposalStatusChoices.choices, label=_("Status"))
    kind = django_filters.MultipleChoiceFilter(choices=ProposalKindChoices.choices, label=_("Kind"))
    grade = django_filters.MultipleChoiceFilter(choices=_grade_choices, label=_("Grade"))

    class Meta:
        model = PolicyProposal
        fields = ["q", "customer", "region", "status", "kind", "grade"]
