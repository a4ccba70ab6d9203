"""API for remote prepaid control (远程费控, DESIGN.md rule 5): prepaid accounts with their
top-ups, and trip/restore commands with approval and acknowledgement.

Every row is reached through the customer scope (customers_visible_to): an id outside it is
a 404, and a customer outside it is "unknown" (400 naming the field).
"""

from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from billing.choices import ControlActionChoices, PaymentChannelChoices
from billing.filtersets_prepaid import ControlCommandFilterSet, PrepaidAccountFilterSet
from billing.models import ControlCommand, PrepaidAccount, PrepaidEntry
from billing.permissions import can_record_payments
from billing.services.control import (
    can_acknowledge_control,
    can_approve_control,
    can_request_control,
    control_acknowledge,
    control_approve,
    control_reject,
    control_request,
    control_retry,
)
from billing.services.payments import DuplicatePayment, payment_record, validate_received_at
from billing.services.prepaid import account_figures
from core.api.idempotency import idempotent
from core.api.mixins import SafeDateTimeField, as_drf_validation_error
from core.api.permissions import HasRole
from customers.api.serializers import ScopedCustomerField
from customers.selectors import customers_visible_to

urlpatterns: list = []
MONEY = {"max_digits": 16, "decimal_places": 2}
RECENT_ENTRIES = 10


def _require(allowed: bool, message: str) -> None:
    if not allowed:
        raise PermissionDenied(message)


# ---------------------------------------------------------------------------------------------
# Serializers
# ---------------------------------------------------------------------------------------------
class PrepaidEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = PrepaidEntry
        fields = ["id", "kind", "day", "amount", "payment", "note", "created_at"]
        read_only_fields = fields


class PrepaidAccountSerializer(serializers.ModelSerializer):
    """The figures (`balance`, `average_daily_charge`, `days_left`) are set on each account by
    `with_figures()` before serialising: two aggregate queries for a whole page."""

    customer = serializers.SlugRelatedField(slug_field="account_no", read_only=True)
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    settlement_mode = serializers.CharField(source="customer.settlement_mode", read_only=True)
    balance = serializers.DecimalField(**MONEY, read_only=True, help_text="the sum of all entries")
    average_daily_charge = serializers.DecimalField(
        **MONEY,
        read_only=True,
        allow_null=True,
        rounding=ROUND_HALF_UP,
        help_text="over the last 30 days of statistics up to the last day charged; null: no history",
    )
    days_left = serializers.DecimalField(
        max_digits=None,
        decimal_places=1,
        read_only=True,
        allow_null=True,
        rounding=ROUND_HALF_UP,
        help_text="balance ÷ average daily charge; null: no history",
    )
    recent_entries = PrepaidEntrySerializer(source="recent", many=True, read_only=True, help_text="latest first")

    class Meta:
        model = PrepaidAccount
        fields = [
            "id",
            "customer",
            "customer_name",
            "settlement_mode",
            "state",
            "opened_on",
            "balance",
            "average_daily_charge",
            "days_left",
            "recent_entries",
        ]
        read_only_fields = fields


def with_figures(accounts: list[PrepaidAccount]) -> list[PrepaidAccount]:
    figures = account_figures(accounts)
    for account in accounts:
        account.balance = figures[account.pk].balance
        account.average_daily_charge = figures[account.pk].average
        account.days_left = figures[account.pk].days_left
    return accounts


class TopUpSerializer(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0.01"))
    channel = serializers.ChoiceField(choices=PaymentChannelChoices.choices)
    external_ref = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    received_at = SafeDateTimeField(required=False)


class TopUpResultSerializer(serializers.Serializer):
    payment = serializers.IntegerField()
    entry = PrepaidEntrySerializer()
    account = PrepaidAccountSerializer()
    restore_command = serializers.IntegerField(allow_null=True, help_text="the restore issued by this top-up, if any")


class ControlCommandSerializer(serializers.ModelSerializer):
    customer = serializers.SlugRelatedField(slug_field="account_no", read_only=True)
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    important_user = serializers.BooleanField(source="customer.is_important", read_only=True)
    meter = serializers.SlugRelatedField(slug_field="meter_no", read_only=True)
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    approved_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = ControlCommand
        fields = [
            "id",
            "customer",
            "customer_name",
            "important_user",
            "meter",
            "action",
            "origin",
            "status",
            "reason",
            "attempts",
            "next_attempt_at",
            "last_error",
            "gateway_ref",
            "requested_by",
            "approved_by",
            "approval_reason",
            "created_at",
            "sent_at",
            "acknowledged_at",
        ]
        read_only_fields = fields


class ControlCommandCreateSerializer(serializers.Serializer):
    customer = ScopedCustomerField()
    action = serializers.ChoiceField(choices=ControlActionChoices.choices)
    reason = serializers.CharField(max_length=300)
    meter = serializers.CharField(
        max_length=32, required=False, allow_blank=True, default="", help_text="meter number; empty: all switches"
    )


class ControlDecisionSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300)


