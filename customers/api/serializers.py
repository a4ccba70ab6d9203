from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from customers.models import Contact, Customer, MeterPoint, Region, ServiceVisit
from customers.selectors import customers_visible_to, regions_visible_to, staff_assignable_by


@extend_schema_field(OpenApiTypes.STR)
class ScopedCustomerField(serializers.SlugRelatedField):
    """A customer named by account number, among those the requesting user may see."""

    def __init__(self, **kwargs):
        super().__init__(slug_field="account_no", **kwargs)

    def get_queryset(self):
        return customers_visible_to(self.context["request"].user)

    def to_internal_value(self, data):
        if not isinstance(data, str) or "\x00" in data:
            self.fail("invalid")
        return super().to_internal_value(data)


class RegionSerializer(serializers.ModelSerializer):
    parent = serializers.SlugRelatedField(slug_field="code", queryset=Region.objects.all(), allow_null=True)
    leader = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Region
        fields = ["id", "code", "name", "kind", "parent", "leader"]


class StaffField(serializers.SlugRelatedField):
    def __init__(self, **kwargs):
        super().__init__(slug_field="username", allow_null=True, required=False, **kwargs)

    def get_queryset(self):
        return staff_assignable_by(self.context["request"].user)


class RegionCodeField(serializers.SlugRelatedField):
    def __init__(self, **kwargs):
        super().__init__(slug_field="code", **kwargs)

    def get_queryset(self):
        return regions_visible_to(self.context["request"].user).filter(kind="area")


class CustomerSerializer(serializers.ModelSerializer):
    region = RegionCodeField()
    collector = StaffField()
    account_manager = StaffField()
    is_important = serializers.BooleanField(read_only=True)

    class Meta:
        model = Customer
        fields = [
            "account_no",
            "name",
            "uscc",
            "industry",
            "importance",
            "is_important",
            "address",
            "region",
            "collector",
            "account_manager",
            "voltage_kv",
            "contracted_capacity_kva",
            "basic_charge_basis",
            "contract_demand_kw",
            "settlement_mode",
            "instalments_per_month",
            "prepay_ratio",
            "reading_day",
            "payment_terms_days",
            "government_funded",
            "usual_payment_channel",
            "operating_status",
            "employees",
            "annual_output",
            "equipment_condition",
            "line_ageing",
            "penalty_rate_override",
            "remote_control_agreement",
            "credit_grade",
            "opened_on",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["credit_grade", "created_at", "updated_at"]

    def validate_uscc(self, value: str) -> str:
        return value.strip().upper()


class MeterPointSerializer(serializers.ModelSerializer):
    customer = ScopedCustomerField()
    replaces = serializers.SlugRelatedField(slug_field="meter_no", read_only=True)

    class Meta:
        model = MeterPoint
        fields = [
            "meter_no",
            "customer",
            "location",
            "usage",
            "meter_type",
            "multiplier",
            "installed_on",
            "remote_switch",
            "active",
            "removed_on",
            "replaces",
        ]


class ContactSerializer(serializers.ModelSerializer):
    customer = ScopedCustomerField()

    class Meta:
        model = Contact
        fields = [
            "id",
            "customer",
            "name",
            "role",
            "mobile",
            "wechat_id",
            "email",
            "preferred_channel",
            "receives_dunning",
        ]


class ServiceVisitSerializer(serializers.ModelSerializer):
    customer = ScopedCustomerField()
    staff = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = ServiceVisit
        fields = ["id", "customer", "visited_on", "kind", "staff", "findings", "follow_up_on", "created_at"]
        read_only_fields = ["created_at"]
