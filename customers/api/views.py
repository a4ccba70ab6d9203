from rest_framework import mixins, viewsets

from core.api.mixins import ServiceWriteMixin
from core.api.permissions import ArchiveWrite, ContactWorkWrite, HasRole
from customers.filtersets import (
    ContactFilterSet,
    CustomerFilterSet,
    MeterPointFilterSet,
    RegionFilterSet,
    ServiceVisitFilterSet,
)
from customers.models import Contact, MeterPoint, ServiceVisit
from customers.selectors import customers_visible_to, regions_visible_to
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
