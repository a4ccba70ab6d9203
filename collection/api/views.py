"""Collections API: dunning notices (with approval), cases, activities and promises."""

import datetime as dt
from decimal import Decimal

import django_filters
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.models import Guarantee
from collection.filtersets_agreements import GuaranteeFilterSet, PaymentArrangementFilterSet
from collection.models import Activity, CollectionCase, DunningNotice, PaymentArrangement, PromiseToPay
from collection.responsibility import collector_reassign, recovery_by
from collection.services import (
    ARRANGEMENT_REASON_MAX,
    GUARANTEE_REASON_MAX,
    activity_log,
    arrangement_cancel,
    arrangement_create,
    dunning_notice_approve,
    guarantee_record,
    guarantee_release,
    promise_record,
)
from core.api.mixins import as_drf_validation_error, service_errors
from core.api.permissions import ArchiveWrite, ContactWorkWrite, HasRole
from customers.api.serializers import ScopedCustomerField
from customers.selectors import customers_visible_to


class DunningNoticeSerializer(serializers.ModelSerializer):
    customer = serializers.SlugRelatedField(slug_field="account_no", read_only=True)
    level = serializers.CharField(source="level.code", read_only=True)
    approved_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = DunningNotice
        fields = ["id", "customer", "level", "status", "proposed_on", "overdue_days", "amount_due", "bills", "text",
                  "approved_by", "decided_at", "sent_at"]  # fmt: skip


class DunningNoticeFilterSet(django_filters.FilterSet):
    customer = django_filters.CharFilter(field_name="customer__account_no", label="Customer account number")
    level = django_filters.CharFilter(field_name="level__code", label="Level")

    class Meta:
        model = DunningNotice
        fields = ["customer", "status", "level"]


class DunningNoticeViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = DunningNoticeSerializer
    filterset_class = DunningNoticeFilterSet
    permission_classes = [HasRole]

    def get_queryset(self):
        return (
            DunningNotice.objects.filter(customer__in=customers_visible_to(self.request.user))
            .select_related("customer", "level", "approved_by")
            .order_by("-proposed_on", "-id")
        )

    @extend_schema(request=None, responses={200: DunningNoticeSerializer})
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """An area leader or manager approves a proposed notice; it is sent at once."""
        notice = self.get_object()
        with service_errors():
            notice = dunning_notice_approve(notice=notice, approved_by=request.user)
        return Response(DunningNoticeSerializer(self.get_queryset().get(pk=notice.pk)).data)


class CollectionCaseSerializer(serializers.ModelSerializer):
    customer = serializers.SlugRelatedField(slug_field="account_no", read_only=True)

    class Meta:
        model = CollectionCase
        fields = ["id", "customer", "status", "opened_on", "closed_on", "arrears_at_opening"]


class CollectionCaseViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = CollectionCaseSerializer
    permission_classes = [HasRole]
    filterset_fields = ["status"]

    def get_queryset(self):
        return (
            CollectionCase.objects.filter(customer__in=customers_visible_to(self.request.user))
            .select_related("customer")
            .order_by("-opened_on", "-id")
        )


class ActivitySerializer(serializers.ModelSerializer):
    customer = ScopedCustomerField()
    by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    happened_at = serializers.DateTimeField(required=False)

    class Meta:
        model = Activity
        fields = ["id", "customer", "case", "kind", "outcome", "note", "happened_at", "by"]
        read_only_fields = ["case"]


class ActivityViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = ActivitySerializer
    permission_classes = [ContactWorkWrite]
    filterset_fields = ["kind"]

    def get_queryset(self):
        return (
            Activity.objects.filter(customer__in=customers_visible_to(self.request.user))
            .select_related("customer", "by")
            .order_by("-happened_at", "-id")
        )

    def perform_create(self, serializer):
        try:
            serializer.instance = activity_log(by=self.request.user, **serializer.validated_data)
        except DjangoValidationError as exc:
            raise as_drf_validation_error(exc) from None


