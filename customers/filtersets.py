"""One FilterSet per model, shared by the REST API and the htmx list pages (STYLE.md)."""

import re

import django_filters
from django.conf import settings
from django.contrib.auth.models import User
from django.core.validators import RegexValidator
from django.db.models import Exists, OuterRef, Q
from django.forms import ModelChoiceField
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _
from django_filters.fields import MultipleChoiceField
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

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


GRADE_NONE = COLLECTOR_NONE = "none"


class GradeField(MultipleChoiceField):
    """Credit grades are data (the published scorecard's bands, kept by risk, a floor above),
    so any grade-shaped value is accepted, plus "none" for a customer not graded yet."""

    def valid_value(self, value):
        return value == GRADE_NONE or bool(re.fullmatch(r"[A-Z]{1,3}[+-]?", str(value)))


@extend_schema_field(OpenApiTypes.STR)
class GradeFilter(django_filters.MultipleChoiceFilter):
    field_class = GradeField


@extend_schema_field(OpenApiTypes.INT)
class RegionFilter(django_filters.ModelChoiceFilter):
    """A region's id; a district selects every area below it. Its own class so the schema says
    "integer" on lists whose model has no `region` of its own (bills, cut-off orders)."""


class CustomerDimensionFilterSet(django_filters.FilterSet):
    """The customer dimensions the dashboards break arrears down by, for any list whose rows
    belong to a customer (`customer_path` leads from the row to it). A dashboard figure links
    to a list with the same parameter names, so the rows add up to the figure."""

    customer_path = ""

    region = RegionFilter(
        queryset=lambda request: regions_visible_to(request.user) if request else Region.objects.all(),
        method="filter_region",
        label=_("Region or area"),
    )
    industry = django_filters.MultipleChoiceFilter(
        choices=CustomerIndustryChoices.choices, method="filter_in", label=_("Industry")
    )
    importance = django_filters.MultipleChoiceFilter(
        choices=CustomerImportanceChoices.choices, method="filter_in", label=_("Importance")
    )
    settlement_mode = django_filters.MultipleChoiceFilter(
        choices=CustomerSettlementModeChoices.choices, method="filter_in", label=_("Settlement mode")
    )
    # The schema lists no enum (extend_schema_field above): the grades themselves are data.
    grade = GradeFilter(
        choices=[(GRADE_NONE, _("No grade"))], method="filter_grade", label=_('Credit grade ("none": not graded)')
    )
    collector = django_filters.CharFilter(
        method="filter_collector",
        validators=[RegexValidator(r"^(\d{1,10}|none)$", _('Give a user id, or "none" for no collector.'))],
        label=_('Collector (user id, or "none" for no collector)'),
    )

    def drill_filters(self, names) -> list[dict]:
        """The filters among `names` in the query that the list's form does not show (a
        dashboard drill-down's), each with its label, its values as a person reads them, and
        the query string without it, so the list can say what it is showing and drop one."""
        shown = []
        if self.data is None:
            return shown
        for name in names:
            values = [value for value in self.data.getlist(name) if value != ""]
            if not values or name not in self.filters:
                continue
            others = self.data.copy()
            others.pop(name)
            others.pop("page", None)
            shown.append(
                {
                    "name": name,
                    "label": self.filters[name].label or name,
                    "values": values,
                    "display": ", ".join(self._display(name, value) for value in values),
                    "without": others.urlencode(),
                }
            )
        return shown

    def _display(self, name: str, value: str) -> str:
        field = self.form.fields[name]
        if name == "collector":
            if value == COLLECTOR_NONE:
                return str(_("no collector"))
            user = User.objects.filter(pk=value).first() if value.isdigit() else None
            return (user.get_full_name() or user.username) if user else value
        if isinstance(field, ModelChoiceField):
            found = field.queryset.filter(pk=value).first() if value.isdigit() else None
            return str(found) if found else value
        choices = dict(getattr(field, "choices", ()))
        return str(choices.get(value, value))

    def _field(self, name: str) -> str:
        return f"{self.customer_path}{name}"

    def filter_region(self, queryset, name, value):
        # A district selects every area below it.
        return queryset.filter(**{self._field("region_id__in"): region_subtree_ids([value.pk])})

    def filter_in(self, queryset, name, value):
        return queryset.filter(**{self._field(f"{name}__in"): value})

    def filter_grade(self, queryset, name, value):
        grades = ["" if grade == GRADE_NONE else grade for grade in value]
        return queryset.filter(**{self._field("credit_grade__in"): grades})

    def filter_collector(self, queryset, name, value):
        if value == COLLECTOR_NONE:
            return queryset.filter(**{self._field("collector__isnull"): True})
        return queryset.filter(**{self._field("collector_id"): int(value)})


def _arrears_as_of(customers, day):
    # The arrears are billing's figures, a floor above the archive: it names its selector in
    # settings (as WORKLIST_SOURCES does for the worklist) rather than being imported here.
    return import_string(settings.CUSTOMER_ARREARS_AS_OF)(customers, day)


class CustomerFilterSet(CustomerDimensionFilterSet):
    q = django_filters.CharFilter(method="filter_q", label=_("Search"))
    operating_status = django_filters.MultipleChoiceFilter(
        choices=CustomerOperatingStatusChoices.choices, label=_("Operating status")
    )
    government_funded = django_filters.BooleanFilter(label=_("Government funded"))
    in_arrears_on = django_filters.DateFilter(
        method="filter_in_arrears_on", label=_("In arrears on (customers with anything overdue that day)")
    )
    clear_on = django_filters.DateFilter(method="filter_clear_on", label=_("Nothing overdue on (zeroed out that day)"))

    class Meta:
        model = Customer
        fields = [
            "q",
            "region",
            "industry",
            "importance",
            "settlement_mode",
            "operating_status",
            "collector",
            "grade",
            "government_funded",
            "in_arrears_on",
            "clear_on",
        ]

    def filter_q(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        # Exists rather than a join: a join on meters would need DISTINCT over whole rows.
        by_meter = Exists(MeterPoint.objects.filter(customer=OuterRef("pk"), meter_no__iexact=value))
        return queryset.filter(
            Q(account_no__icontains=value) | Q(name__icontains=value) | Q(uscc__iexact=value) | by_meter
        )

    def filter_in_arrears_on(self, queryset, name, value):
        return _arrears_as_of(queryset, value).filter(in_arrears_as_of=True)

    def filter_clear_on(self, queryset, name, value):
        return _arrears_as_of(queryset, value).filter(in_arrears_as_of=False)


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
    announcement = django_filters.NumberFilter(field_name="announcement_id", label=_("Notice to customers (id)"))

    class Meta:
        model = Notification
        fields = ["q", "status", "channel", "kind", "customer", "created_after", "created_before", "announcement"]

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
