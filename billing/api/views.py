from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.filtersets import (
    BillFilterSet,
    BillingRunFilterSet,
    MeterReadingFilterSet,
    PaymentFilterSet,
    TariffFilterSet,
)
from billing.models import Bill, BillingRun, MeterReading, Payment, Tariff
from billing.permissions import (
    can_post_readings,
    can_record_payments,
    can_reverse_payments,
    can_run_billing,
    can_waive_penalties,
)
from billing.selectors import bills_visible_to, with_balances
from billing.services.bills import bill_import, billing_run_start
from billing.services.payments import DuplicatePayment, payment_record, payment_reverse, validate_received_at
from billing.services.penalties import penalty_waive
from billing.services.readings import ReadingBatchError, readings_ingest
from billing.services.statements import account_summary, statement_entries
from billing.tasks import billing_run_task
from core.api.idempotency import idempotent
from core.api.mixins import as_drf_validation_error, service_errors
from core.api.permissions import HasRole
from customers.selectors import customers_visible_to

from .serializers import (
    BillDetailSerializer,
    BillImportSerializer,
    BillingRunCreateSerializer,
    BillingRunSerializer,
    BillSerializer,
    MeterReadingSerializer,
    PaymentCreateSerializer,
    PaymentReverseSerializer,
    PaymentSerializer,
    PenaltyWaiveSerializer,
    ReadingBatchErrorSerializer,
    ReadingBatchResultSerializer,
    ReadingRowSerializer,
    StatementSerializer,
    TariffSerializer,
)


def _require(allowed: bool, message: str) -> None:
    if not allowed:
        raise PermissionDenied(message)


class TariffViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Tariff.objects.order_by("code", "-valid_from")
    serializer_class = TariffSerializer
    filterset_class = TariffFilterSet
    permission_classes = [HasRole]


class MeterReadingViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Meter readings: list with filters, or POST a batch (all or nothing)."""

    serializer_class = MeterReadingSerializer
    filterset_class = MeterReadingFilterSet
    permission_classes = [HasRole]

    def get_queryset(self):
        return (
            MeterReading.objects.filter(meter__customer__in=customers_visible_to(self.request.user))
            .select_related("meter")
            .order_by("meter__meter_no", "read_on")
        )

    @extend_schema(
        request=ReadingRowSerializer(many=True),
        responses={
            200: ReadingBatchResultSerializer,
            400: ReadingBatchErrorSerializer,
            403: OpenApiResponse(description="Only the metering system and managers post readings."),
        },
        description=(
            "A batch of daily cumulative register readings. All or nothing: any bad row rejects the batch "
            "and the answer names every bad row (0-based index) and field. An identical re-send counts as "
            "duplicates."
        ),
    )
    def create(self, request):
        _require(can_post_readings(request.user), "Only the metering system and managers post readings.")
        rows = request.data
        if not isinstance(rows, list):
            return Response({"detail": "Send a JSON array of readings."}, status=status.HTTP_400_BAD_REQUEST)
        limit = settings.READINGS_MAX_BATCH
        if len(rows) > limit:
            return Response(
                {"detail": f"A batch holds at most {limit} readings; this one has {len(rows)}.", "errors": []},
                status=status.HTTP_400_BAD_REQUEST,
            )
        try:
            result = readings_ingest(rows=rows)
        except ReadingBatchError as exc:
            return Response(
                {
                    "detail": f"{len(exc.errors)} row(s) rejected; nothing from this batch was stored.",
                    "errors": [e.as_dict() for e in exc.errors[:1000]],
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response({"created": result.created, "duplicates": result.duplicates})


class BillViewSet(viewsets.ReadOnlyModelViewSet):
    filterset_class = BillFilterSet
    permission_classes = [HasRole]
    ordering_fields = ["due_on", "issued_on", "total", "period"]

    def get_queryset(self):
        queryset = bills_visible_to(self.request.user).select_related("customer")
        if self.action == "retrieve":
            queryset = queryset.prefetch_related("lines", "penalties")
        return queryset.order_by("-issued_on", "id")

    def filter_queryset(self, queryset):
        # Balances after filtering: `overdue_on` puts that day's on the rows, else they are today's.
        return with_balances(super().filter_queryset(queryset))

    def get_serializer_class(self):
        return BillDetailSerializer if self.action == "retrieve" else BillSerializer

    @extend_schema(
        request=BillImportSerializer,
        responses={
            201: BillDetailSerializer,
            200: BillDetailSerializer,
            400: OpenApiResponse(description="Field errors"),
        },
        description="Import a bill computed by an external billing system. Idempotent by (customer, external_ref).",
    )
    @action(detail=False, methods=["post"], url_path="import")
    def import_bill(self, request):
        _require(can_run_billing(request.user), "Only the billing system and managers import bills.")
        data = BillImportSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        existed = Bill.objects.filter(
            customer=data.validated_data["customer"], external_ref=data.validated_data["external_ref"]
        ).exists()
        try:
            bill = bill_import(**data.validated_data)
        except DjangoValidationError as exc:
            raise as_drf_validation_error(exc) from None
        bill = with_balances(self.get_queryset().prefetch_related("lines", "penalties")).get(pk=bill.pk)
        return Response(
            BillDetailSerializer(bill).data, status=status.HTTP_200_OK if existed else status.HTTP_201_CREATED
        )

    @extend_schema(request=PenaltyWaiveSerializer, responses={200: BillDetailSerializer})
    @action(detail=True, methods=["post"], url_path="waive-penalty")
    def waive_penalty(self, request, pk=None):
        _require(can_waive_penalties(request.user), "Only a manager may waive a penalty.")
        bill = self.get_object()
        data = PenaltyWaiveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with service_errors():
            penalty_waive(bill=bill, approved_by=request.user, **data.validated_data)
        bill = with_balances(self.get_queryset().prefetch_related("lines", "penalties")).get(pk=bill.pk)
        return Response(BillDetailSerializer(bill).data)


class BillingRunViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Monthly billing runs: POST {period} starts one (as a batch job), GET shows progress.
    Runs span every area (their skipped lists name customers), so only those who run them read them."""

    queryset = BillingRun.objects.select_related("requested_by").order_by("-created_at")

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        _require(can_run_billing(request.user), "Only managers and the billing system see billing runs.")

    serializer_class = BillingRunSerializer
    filterset_class = BillingRunFilterSet
    permission_classes = [HasRole]

    @extend_schema(request=BillingRunCreateSerializer, responses={202: BillingRunSerializer})
    def create(self, request):
        _require(can_run_billing(request.user), "Only managers and the billing system start billing runs.")
        data = BillingRunCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            with transaction.atomic():
                run = billing_run_start(requested_by=request.user, **data.validated_data)
                transaction.on_commit(lambda: billing_run_task.delay(run.pk))
        except DjangoValidationError as exc:
            raise as_drf_validation_error(exc) from None
        return Response(BillingRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class PaymentViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = PaymentSerializer
    filterset_class = PaymentFilterSet
    permission_classes = [HasRole]
    ordering_fields = ["received_at", "amount"]

    def get_queryset(self):
        return (
            Payment.objects.filter(customer__in=customers_visible_to(self.request.user))
            .select_related("customer")
            .prefetch_related("allocations__bill")
            .order_by("-received_at", "-id")
        )

    @extend_schema(
        request=PaymentCreateSerializer,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                description="Retries with the same key and body replay the first answer; another body is 422.",
            )
        ],
        responses={
            201: PaymentSerializer,
            400: OpenApiResponse(description="Field errors"),
            409: inline_serializer(
                "DuplicatePayment", {"detail": serializers.CharField(), "payment": serializers.IntegerField()}
            ),
            422: OpenApiResponse(description="Idempotency-Key reused with another body"),
        },
    )
    def create(self, request):
        _require(can_record_payments(request.user), "Your role may not record payments.")
        return idempotent(request, "payments", lambda: self._create(request))

    def _create(self, request):
        data = PaymentCreateSerializer(data=request.data, context={"request": request})
        if not data.is_valid():
            return Response(data.errors, status=status.HTTP_400_BAD_REQUEST)
        try:
            validate_received_at(data.validated_data.get("received_at"))
            payment = payment_record(recorded_by=request.user, **data.validated_data)
        except DuplicatePayment as exc:
            return Response(
                {
                    "detail": "A payment with this channel and external_ref was already posted.",
                    "payment": exc.existing.pk,
                },
                status=status.HTTP_409_CONFLICT,
            )
        except DjangoValidationError as exc:
            return Response(as_drf_validation_error(exc).detail, status=status.HTTP_400_BAD_REQUEST)
        payment = self.get_queryset().get(pk=payment.pk)
        return Response(PaymentSerializer(payment).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=PaymentReverseSerializer, responses={200: PaymentSerializer})
    @action(detail=True, methods=["post"])
    def reverse(self, request, pk=None):
        _require(can_reverse_payments(request.user), "Only managers and the bank interface reverse payments.")
        payment = self.get_object()
        data = PaymentReverseSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            payment_reverse(payment=payment, reversed_by=request.user, **data.validated_data)
        except DjangoValidationError as exc:
            raise as_drf_validation_error(exc) from None
        return Response(PaymentSerializer(self.get_queryset().get(pk=payment.pk)).data)


class CustomerStatementApi(APIView):
    """A customer's account: bills, penalties, payments and reversals with a running balance."""

    permission_classes = [HasRole]

    @extend_schema(responses={200: StatementSerializer})
    def get(self, request, account_no: str):
        customer = get_object_or_404(customers_visible_to(request.user), account_no=account_no)
        summary = account_summary(customer)
        body = {
            "customer": customer.account_no,
            "balance": summary.balance,
            "principal_due": summary.principal_due,
            "penalty_due": summary.penalty_due,
            "credit": summary.credit,
            "entries": [vars(e) for e in statement_entries(customer)],
        }
        return Response(StatementSerializer(body).data)
