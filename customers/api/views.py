from drf_spectacular.utils import extend_schema_field
from rest_framework import mixins, serializers, viewsets
from rest_framework.exceptions import PermissionDenied

from core.api.mixins import ServiceWriteMixin, service_errors
from core.api.permissions import ArchiveWrite, ContactWorkWrite, HasRole
from customers.announcements import announcement_send, can_announce, delivery
from customers.filtersets import (
    ContactFilterSet,
    CustomerFilterSet,
    MeterPointFilterSet,
    RegionFilterSet,
    ServiceVisitFilterSet,
)
from customers.models import Announcement, Contact, MeterPoint, ServiceVisit
from customers.selectors import announcements_visible_to, customers_visible_to, regions_visible_to
from customers.services import (
    contact_save,
    customer_create,
    customer_update,
    meter_point_save,
    service_visit_record,
)

from .serializers import (
    ContactSerializer,
    CustomerSerializer,
    MeterPointSerializer,
    RegionSerializer,
    ServiceVisitSerializer,
)


class RegionViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = RegionSerializer
    filterset_class = RegionFilterSet
    permission_classes = [HasRole]
    lookup_field = "code"
    ordering_fields = ["code", "name"]

    def get_queryset(self):
        return regions_visible_to(self.request.user).select_related("parent", "leader").order_by("code")


class CustomerViewSet(ServiceWriteMixin, viewsets.ModelViewSet):
    """Large customers, looked up by account number (户号)."""

    serializer_class = CustomerSerializer
    filterset_class = CustomerFilterSet
    permission_classes = [ArchiveWrite]
    lookup_field = "account_no"
    lookup_value_regex = "[0-9A-Z]+"
    ordering_fields = ["account_no", "name", "contracted_capacity_kva", "voltage_kv"]
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    def get_queryset(self):
        return (
            customers_visible_to(self.request.user)
            .select_related("region", "collector", "account_manager")
            .order_by("account_no")
        )

    def perform_service_create(self, serializer):
        return customer_create(data=serializer.validated_data, created_by=self.request.user)

    def perform_service_update(self, serializer):
        data = {k: v for k, v in serializer.validated_data.items() if k != "account_no"}  # the key never changes
        return customer_update(customer=serializer.instance, data=data, updated_by=self.request.user)


class MeterPointViewSet(ServiceWriteMixin, viewsets.ModelViewSet):
    serializer_class = MeterPointSerializer
    filterset_class = MeterPointFilterSet
    permission_classes = [ArchiveWrite]
    lookup_field = "meter_no"
    lookup_value_regex = "[0-9A-Z-]+"
    ordering_fields = ["meter_no"]
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    def get_queryset(self):
        return (
            MeterPoint.objects.filter(customer__in=customers_visible_to(self.request.user))
            .select_related("customer")
            .order_by("meter_no")
        )

    def perform_service_create(self, serializer):
        data = dict(serializer.validated_data)
        return meter_point_save(customer=data.pop("customer"), data=data)

    def perform_service_update(self, serializer):
        data = dict(serializer.validated_data)
        customer = data.pop("customer", serializer.instance.customer)
        return meter_point_save(customer=customer, data=data, meter=serializer.instance)


class ContactViewSet(ServiceWriteMixin, viewsets.ModelViewSet):
    serializer_class = ContactSerializer
    filterset_class = ContactFilterSet
    permission_classes = [ContactWorkWrite]
    ordering_fields = ["name"]

    def get_queryset(self):
        return (
            Contact.objects.filter(customer__in=customers_visible_to(self.request.user))
            .select_related("customer")
            .order_by("customer__account_no", "name")
        )

    def perform_service_create(self, serializer):
        data = dict(serializer.validated_data)
        return contact_save(customer=data.pop("customer"), data=data)

    def perform_service_update(self, serializer):
        data = dict(serializer.validated_data)
        customer = data.pop("customer", serializer.instance.customer)
        return contact_save(customer=customer, data=data, contact=serializer.instance)


class ServiceVisitViewSet(
    ServiceWriteMixin,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """The service log (走访记录). Entries are a record of what happened: added, not edited."""

    serializer_class = ServiceVisitSerializer
    filterset_class = ServiceVisitFilterSet
    permission_classes = [ContactWorkWrite]
    ordering_fields = ["visited_on"]

    def get_queryset(self):
        return (
            ServiceVisit.objects.filter(customer__in=customers_visible_to(self.request.user))
            .select_related("customer", "staff")
            .order_by("-visited_on", "-id")
        )

    def perform_service_create(self, serializer):
        data = dict(serializer.validated_data)
        return service_visit_record(customer=data.pop("customer"), data=data, staff=self.request.user)


class AnnouncementSerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    delivery = serializers.SerializerMethodField(help_text="Its messages: sent (or delivered), pending, failed")
    audience = serializers.CharField(
        required=False, allow_blank=True, max_length=1000,
        help_text="The customers, as the customers/ list's filters in a query string (e.g. region=3&industry=steel); "
        "empty: every customer in your scope",
    )  # fmt: skip

    class Meta:
        model = Announcement
        fields = ["id", "kind", "subject", "short_text", "body", "audience", "all_contacts", "send_after",
                  "customers", "messages", "delivery", "created_by", "created_at"]  # fmt: skip
        read_only_fields = ["customers", "messages", "created_by", "created_at"]

    @extend_schema_field(
        {"type": "object", "properties": {k: {"type": "integer"} for k in ("sent", "pending", "failed")}}
    )
    def get_delivery(self, announcement: Announcement) -> dict:
        return delivery(announcement)


class AnnouncementViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Notices to many customers (planned outage, tariff change, service): POST queues one message
    per contact of the customers the `audience` filters choose within your scope; area leaders and
    managers only. An invalid filter is a 400 naming it, never "every customer"."""

    serializer_class = AnnouncementSerializer
    permission_classes = [HasRole]

    def get_queryset(self):
        return announcements_visible_to(self.request.user).select_related("created_by").order_by("-created_at", "-id")

    def perform_create(self, serializer):
        if not can_announce(self.request.user):
            raise PermissionDenied("Only area leaders and managers send notices to customers.")
        data = serializer.validated_data
        with service_errors():
            serializer.instance = announcement_send(
                kind=data["kind"], subject=data["subject"], short_text=data["short_text"], body=data.get("body", ""),
                audience=data.get("audience", ""), all_contacts=data.get("all_contacts", True),
                send_after=data.get("send_after"), by=self.request.user,
            )  # fmt: skip