class ControlAckSerializer(serializers.Serializer):
    gateway_ref = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")


# ---------------------------------------------------------------------------------------------
# Views
# ---------------------------------------------------------------------------------------------
class PrepaidAccountViewSet(viewsets.ReadOnlyModelViewSet):
    """Prepaid accounts in the user's scope: balance (sum of entries), average daily charge,
    days left, warning state and the latest entries."""

    serializer_class = PrepaidAccountSerializer
    filterset_class = PrepaidAccountFilterSet
    permission_classes = [HasRole]

    def get_queryset(self):
        recent = PrepaidEntry.objects.order_by("-day", "-id")[:RECENT_ENTRIES]
        return (
            PrepaidAccount.objects.filter(customer__in=customers_visible_to(self.request.user))
            .select_related("customer")
            .prefetch_related(Prefetch("entries", queryset=recent, to_attr="recent"))
            .order_by("customer__account_no")
        )

    def list(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        rows = with_figures(list(page if page is not None else queryset))
        data = self.get_serializer(rows, many=True).data
        return self.get_paginated_response(data) if page is not None else Response(data)

    def retrieve(self, request, *args, **kwargs):
        return Response(self.get_serializer(with_figures([self.get_object()])[0]).data)

    @extend_schema(
        request=TopUpSerializer,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                description="Retries with the same key and body replay the first answer; another body is 422.",
            )
        ],
        responses={
            201: TopUpResultSerializer,
            400: OpenApiResponse(description="Field errors"),
            403: OpenApiResponse(description="Your role may not record payments."),
            409: inline_serializer(
                "DuplicateTopUp", {"detail": serializers.CharField(), "payment": serializers.IntegerField()}
            ),
            422: OpenApiResponse(description="Idempotency-Key reused with another body"),
        },
        description=(
            "Top up a prepaid account (a payment through any channel; a prepaid card purchase is channel "
            "`prepaid_card`). Goes through the payment rules: the same channel + external_ref twice is 409. A "
            "top-up that brings the balance above zero issues a restore command if the supply was tripped."
        ),
    )
    @action(detail=True, methods=["post"], url_path="top-ups")
    def top_ups(self, request, pk=None):
        _require(can_record_payments(request.user), "Your role may not record payments.")
        account = self.get_object()
        return idempotent(request, "prepaid-top-ups", lambda: self._top_up(request, account))

    def _top_up(self, request, account):
        data = TopUpSerializer(data=request.data)
        if not data.is_valid():
            return Response(data.errors, status=status.HTTP_400_BAD_REQUEST)
        latest = ControlCommand.objects.filter(customer=account.customer).order_by("-pk").first()
        try:
            validate_received_at(data.validated_data.get("received_at"))
            payment = payment_record(customer=account.customer, recorded_by=request.user, **data.validated_data)
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
        restore = (
            ControlCommand.objects.filter(customer=account.customer, action=ControlActionChoices.RESTORE)
            .filter(pk__gt=latest.pk if latest else 0)
            .order_by("-pk")
            .first()
        )
        account = self.get_queryset().get(pk=account.pk)
        body = {
            "payment": payment.pk,
            "entry": PrepaidEntrySerializer(payment.prepaid_entry).data,
            "account": self.get_serializer(with_figures([account])[0]).data,
            "restore_command": restore.pk if restore else None,
        }
        return Response(body, status=status.HTTP_201_CREATED)


class ControlCommandViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Trip and restore commands in the user's scope. POST asks for a manual one (managers and
    area leaders); a trip of an important user then waits for a manager's approval."""

    serializer_class = ControlCommandSerializer
    filterset_class = ControlCommandFilterSet
    permission_classes = [HasRole]
    ordering_fields = ["created_at", "status"]

    def get_queryset(self):
        return (
            ControlCommand.objects.filter(customer__in=customers_visible_to(self.request.user))
            .select_related("customer", "meter", "requested_by", "approved_by")
            .order_by("-created_at", "-id")
        )

    def _answer(self, command, code=status.HTTP_200_OK):
        return Response(ControlCommandSerializer(self.get_queryset().get(pk=command.pk)).data, status=code)

    @extend_schema(
        request=ControlCommandCreateSerializer,
        responses={
            201: ControlCommandSerializer,
            400: OpenApiResponse(description="Field errors"),
            403: OpenApiResponse(description="Only managers and area leaders request trips and restores."),
        },
        description=(
            "A manual trip or restore with a reason. A trip of an important user (class 1 or 2) is created "
            "`awaiting_approval`; any other request is `pending` and goes to the terminal."
        ),
    )
    def create(self, request):
        _require(can_request_control(request.user), "Only managers and area leaders request trips and restores.")
        data = ControlCommandCreateSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        values = data.validated_data
        meter = None
        if values["meter"]:
            meter = values["customer"].meter_points.filter(meter_no=values["meter"]).first()
            if meter is None:
                raise serializers.ValidationError({"meter": ["No such meter of this customer."]})
        try:
            command = control_request(
                customer=values["customer"],
                action=values["action"],
                reason=values["reason"],
                requested_by=request.user,
                meter=meter,
            )
        except DjangoValidationError as exc:
            raise as_drf_validation_error(exc) from None
        return self._answer(command, status.HTTP_201_CREATED)

    def _decide(self, request, service, **kwargs):
        command = self.get_object()
        data = ControlDecisionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            command = service(command=command, reason=data.validated_data["reason"], **{kwargs["as"]: request.user})
        except DjangoValidationError as exc:
            raise as_drf_validation_error(exc) from None
        return self._answer(command)

    @extend_schema(
        request=ControlDecisionSerializer,
        responses={
            200: ControlCommandSerializer,
            400: OpenApiResponse(description="No reason, or the command is not awaiting approval"),
            403: OpenApiResponse(description="Not a manager, or the manager who requested it"),
        },
        description="A manager approves a trip awaiting approval, with a reason; the requester cannot approve.",
    )
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        _require(can_approve_control(request.user), "Only a manager may approve.")
        return self._decide(request, control_approve, **{"as": "approved_by"})

    @extend_schema(
        request=ControlDecisionSerializer,
        responses={
            200: ControlCommandSerializer,
            400: OpenApiResponse(description="No reason, or the command is not awaiting approval"),
            403: OpenApiResponse(description="Not a manager"),
        },
        description="A manager declines a trip awaiting approval, with a reason; it is cancelled.",
    )
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        _require(can_approve_control(request.user), "Only a manager may decline.")
        return self._decide(request, control_reject, **{"as": "rejected_by"})

    @extend_schema(
        request=ControlAckSerializer,
        responses={
            200: ControlCommandSerializer,
            400: OpenApiResponse(description="The command was never sent"),
            403: OpenApiResponse(description="Only the head-end (system account) and managers acknowledge"),
        },
        description=(
            "The terminal executed the command (the head-end's callback, or a manager's field confirmation). "
            "Idempotent: a repeated acknowledgement answers the same."
        ),
    )
    @action(detail=True, methods=["post"])
    def ack(self, request, pk=None):
        _require(can_acknowledge_control(request.user), "Only the head-end system and managers acknowledge.")
        command = self.get_object()
        data = ControlAckSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            command = control_acknowledge(command=command, gateway_ref=data.validated_data["gateway_ref"])
        except DjangoValidationError as exc:
            raise as_drf_validation_error(exc) from None
        return self._answer(command)

    @extend_schema(
        request=None,
        responses={
            200: ControlCommandSerializer,
            400: OpenApiResponse(description="The command has not given up"),
            403: OpenApiResponse(description="Not a manager"),
        },
        description="Send a command that gave up again, with a fresh set of attempts (managers).",
    )
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        _require(can_approve_control(request.user), "Only a manager may send a command again.")
        command = self.get_object()
        try:
            command = control_retry(command=command, retried_by=request.user)
        except DjangoValidationError as exc:
            raise as_drf_validation_error(exc) from None
        return self._answer(command)


def register(router) -> None:
    """Register viewsets on the billing router."""
    router.register("prepaid-accounts", PrepaidAccountViewSet, basename="prepaid-account")
    router.register("control-commands", ControlCommandViewSet, basename="control-command")
