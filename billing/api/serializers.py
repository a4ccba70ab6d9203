from decimal import Decimal

from rest_framework import serializers

from billing.choices import PaymentChannelChoices
from billing.models import Bill, BillingRun, BillLine, MeterReading, Payment, PaymentAllocation, PenaltyAccrual, Tariff
from core.api.mixins import SafeDateTimeField
from customers.api.serializers import ScopedCustomerField


class TariffSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tariff
        fields = [
            "id",
            "code",
            "name",
            "category",
            "valid_from",
            "basic_capacity_price",
            "basic_demand_price",
            "price_critical_peak",
            "price_peak",
            "price_flat",
            "price_valley",
            "funds_per_kwh",
            "pf_standard",
        ]


class MeterReadingSerializer(serializers.ModelSerializer):
    meter = serializers.SlugRelatedField(slug_field="meter_no", read_only=True)

    class Meta:
        model = MeterReading
        fields = [
            "meter",
            "read_on",
            "total_kwh",
            "critical_peak_kwh",
            "peak_kwh",
            "flat_kwh",
            "valley_kwh",
            "reactive_kvarh",
            "max_demand_kw",
            "source",
            "received_at",
        ]


class ReadingRowSerializer(serializers.Serializer):
    """One row of a POSTed batch (documentation of the shape; rows are parsed by the service)."""

    meter = serializers.CharField(help_text="meter number")
    read_on = serializers.DateField()
    total_kwh = serializers.DecimalField(max_digits=16, decimal_places=3)
    critical_peak_kwh = serializers.DecimalField(max_digits=16, decimal_places=3, required=False)
    peak_kwh = serializers.DecimalField(max_digits=16, decimal_places=3)
    flat_kwh = serializers.DecimalField(max_digits=16, decimal_places=3)
    valley_kwh = serializers.DecimalField(max_digits=16, decimal_places=3)
    reactive_kvarh = serializers.DecimalField(max_digits=16, decimal_places=3)
    max_demand_kw = serializers.DecimalField(max_digits=12, decimal_places=3)
    source = serializers.ChoiceField(choices=["ami", "manual", "estimated"], required=False)


class ReadingBatchResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    duplicates = serializers.IntegerField()


class RowErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField()
    field = serializers.CharField()
    message = serializers.CharField()


class ReadingBatchErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    errors = RowErrorSerializer(many=True)


class BillLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = BillLine
        fields = ["kind", "description", "quantity", "unit_price", "amount"]


class PenaltyAccrualSerializer(serializers.ModelSerializer):
    class Meta:
        model = PenaltyAccrual
        fields = ["accrued_on", "principal", "rate", "cross_year", "exact_amount", "amount", "is_correction"]


class BillSerializer(serializers.ModelSerializer):
    customer = serializers.SlugRelatedField(slug_field="account_no", read_only=True)
    principal_due = serializers.DecimalField(max_digits=16, decimal_places=2, read_only=True)
    penalty_due = serializers.DecimalField(max_digits=16, decimal_places=2, read_only=True)

    class Meta:
        model = Bill
        fields = [
            "id",
            "number",
            "customer",
            "period",
            "kind",
            "period_start",
            "period_end",
            "issued_on",
            "due_on",
            "status",
            "total",
            "total_kwh",
            "power_factor",
            "max_demand_kw",
            "principal_due",
            "penalty_due",
            "external_ref",
        ]


class BillDetailSerializer(BillSerializer):
    lines = BillLineSerializer(many=True, read_only=True)
    penalty_working = PenaltyAccrualSerializer(source="penalties", many=True, read_only=True)

    class Meta(BillSerializer.Meta):
        fields = [*BillSerializer.Meta.fields, "lines", "penalty_working"]


class BillImportLineSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=BillLine._meta.get_field("kind").choices, required=False)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    quantity = serializers.DecimalField(max_digits=16, decimal_places=4, required=False, allow_null=True)
    unit_price = serializers.DecimalField(max_digits=12, decimal_places=6, required=False, allow_null=True)
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)


class BillImportSerializer(serializers.Serializer):
    customer = ScopedCustomerField()
    period = serializers.RegexField(r"^\d{4}-(0[1-9]|1[0-2])$")
    external_ref = serializers.CharField(max_length=30)
    issued_on = serializers.DateField()
    due_on = serializers.DateField()
    lines = BillImportLineSerializer(many=True, allow_empty=False)

    def validate(self, attrs):
        if attrs["due_on"] < attrs["issued_on"]:
            raise serializers.ValidationError({"due_on": "The due date cannot be before the issue date."})
        return attrs


class BillingRunSerializer(serializers.ModelSerializer):
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    progress = serializers.SerializerMethodField()

    class Meta:
        model = BillingRun
        fields = [
            "id",
            "period",
            "issue_date",
            "status",
            "customers_total",
            "customers_done",
            "progress",
            "bills_created",
            "already_billed",
            "skipped",
            "requested_by",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_progress(self, run) -> float:
        return round(run.customers_done / run.customers_total, 4) if run.customers_total else 0.0


class BillingRunCreateSerializer(serializers.Serializer):
    period = serializers.RegexField(r"^\d{4}-(0[1-9]|1[0-2])$", error_messages={"invalid": "Write the period YYYY-MM."})
    issue_date = serializers.DateField(required=False)


class PaymentAllocationSerializer(serializers.ModelSerializer):
    bill = serializers.SlugRelatedField(slug_field="number", read_only=True)

    class Meta:
        model = PaymentAllocation
        fields = ["bill", "penalty", "principal", "allocated_on"]


class PaymentSerializer(serializers.ModelSerializer):
    customer = serializers.SlugRelatedField(slug_field="account_no", read_only=True)
    allocations = PaymentAllocationSerializer(many=True, read_only=True)
    unallocated = serializers.SerializerMethodField()

    class Meta:
        model = Payment
        fields = [
            "id",
            "customer",
            "amount",
            "channel",
            "external_ref",
            "received_at",
            "status",
            "allocations",
            "unallocated",
        ]

    def get_unallocated(self, payment) -> Decimal:
        allocated = sum((a.penalty + a.principal for a in payment.allocations.all()), Decimal("0"))
        return str(payment.amount - allocated) if payment.status == "posted" else "0.00"


class PaymentCreateSerializer(serializers.Serializer):
    customer = ScopedCustomerField()
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0.01"))
    channel = serializers.ChoiceField(choices=PaymentChannelChoices.choices)
    external_ref = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    received_at = SafeDateTimeField(required=False)


class PaymentReverseSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300)
    reversed_on = serializers.DateField(required=False)


class PenaltyWaiveSerializer(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0.01"))
    reason = serializers.CharField(max_length=300)


class StatementEntrySerializer(serializers.Serializer):
    date = serializers.DateField()
    kind = serializers.CharField()
    reference = serializers.CharField()
    description = serializers.CharField()
    amount = serializers.DecimalField(max_digits=16, decimal_places=2)
    balance = serializers.DecimalField(max_digits=16, decimal_places=2)


class StatementSerializer(serializers.Serializer):
    customer = serializers.CharField()
    balance = serializers.DecimalField(max_digits=16, decimal_places=2)
    principal_due = serializers.DecimalField(max_digits=16, decimal_places=2)
    penalty_due = serializers.DecimalField(max_digits=16, decimal_places=2)
    credit = serializers.DecimalField(max_digits=16, decimal_places=2)
    entries = StatementEntrySerializer(many=True)
