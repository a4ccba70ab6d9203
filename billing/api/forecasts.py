"""GET /api/v1/forecasts/: each customer's day — statistics, forecast and exposure."""

import django_filters
from django.db.models import OuterRef, Subquery
from rest_framework import mixins, serializers, viewsets

from billing.models import DailyUsage, Forecast
from core.api.permissions import HasRole
from customers.selectors import customers_visible_to, region_subtree_ids


class ForecastFilterSet(django_filters.FilterSet):
    customer = django_filters.CharFilter(field_name="customer__account_no", label="Customer account number")
    date = django_filters.DateFilter(field_name="day", label="Date")
    date_after = django_filters.DateFilter(field_name="day", lookup_expr="gte", label="On or after")
    date_before = django_filters.DateFilter(field_name="day", lookup_expr="lte", label="On or before")
    region = django_filters.NumberFilter(method="filter_region", label="Region id (a district includes its areas)")

    class Meta:
        model = Forecast
        fields = ["customer", "date", "date_after", "date_before", "region"]

    def filter_region(self, queryset, name, value):
        return queryset.filter(customer__region_id__in=region_subtree_ids([int(value)]))


class ForecastSerializer(serializers.ModelSerializer):
    customer = serializers.SlugRelatedField(slug_field="account_no", read_only=True)
    date = serializers.DateField(source="day")
    day_kwh = serializers.DecimalField(max_digits=16, decimal_places=3, allow_null=True)
    mtd_kwh = serializers.DecimalField(max_digits=16, decimal_places=3, allow_null=True)
    mtd_charge = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
    estimated = serializers.BooleanField(allow_null=True)

    class Meta:
        model = Forecast
        fields = [
            "customer",
            "date",
            "day_kwh",
            "mtd_kwh",
            "mtd_charge",
            "estimated",
            "next_day_kwh",
            "projected_month_kwh",
            "projected_month_charge",
            "unbilled_charge",
            "arrears",
            "cover",
            "exposure",
            "method",
        ]


class ForecastViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The day's statistics and forecast per customer (DESIGN.md rule 7)."""

    serializer_class = ForecastSerializer
    filterset_class = ForecastFilterSet
    permission_classes = [HasRole]
    ordering_fields = ["day", "exposure", "projected_month_charge"]

    def get_queryset(self):
        usage = DailyUsage.objects.filter(customer=OuterRef("customer"), day=OuterRef("day"))
        return (
            Forecast.objects.filter(customer__in=customers_visible_to(self.request.user))
            .select_related("customer")
            .annotate(
                day_kwh=Subquery(usage.values("kwh")[:1]),
                mtd_kwh=Subquery(usage.values("mtd_kwh")[:1]),
                mtd_charge=Subquery(usage.values("mtd_charge")[:1]),
                estimated=Subquery(usage.values("estimated")[:1]),
            )
            .order_by("-day", "customer__account_no")
        )
