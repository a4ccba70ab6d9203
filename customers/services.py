"""Writes to the archive. Each runs model validation before saving, so the API, the forms,
the importers and the shell all enforce the same rules."""

from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import Contact, Customer, MeterPoint, ServiceVisit


def _apply(instance, data: dict[str, Any]):
    for field, value in data.items():
        setattr(instance, field, value)
    instance.full_clean()
    instance.save()
    return instance


@transaction.atomic
def customer_create(*, data: dict[str, Any], created_by: User | None = None) -> Customer:
    customer = Customer()
    customer._history_user = created_by
    return _apply(customer, data)


@transaction.atomic
def customer_update(*, customer: Customer, data: dict[str, Any], updated_by: User | None = None) -> Customer:
    customer._history_user = updated_by
    return _apply(customer, data)


@transaction.atomic
def customer_grade_set(*, customer: Customer, grade: str) -> None:
    """Record the current credit grade on the archive (written by the risk floor)."""
    customer_grades_set({customer.pk: grade})


@transaction.atomic
def customer_grades_set(grades: dict[int, str]) -> None:
    """Record many customers' current credit grades (the nightly scoring run): one UPDATE per
    grade, not per customer. No archive history row — the scores are the grade's history — but
    `updated_at` moves, so the dashboards' refresh regroups the customers under their new grade."""
    by_grade: dict[str, list[int]] = {}
    for customer_id, grade in grades.items():
        by_grade.setdefault(grade, []).append(customer_id)
    now = timezone.now()
    for grade, ids in by_grade.items():
        Customer.objects.filter(pk__in=ids).update(credit_grade=grade, updated_at=now)


@transaction.atomic
def meter_point_save(*, customer: Customer, data: dict[str, Any], meter: MeterPoint | None = None) -> MeterPoint:
    meter = meter or MeterPoint(customer=customer)
    return _apply(meter, data)


@transaction.atomic
def contact_save(*, customer: Customer, data: dict[str, Any], contact: Contact | None = None) -> Contact:
    contact = contact or Contact(customer=customer)
    return _apply(contact, data)


@transaction.atomic
def service_visit_record(*, customer: Customer, data: dict[str, Any], staff: User | None) -> ServiceVisit:
    visit = ServiceVisit(customer=customer, staff=data.pop("staff", None) or staff)
    return _apply(visit, data)


@transaction.atomic
def meter_replace(*, old: MeterPoint, data: dict[str, Any], replaced_on) -> MeterPoint:
    """Declare a meter replacement: the old meter leaves service on `replaced_on` and the new
    one, starting from its own register, takes its place. Billing adds both meters' deltas."""
    old = MeterPoint.objects.select_for_update().get(pk=old.pk)
    if not old.active or hasattr(old, "replaced_by"):
        raise ValidationError(_("This meter has already been replaced or taken out of service."))
    if old.installed_on and replaced_on < old.installed_on:
        raise ValidationError({"replaced_on": _("The replacement cannot be before the old meter was installed.")})
    old.active = False
    old.removed_on = replaced_on
    old.save(update_fields=["active", "removed_on"])
    new = MeterPoint(customer=old.customer, replaces=old, installed_on=replaced_on)
    return _apply(new, data)
