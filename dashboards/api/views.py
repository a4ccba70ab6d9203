"""GET /api/v1/dashboard/arrears/: the dashboard's totals and one breakdown, from the summary
tables, with the page's filters (the same FilterSet) and the caller's scope."""

from django.conf import settings
from django.core.cache import cache
from django.http import QueryDict
from django.utils.translation import get_language
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from core.api.permissions import HasRole
from core.pagination import filter_data
from dashboards import selectors as s
from dashboards.filtersets import ArrearsSummaryFilterSet
from dashboards.models import ArrearsSummary


def _money(**kwargs):
    return serializers.DecimalField(max_digits=16, decimal_places=2, **kwargs)


def _rate(help_text: str):
    return serializers.DecimalField(max_digits=6, decimal_places=1, allow_null=True, help_text=help_text)


class AgingBucketSerializer(serializers.Serializer):
    bucket = serializers.CharField(help_text="aged_0_30, aged_31_60, aged_61_90, aged_91_180 or aged_over_180")
    label = serializers.CharField()
    days_min = serializers.IntegerField()
    days_max = serializers.IntegerField(allow_null=True, help_text="null: no upper limit")
    amount = _money()
    share = _rate("Percent of the arrears")


class ArrearsFiguresSerializer(serializers.Serializer):
    customers = serializers.IntegerField()
    overdue_customers = serializers.IntegerField(help_text="Customers with anything overdue on as_of")
    arrears = _money(help_text="Overdue principal and unpaid penalty on as_of")
    principal_overdue = _money()
    penalty_overdue = _money()
    due_month = _money(help_text="Bills due in as_of's month (issued by as_of): their totals")
    collected_month = _money(help_text="Principal collected on those bills by as_of")
    recovery_rate_month = _rate("collected_month ÷ due_month, percent")
    due_ytd = _money()
    collected_ytd = _money()
    recovery_rate_ytd = _rate("collected_ytd ÷ due_ytd, percent")
    zero_out_rate = _rate("Customers with nothing overdue ÷ customers, percent (电费结零率)")
    penalty_accrued_month = _money()
    penalty_collected_month = _money()
    billed_month = _money()
    received_month = _money()
    exposure_uncovered = _money()
    aging = AgingBucketSerializer(many=True)


class ArrearsGroupSerializer(serializers.Serializer):
    """One group of the breakdown. For group_by=aging a group is a bucket: only `arrears` (its
    amount) and `days_min`/`days_max` are given, every other measure is null."""

    key = serializers.CharField(help_text='The filter value selecting the group ("none": no grade / no collector)')
    label = serializers.CharField()
    days_min = serializers.IntegerField(required=False, allow_null=True)
    days_max = serializers.IntegerField(required=False, allow_null=True)
    customers = serializers.IntegerField(allow_null=True)
    overdue_customers = serializers.IntegerField(allow_null=True)
    arrears = _money()
    principal_overdue = _money(allow_null=True)
    penalty_overdue = _money(allow_null=True)
    due_month = _money(allow_null=True)
    collected_month = _money(allow_null=True)
    recovery_rate_month = _rate("percent")
    due_ytd = _money(allow_null=True)
    collected_ytd = _money(allow_null=True)
    recovery_rate_ytd = _rate("percent")
    zero_out_rate = _rate("percent")
    penalty_accrued_month = _money(allow_null=True)
    penalty_collected_month = _money(allow_null=True)
    billed_month = _money(allow_null=True)
    received_month = _money(allow_null=True)
    exposure_uncovered = _money(allow_null=True)
    aging = AgingBucketSerializer(many=True, allow_null=True, required=False)


class ArrearsDashboardSerializer(serializers.Serializer):
    as_of = serializers.DateField(allow_null=True, help_text="null: no summary has been built yet")
    available_dates = serializers.ListField(child=serializers.DateField(), help_text="Newest first")
    refreshed_at = serializers.DateTimeField(allow_null=True)
    group_by = serializers.CharField()
    totals = ArrearsFiguresSerializer()
    groups = ArrearsGroupSerializer(many=True)


class ArrearsDashboardApi(GenericAPIView):
    """Arrears totals and one breakdown as of a summary date, scoped like every list: managers
    and system accounts see all, an area leader their areas, a collector their own customers."""

    permission_classes = [HasRole]
    queryset = ArrearsSummary.objects.all()
    filterset_class = ArrearsSummaryFilterSet
    filter_backends = [DjangoFilterBackend]
    pagination_class = None
    serializer_class = ArrearsDashboardSerializer

    @extend_schema(
        filters=True,
        parameters=[
            OpenApiParameter(
                "group_by",
                str,
                enum=list(s.GROUP_BY),
                description="The breakdown (default region; area is the same as region).",
            )
        ],
        responses={
            200: ArrearsDashboardSerializer,
            400: OpenApiResponse(description="A bad group_by, as_of or filter, named: {parameter: [message]}"),
        },
    )
    def get(self, request):
        group_by = request.query_params.get("group_by") or "region"
        if group_by not in s.GROUP_BY:
            return Response({"group_by": [f"Use one of: {', '.join(s.GROUP_BY)}."]}, status=400)
        filterset = s.dashboard_filterset(filter_data(request.query_params) or QueryDict(), request)
        if not filterset.is_valid():
            return Response(filterset.errors, status=400)
        # The figures only change when the summary does: an answer is kept until then (the
        # key carries the summary's version) and shared by every user of the same scope, so
        # twenty managers polling cost one computation.
        # The answer holds translated labels (buckets, "No collector", industries): per language.
        key = s.cache_key("api", request.user, filterset, f"{group_by}|{get_language()}")
        data = cache.get(key) if key else None
        if data is None:
            totals = s.figures(filterset.rows())
            groups = s.aging_groups(totals) if group_by == "aging" else s.breakdown(filterset, group_by)
            body = {
                "as_of": filterset.as_of_date,
                "available_dates": filterset.available_dates,
                "refreshed_at": None,
                "group_by": group_by,
                "totals": totals,
                "groups": groups,
            }
            data = ArrearsDashboardSerializer(body).data
            if key:
                cache.set(key, data, settings.DASHBOARD_CACHE_SECONDS)
        # When the summary was last brought up to date, even if nothing changed then.
        state = s.summary_state()
        refreshed = ArrearsDashboardSerializer().fields["refreshed_at"]
        return Response({**data, "refreshed_at": refreshed.to_representation(state.refreshed_at) if state else None})