class PromiseSerializer(serializers.ModelSerializer):
    customer = ScopedCustomerField()

    class Meta:
        model = PromiseToPay
        fields = ["id", "customer", "case", "promised_on", "amount", "status", "made_on", "resolved_on"]
        read_only_fields = ["case", "status", "made_on", "resolved_on"]


class PromiseViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = PromiseSerializer
    permission_classes = [ContactWorkWrite]
    filterset_fields = ["status"]

    def get_queryset(self):
        return (
            PromiseToPay.objects.filter(customer__in=customers_visible_to(self.request.user))
            .select_related("customer")
            .order_by("promised_on", "id")
        )

    def perform_create(self, serializer):
        try:
            serializer.instance = promise_record(created_by=self.request.user, **serializer.validated_data)
        except DjangoValidationError as exc:
            raise as_drf_validation_error(exc) from None


class GuaranteeSerializer(serializers.ModelSerializer):
    customer = ScopedCustomerField()

    class Meta:
        model = Guarantee
        fields = ["id", "customer", "kind", "amount", "valid_from", "valid_to", "issuer", "document_ref", "released_on"]
        # Released only through `release/`, which checks the date, once only, and keeps the reason.
        read_only_fields = ["released_on"]


class GuaranteeReleaseSerializer(serializers.Serializer):
    released_on = serializers.DateField()
    reason = serializers.CharField(max_length=GUARANTEE_REASON_MAX)


class GuaranteeViewSet(mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Guarantees, deposits and letters of credit (电费担保); they count as cover in the exposure."""

    serializer_class = GuaranteeSerializer
    permission_classes = [ArchiveWrite]
    filterset_class = GuaranteeFilterSet
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    def get_queryset(self):
        return (
            Guarantee.objects.filter(customer__in=customers_visible_to(self.request.user))
            .select_related("customer")
            .order_by("customer__account_no", "-valid_from")
        )

    def perform_create(self, serializer):
        try:
            serializer.instance = guarantee_record(data=serializer.validated_data, recorded_by=self.request.user)
        except DjangoValidationError as exc:
            raise as_drf_validation_error(exc) from None

    def perform_update(self, serializer):
        instance = serializer.instance
        for field, value in serializer.validated_data.items():
            setattr(instance, field, value)
        instance._history_user = self.request.user
        try:
            instance.full_clean()
        except DjangoValidationError as exc:
            raise as_drf_validation_error(exc) from None
        instance.save()

    @extend_schema(request=GuaranteeReleaseSerializer, responses={200: GuaranteeSerializer})
    @action(detail=True, methods=["post"])
    def release(self, request, pk=None):
        """An area leader or manager gives the guarantee back (once; dated between its start and
        today); it stops counting as cover. The reason is kept in its audit trail."""
        guarantee = self.get_object()
        data = GuaranteeReleaseSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with service_errors():
            guarantee = guarantee_release(guarantee=guarantee, by=request.user, **data.validated_data)
        return Response(GuaranteeSerializer(guarantee).data)


class ReassignSerializer(serializers.Serializer):
    collector = serializers.SlugRelatedField(slug_field="username", queryset=User.objects.filter(is_active=True))
    reason = serializers.CharField(max_length=300)


class RecoveryFiguresSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    due = serializers.DecimalField(max_digits=16, decimal_places=2)
    collected = serializers.DecimalField(max_digits=16, decimal_places=2)
    recovery_rate = serializers.DecimalField(max_digits=6, decimal_places=1, allow_null=True)
    customers = serializers.IntegerField()
    in_arrears = serializers.IntegerField()
    zero_out_rate = serializers.DecimalField(max_digits=6, decimal_places=1, allow_null=True)
    recovery_target = serializers.DecimalField(max_digits=5, decimal_places=1, allow_null=True)
    zero_out_target = serializers.DecimalField(max_digits=5, decimal_places=1, allow_null=True)
    on_target = serializers.BooleanField(allow_null=True)


class CustomerReassignApi(APIView):
    """POST /customers/{account_no}/reassign/: hand the customer to another collector (history kept)."""

    permission_classes = [HasRole]

    @extend_schema(request=ReassignSerializer, responses={201: None})
    def post(self, request, account_no: str):
        customer = get_object_or_404(customers_visible_to(request.user), account_no=account_no)
        data = ReassignSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with service_errors():
            collector_reassign(customer=customer, by=request.user, **data.validated_data)
        return Response({"customer": customer.account_no, "collector": data.validated_data["collector"].username},
                        status=201)  # fmt: skip


class RecoveryApi(APIView):
    """GET /responsibility/recovery/?month=YYYY-MM&group=collector|area — recovery rate and
    zero-out progress per collector or area of the user's scope."""

    permission_classes = [HasRole]

    @extend_schema(
        parameters=[
            OpenApiParameter("month", str, description="YYYY-MM (default this month)"),
            OpenApiParameter("group", str, enum=["collector", "area"]),
        ],
        responses={200: RecoveryFiguresSerializer(many=True)},
    )
    def get(self, request):
        raw = request.query_params.get("month") or timezone.localdate().strftime("%Y-%m")
        try:
            month = dt.date.fromisoformat(f"{raw}-01")
        except ValueError:
            return Response({"month": ["Write the month YYYY-MM."]}, status=400)
        group = request.query_params.get("group", "collector")
        if group not in ("collector", "area"):
            return Response({"group": ["Use collector or area."]}, status=400)
        figures = recovery_by(request.user, month=month, group=group)
        return Response(RecoveryFiguresSerializer(figures, many=True).data)


class ArrangementInstalmentSerializer(serializers.Serializer):
    due_on = serializers.DateField()
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0.01"))


class ArrangementSerializer(serializers.ModelSerializer):
    customer = ScopedCustomerField()
    instalments = ArrangementInstalmentSerializer(many=True)

    class Meta:
        model = PaymentArrangement
        fields = ["id", "customer", "total", "status", "made_on", "resolved_on", "instalments"]
        read_only_fields = ["total", "status", "made_on", "resolved_on"]


class ArrangementCancelSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=ARRANGEMENT_REASON_MAX, help_text="Kept in the audit trail")


class ArrangementViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Instalment agreements for old arrears; the schedule must cover what is owed today."""

    serializer_class = ArrangementSerializer
    permission_classes = [HasRole]
    filterset_class = PaymentArrangementFilterSet

    def get_queryset(self):
        return (
            PaymentArrangement.objects.filter(customer__in=customers_visible_to(self.request.user))
            .select_related("customer")
            .prefetch_related("instalments")
            .order_by("-made_on", "-id")
        )

    def perform_create(self, serializer):
        data = serializer.validated_data
        schedule = [(row["due_on"], row["amount"]) for row in data["instalments"]]
        with service_errors():
            serializer.instance = arrangement_create(
                customer=data["customer"], schedule=schedule, created_by=self.request.user
            )

    @extend_schema(
        request=ArrangementCancelSerializer,
        responses={
            200: ArrangementSerializer,
            400: OpenApiResponse(description="No reason, or the arrangement is not active"),
            403: OpenApiResponse(description="Only area leaders and managers cancel"),
            404: OpenApiResponse(description="No such arrangement in your scope"),
        },
        description="Withdraw an active arrangement (re-signed, or settled another way): it counts as neither "
        "kept nor broken, and dunning resumes for what is still owed. The reason goes to its audit trail.",
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        arrangement = self.get_object()
        data = ArrangementCancelSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with service_errors():
            arrangement = arrangement_cancel(
                arrangement=arrangement, by=request.user, reason=data.validated_data["reason"]
            )
        return Response(ArrangementSerializer(self.get_queryset().get(pk=arrangement.pk)).data)
