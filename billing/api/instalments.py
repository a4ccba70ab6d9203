"""API for instalment settlement (分次结算, DESIGN.md rule 6).

The instalments themselves are bills (kind `instalment`) and are read through `bills/`. Here:
a customer's terms with their change history, the period's plan, and the change of terms.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.models import InstalmentChange
from billing.services.instalments import instalment_plan, instalment_terms_change
from core.api.mixins import as_drf_validation_error, service_errors
from core.api.permissions import HasRole
from customers.selectors import customers_visible_to

MONEY = {"max_digits": 16, "decimal_places": 2}


class InstalmentChangeSerializer(serializers.ModelSerializer):
    changed_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = InstalmentChange
        fields = ["old_ratio", "new_ratio", "old_count", "new_count", "reason", "changed_by", "changed_at"]
        read_only_fields = fields


class InstalmentTermsSerializer(serializers.Serializer):
    customer = serializers.CharField(help_text="account number")
    settlement_mode = serializers.CharField()
    prepay_ratio = serializers.DecimalField(max_digits=4, decimal_places=3)
    instalments_per_month = serializers.IntegerField(allow_null=True)
    changes = InstalmentChangeSerializer(many=True, help_text="latest first")


class InstalmentTermsChangeSerializer(serializers.Serializer):
    prepay_ratio = serializers.DecimalField(
        max_digits=4, decimal_places=3, help_text="Share of the forecast month charge prepaid: more than 0, at most 2."
    )
    instalments_per_month = serializers.IntegerField(
        allow_null=True, help_text="3–10 for a customer in instalment settlement."
    )
    reason = serializers.CharField(max_length=300)


class InstalmentTermsChangedSerializer(serializers.Serializer):
    customer = serializers.CharField(help_text="account number")
    settlement_mode = serializers.CharField()
    prepay_ratio = serializers.DecimalField(max_digits=4, decimal_places=3)
    instalments_per_month = serializers.IntegerField(allow_null=True)
    change = InstalmentChangeSerializer()


class InstalmentPlanRowSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    number = serializers.CharField()
    issued_on = serializers.DateField()
    due_on = serializers.DateField()
    amount = serializers.DecimalField(**MONEY, allow_null=True, help_text="billed, or the estimate if planned")
    state = serializers.ChoiceField(choices=["issued", "planned", "not_issued"])
    bill = serializers.IntegerField(source="bill.pk", allow_null=True, default=None)
    paid = serializers.DecimalField(**MONEY)
    principal_due = serializers.DecimalField(**MONEY)
    penalty_due = serializers.DecimalField(**MONEY)


class InstalmentPlanSerializer(serializers.Serializer):
    customer = serializers.CharField(source="customer.account_no")
    period = serializers.CharField()
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    count = serializers.IntegerField(allow_null=True)
    ratio = serializers.DecimalField(max_digits=4, decimal_places=3)
    projected_month_charge = serializers.DecimalField(
        **MONEY, source="projection.amount", allow_null=True, default=None
    )
    projection_source = serializers.CharField(source="projection.source", allow_null=True, default=None)
    target = serializers.DecimalField(**MONEY, allow_null=True)
    billed = serializers.DecimalField(**MONEY)
    paid = serializers.DecimalField(**MONEY)
    outstanding = serializers.DecimalField(**MONEY)
    monthly_bill = serializers.CharField(source="monthly_bill.number", allow_null=True, default=None)
    instalments = InstalmentPlanRowSerializer(source="rows", many=True)


def _terms(customer) -> dict:
    return {
        "customer": customer.account_no,
        "settlement_mode": customer.settlement_mode,
        "prepay_ratio": customer.prepay_ratio,
        "instalments_per_month": customer.instalments_per_month,
    }


class CustomerInstalmentTermsApi(APIView):
    """A customer's instalment terms (prepay ratio and number of instalments) and their history."""

    permission_classes = [HasRole]

    @extend_schema(responses={200: InstalmentTermsSerializer, 404: OpenApiResponse(description="Not in your scope")})
    def get(self, request, account_no: str):
        customer = get_object_or_404(customers_visible_to(request.user), account_no=account_no)
        changes = customer.instalment_changes.select_related("changed_by").order_by("-changed_at", "-id")
        return Response(InstalmentTermsSerializer({**_terms(customer), "changes": changes}).data)

    @extend_schema(
        request=InstalmentTermsChangeSerializer,
        responses={
            201: InstalmentTermsChangedSerializer,
            400: OpenApiResponse(description="Field errors (prepay_ratio, instalments_per_month, reason)"),
            403: OpenApiResponse(description="Only managers and area leaders change instalment terms."),
            404: OpenApiResponse(description="Not in your scope"),
        },
        description=(
            "Change the prepayment ratio and the number of instalments a month, with a reason. The change "
            "is recorded with the user; instalments already issued stand, the next ones use the new terms."
        ),
    )
    def post(self, request, account_no: str):
        customer = get_object_or_404(customers_visible_to(request.user), account_no=account_no)
        data = InstalmentTermsChangeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with service_errors():
            change = instalment_terms_change(customer=customer, changed_by=request.user, **data.validated_data)
        body = {**_terms(customer), "change": change}
        return Response(InstalmentTermsChangedSerializer(body).data, status=status.HTTP_201_CREATED)


class CustomerInstalmentPlanApi(APIView):
    """A period's instalments: issued ones with what is paid and outstanding, planned ones estimated."""

    permission_classes = [HasRole]

    @extend_schema(
        parameters=[OpenApiParameter("period", str, description="YYYY-MM; default the period containing today")],
        responses={200: InstalmentPlanSerializer, 400: OpenApiResponse(description="Bad period")},
    )
    def get(self, request, account_no: str):
        customer = get_object_or_404(customers_visible_to(request.user), account_no=account_no)
        try:
            plan = instalment_plan(customer=customer, period=request.query_params.get("period") or None)
        except DjangoValidationError as exc:
            raise as_drf_validation_error(exc) from None
        return Response(InstalmentPlanSerializer(plan).data)


def register(router) -> None:
    """Nothing to register: instalment bills are listed by the bills resource."""


urlpatterns = [
    path(
        "customers/<account:account_no>/instalment-terms/",
        CustomerInstalmentTermsApi.as_view(),
        name="customer-instalment-terms",
    ),
    path(
        "customers/<account:account_no>/instalment-plan/",
        CustomerInstalmentPlanApi.as_view(),
        name="customer-instalment-plan",
    ),
]
