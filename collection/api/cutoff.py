"""API for cut-off orders (停电工作单, DESIGN.md rule 4): list and read them with their legal
gate, propose one, and take it through approval, the power-administration record, the
re-notice, execution, cancellation and the confirmed restore.

Every order is reached through the customer scope (customers_visible_to): an id outside it is
a 404, and a customer outside it is "unknown" (400 naming the field). A role that may not take
a step gets 403 with the reason; a step the rules refuse (e.g. the gate is not passed) is a 400
with the service's message, and nothing is saved.
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from collection.choices import CutoffStatusChoices
from collection.cutoff import (
    FIELD_ORDER,
    REMOTE_TRIP,
    cutoff_approve,
    cutoff_cancel,
    cutoff_confirm_restored,
    cutoff_execute,
    cutoff_gates,
    cutoff_propose,
    cutoff_record_power_admin,
    cutoff_renotice,
    restore_deadline,
    restore_is_overdue,
)
from collection.filtersets_cutoff import CutoffOrderFilterSet
from collection.models import CutoffOrder
from core.api.mixins import SafeDateTimeField, as_drf_validation_error, service_errors
from core.api.permissions import ContactWorkWrite
from customers.api.serializers import ScopedCustomerField
from customers.selectors import customers_visible_to

EXECUTION_CHOICES = [(REMOTE_TRIP, "Remote trip command"), (FIELD_ORDER, "Field order")]


class GateItemSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="overdue, demand, suspension_notice, leader, renotice, time; "
                                          "for important users also manager, power_admin")  # fmt: skip
    label = serializers.CharField()
    met = serializers.BooleanField()
    evidence = serializers.CharField(help_text="what proves it (a time, a person, a record); empty when missing")


class CutoffOrderSerializer(serializers.ModelSerializer):
    """`gate_met`/`gate_total` are set on each order by `with_gates()` (proposed orders only;
    null for the others, whose gate was passed or no longer matters)."""

    customer = serializers.SlugRelatedField(slug_field="account_no", read_only=True)
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    important_user = serializers.BooleanField(source="customer.is_important", read_only=True)
    proposed_by = serializers.SlugRelatedField(slug_field="username", read_only=True, help_text="null: the dunning run")
    leader_approved_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    manager_approved_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    execution = serializers.SerializerMethodField(help_text="how it was carried out; null until executed")
    gate_met = serializers.IntegerField(read_only=True, allow_null=True)
    gate_total = serializers.IntegerField(read_only=True, allow_null=True)
    restore_due_by = serializers.SerializerMethodField(help_text="cause cleared + 3 days (供电营业规则 Art. 69)")
    restore_overdue = serializers.SerializerMethodField()

    class Meta:
        model = CutoffOrder
        fields = [
            "id",
            "customer",
            "customer_name",
            "important_user",
            "status",
            "planned_at",
            "reason",
            "proposed_by",
            "created_at",
            "leader_approved_by",
            "leader_approved_at",
            "manager_approved_by",
            "manager_approved_at",
            "power_admin_informed_at",
            "power_admin_reference",
            "renotice_at",
            "executed_at",
            "execution",
            "trip_command_id",
            "field_order",
            "cause_cleared_at",
            "restore_due_by",
            "restore_overdue",
            "restored_at",
            "gate_met",
            "gate_total",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=EXECUTION_CHOICES, allow_null=True))
    def get_execution(self, order):
        if order.trip_command_id:
            return REMOTE_TRIP
        return FIELD_ORDER if order.field_order else None

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_restore_due_by(self, order):
        deadline = restore_deadline(order)
        return serializers.DateTimeField().to_representation(deadline) if deadline else None

    @extend_schema_field(serializers.BooleanField())
    def get_restore_overdue(self, order):
        return restore_is_overdue(order)


class CutoffOrderDetailSerializer(CutoffOrderSerializer):
    gate = GateItemSerializer(many=True, read_only=True, help_text="each item of the legal gate as it stands now")

    class Meta(CutoffOrderSerializer.Meta):
        fields = [*CutoffOrderSerializer.Meta.fields, "gate"]
        read_only_fields = fields


class CutoffProposeSerializer(serializers.Serializer):
    customer = ScopedCustomerField()
    planned_at = SafeDateTimeField(help_text="a time to come; the gate counts the notice periods back from it")
    reason = serializers.CharField(max_length=300)


class CutoffPowerAdminSerializer(serializers.Serializer):
    reference = serializers.CharField(max_length=100, help_text="the record sent to the power administration")


class CutoffCancelSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=100, help_text="kept in the order's audit trail")


class CutoffRestoredSerializer(serializers.Serializer):
    restored_at = SafeDateTimeField(required=False, help_text="when supply came back; default now")


def with_gates(orders: list[CutoffOrder], *, detail: bool = False) -> list[CutoffOrder]:
    gates = cutoff_gates([o for o in orders if detail or o.status == CutoffStatusChoices.PROPOSED])
    for order in orders:
        gate = gates.get(order.pk)
        order.gate = gate or []
        proposed = gate is not None and order.status == CutoffStatusChoices.PROPOSED
        order.gate_met = sum(item.met for item in gate) if proposed else None
        order.gate_total = len(gate) if proposed else None
    return orders


REFUSED = OpenApiResponse(description="The rules refuse the step; the message says why (nothing is saved)")
NOT_YOURS = OpenApiResponse(description="Your role may not take this step")
UNKNOWN = OpenApiResponse(description="No such order in your scope")


class CutoffOrderViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Cut-off orders of the customers in your scope, newest planned first."""

    serializer_class = CutoffOrderSerializer
    filterset_class = CutoffOrderFilterSet
    permission_classes = [ContactWorkWrite]
    ordering_fields = ["planned_at", "created_at", "status"]

    def get_queryset(self):
        return (
            CutoffOrder.objects.filter(customer__in=customers_visible_to(self.request.user))
            .select_related("customer", "proposed_by", "leader_approved_by", "manager_approved_by")
            .order_by("-planned_at", "-id")
        )

    def get_serializer_class(self):
        return CutoffOrderDetailSerializer if self.action != "list" else CutoffOrderSerializer

    def list(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        rows = with_gates(list(page if page is not None else queryset))
        data = CutoffOrderSerializer(rows, many=True).data
        return self.get_paginated_response(data) if page is not None else Response(data)

    def retrieve(self, request, *args, **kwargs):
        return Response(CutoffOrderDetailSerializer(with_gates([self.get_object()], detail=True)[0]).data)

    def _answer(self, order, code=status.HTTP_200_OK):
        fresh = self.get_queryset().get(pk=order.pk)
        return Response(CutoffOrderDetailSerializer(with_gates([fresh], detail=True)[0]).data, status=code)

    def _run(self, service, **kwargs):
        with service_errors():
            return service(**kwargs)

    @extend_schema(
        request=CutoffProposeSerializer,
        responses={201: CutoffOrderDetailSerializer, 400: OpenApiResponse(description="Field errors"), 403: NOT_YOURS},
        description=(
            "Propose a cut-off for a customer with overdue bills, for a time to come. It needs the area leader's "
            "approval (and for an important user a manager's) before it can execute."
        ),
    )
    def create(self, request, *args, **kwargs):
        data = CutoffProposeSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        order = self._run(cutoff_propose, proposed_by=request.user, **data.validated_data)
        return self._answer(order, status.HTTP_201_CREATED)

    @extend_schema(
        request=None,
        responses={200: CutoffOrderDetailSerializer, 400: REFUSED, 403: NOT_YOURS, 404: UNKNOWN},
        description=(
            "The area leader approves; for an important user a manager approves too, and the two must be "
            "different people."
        ),
    )
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        order = self._run(cutoff_approve, order=self.get_object(), by=request.user)
        return self._answer(order)

    @extend_schema(
        request=CutoffPowerAdminSerializer,
        responses={200: CutoffOrderDetailSerializer, 400: REFUSED, 403: NOT_YOURS, 404: UNKNOWN},
        description="Record that the power administration department was informed (important users only).",
    )
    @action(detail=True, methods=["post"], url_path="power-admin")
    def power_admin(self, request, pk=None):
        order = self.get_object()
        data = CutoffPowerAdminSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        order = self._run(cutoff_record_power_admin, order=order, by=request.user, **data.validated_data)
        return self._answer(order)

    @extend_schema(
        request=None,
        responses={200: CutoffOrderDetailSerializer, 400: REFUSED, 403: NOT_YOURS, 404: UNKNOWN},
        description="Record the re-notice given to the customer now: between 2 hours and 30 minutes before.",
    )
    @action(detail=True, methods=["post"])
    def renotice(self, request, pk=None):
        order = self._run(cutoff_renotice, order=self.get_object(), by=request.user)
        return self._answer(order)

    @extend_schema(
        request=None,
        responses={
            200: CutoffOrderDetailSerializer,
            400: inline_serializer(
                "CutoffGateRefusal",
                {
                    "non_field_errors": serializers.ListField(child=serializers.CharField()),
                    "missing": serializers.ListField(child=serializers.CharField(), help_text="gate item keys"),
                },
            ),
            403: NOT_YOURS,
            404: UNKNOWN,
        },
        description=(
            "Execute through the legal gate (area leaders and managers): a remote trip command for a customer with "
            "a remote switch who is not an important user, a field order otherwise. Important users are never "
            "tripped remotely. Refused with the missing gate items while any item does not hold."
        ),
    )
    @action(detail=True, methods=["post"])
    def execute(self, request, pk=None):
        order = self.get_object()
        try:
            order = cutoff_execute(order=order, by=request.user)
        except DjangoPermissionDenied as exc:
            raise PermissionDenied(str(exc)) from None
        except DjangoValidationError as exc:
            body = as_drf_validation_error(exc).detail
            gate = with_gates([order], detail=True)[0].gate
            body["missing"] = [item.key for item in gate if not item.met]
            return Response(body, status=status.HTTP_400_BAD_REQUEST)
        return self._answer(order)

    @extend_schema(
        request=CutoffCancelSerializer,
        responses={200: CutoffOrderDetailSerializer, 400: REFUSED, 403: NOT_YOURS, 404: UNKNOWN},
        description="Cancel a proposed order with a reason (the proposer, an area leader or a manager).",
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        order = self.get_object()
        data = CutoffCancelSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        order = self._run(cutoff_cancel, order=order, by=request.user, reason=data.validated_data["reason"])
        return self._answer(order)

    @extend_schema(
        request=CutoffRestoredSerializer,
        responses={200: CutoffOrderDetailSerializer, 400: REFUSED, 403: NOT_YOURS, 404: UNKNOWN},
        description=(
            "Supply is back (area leaders and managers; a remote restore the terminal acknowledged is marked by "
            "itself). Only for an order whose restore was issued."
        ),
    )
    @action(detail=True, methods=["post"], url_path="confirm-restored")
    def confirm_restored(self, request, pk=None):
        order = self.get_object()
        data = CutoffRestoredSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        at = data.validated_data.get("restored_at")
        order = self._run(cutoff_confirm_restored, order=order, by=request.user, at=at or timezone.now())
        return self._answer(order)
