from contextlib import contextmanager

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied


def as_drf_validation_error(exc: DjangoValidationError) -> serializers.ValidationError:
    """A model or service validation error as DRF field errors (400), keyed by field name."""
    if hasattr(exc, "error_dict"):
        return serializers.ValidationError(
            {("non_field_errors" if k == "__all__" else k): v for k, v in exc.message_dict.items()}
        )
    return serializers.ValidationError({"non_field_errors": exc.messages})


class ServiceWriteMixin:
    """ModelViewSet writes through a service; model validation errors become 400s, not 500s.

    Subclasses implement `perform_service_create(serializer)` and
    `perform_service_update(serializer)` returning the saved instance.
    """

    def perform_create(self, serializer):
        try:
            serializer.instance = self.perform_service_create(serializer)
        except DjangoValidationError as exc:
            raise as_drf_validation_error(exc) from None

    def perform_update(self, serializer):
        try:
            serializer.instance = self.perform_service_update(serializer)
        except DjangoValidationError as exc:
            raise as_drf_validation_error(exc) from None


class SafeDateTimeField(serializers.DateTimeField):
    """A DateTimeField that answers a date at the edge of the calendar (year 1, 9999) with a
    field error: converting it to the site's time zone would otherwise overflow (a 500)."""

    def to_internal_value(self, value):
        try:
            return super().to_internal_value(value)
        except OverflowError:
            self.fail("invalid", format="YYYY-MM-DDThh:mm[:ss][+HH:MM]")

    def enforce_timezone(self, value):
        try:
            return super().enforce_timezone(value)
        except OverflowError:
            self.fail("invalid", format="YYYY-MM-DDThh:mm[:ss][+HH:MM]")


@contextmanager
def service_errors():
    """Around a service call in an API view: the service's PermissionDenied is a 403 with its
    message, its ValidationError a 400 keyed by field — never a 500."""
    try:
        yield
    except DjangoPermissionDenied as exc:
        raise PermissionDenied(str(exc)) from None
    except DjangoValidationError as exc:
        raise as_drf_validation_error(exc) from None
