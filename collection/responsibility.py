"""Responsibility (包保责任制): reassigning a customer's collector, and each collector's and
area's recovery figures for a month (电费回收率 = collected ÷ due; 结零 = share of customers
with nothing overdue)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from billing.models import Bill, PaymentAllocation
from billing.selectors import overdue_bills_by_customer
from core.roles import Role, user_roles
from customers.models import Customer
from customers.selectors import customers_visible_to, regions_visible_to
from customers.services import customer_update

from .models import CollectionTarget, CollectorAssignment

ZERO = Decimal("0")


@transaction.atomic
def collector_reassign(*, customer: Customer, collector: User, by: User, reason: str) -> CollectorAssignment:
    """An area leader (in their area) or a manager hands a customer to another collector."""
    if not (by.is_superuser or {Role.AREA_LEADER, Role.MANAGER} & user_roles(by)):
        raise PermissionDenied(_("Only area leaders and managers reassign customers."))
    if not customers_visible_to(by).filter(pk=customer.pk).exists():
        raise PermissionDenied(_("This customer is outside your area."))
    if Role.COLLECTOR not in user_roles(collector):
        raise ValidationError({"collector": _("The new collector must have the collector role.")})
    if not reason.strip():
        raise ValidationError({"reason": _("Give the reason for the reassignment.")})
    if customer.collector_id == collector.pk:
        raise ValidationError({"collector": _("The customer is already assigned to this collector.")})
    previous = customer.collector
    customer_update(customer=customer, data={"collector": collector}, updated_by=by)
    return CollectorAssignment.objects.create(
        customer=customer,
        collector=collector,
        previous=previous,
        assigned_by=by,
        assigned_on=timezone.localdate(),
        reason=reason.strip(),
    )


@dataclass
class RecoveryFigures:
    key: str
    label: str
    due: Decimal = ZERO
    collected: Decimal = ZERO
    customers: int = 0
    in_arrears: int = 0
    recovery_target: Decimal | None = None
    zero_out_target: Decimal | None = None

    @property
    def recovery_rate(self) -> Decimal | None:
        if not self.due:
            return None
        return (self.collected / self.due * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)

    @property
    def zero_out_rate(self) -> Decimal | None:
        if not self.customers:
            return None
        return (Decimal(self.customers - self.in_arrears) / self.customers * 100).quantize(
            Decimal("0.1"), rounding=ROUND_HALF_UP
        )

    @property
    def on_target(self) -> bool | None:
        """Both rates at or above their targets; None when no target is set (or nothing due)."""
        if self.recovery_target is None and self.zero_out_target is None:
            return None
        checks = []
        if self.recovery_target is not None and self.recovery_rate is not None:
            checks.append(self.recovery_rate >= self.recovery_target)
        if self.zero_out_target is not None and self.zero_out_rate is not None:
            checks.append(self.zero_out_rate >= self.zero_out_target)
        return all(checks) if checks else None


def recovery_by(user: User, *, month: dt.date, group: str = "collector") -> list[RecoveryFigures]:
    """Per collector (or per area) of the user's scope, for the bills due in `month`: principal
    due, principal collected on them, and customers with anything overdue today."""
    first = month.replace(day=1)
    last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    customers = customers_visible_to(user).select_related("collector", "region")

    def key_of(customer: Customer) -> tuple[str, str]:
        if group == "area":
            return str(customer.region_id), customer.region.name
        if customer.collector is None:
            return "-", _("Unassigned")
        return str(customer.collector_id), customer.collector.get_full_name() or customer.collector.username

    figures: dict[str, RecoveryFigures] = {}
    group_of: dict[int, str] = {}
    for customer in customers:
        key, label = key_of(customer)
        figures.setdefault(key, RecoveryFigures(key, label)).customers += 1
        group_of[customer.pk] = key
    bills = Bill.objects.filter(customer__in=customers, due_on__range=(first, last))
    for customer_id, total in bills.values("customer_id").annotate(s=Sum("total")).values_list("customer_id", "s"):
        figures[group_of[customer_id]].due += total
    collected = (
        PaymentAllocation.objects.filter(bill__in=bills)
        .values("bill__customer_id")
        .annotate(s=Sum("principal"))
        .values_list("bill__customer_id", "s")
    )
    for customer_id, total in collected:
        figures[group_of[customer_id]].collected += total or ZERO
    today = timezone.localdate()
    overdue = set(overdue_bills_by_customer(today, customers))
    counts: dict[str, int] = defaultdict(int)
    for customer_id in overdue:
        counts[group_of[customer_id]] += 1
    for key, count in counts.items():
        figures[key].in_arrears = count
    targets = CollectionTarget.objects.filter(month=first)
    targets = targets.filter(region__isnull=False) if group == "area" else targets.filter(collector__isnull=False)
    for target in targets:
        key = str(target.region_id if group == "area" else target.collector_id)
        if key in figures:
            figures[key].recovery_target, figures[key].zero_out_target = target.recovery_rate, target.zero_out_rate
    return sorted(figures.values(), key=lambda f: f.label)


@transaction.atomic
def target_set(
    *, month: dt.date, by: User, recovery_rate: Decimal, zero_out_rate: Decimal, region=None, collector=None
) -> CollectionTarget:
    """Set (or change) a month's target for an area or a collector. A manager sets any; an
    area leader those of the areas they lead and of the collectors working there."""
    if (region is None) == (collector is None):
        raise ValidationError(_("Set a target either for an area or for a collector."))
    for name, value in (("recovery_rate", recovery_rate), ("zero_out_rate", zero_out_rate)):
        if value is None or not Decimal(0) <= value <= Decimal(100):
            raise ValidationError({name: _("A rate is a percentage from 0 to 100.")})
    roles = user_roles(by)
    if not (by.is_superuser or Role.MANAGER in roles):
        if Role.AREA_LEADER not in roles:
            raise PermissionDenied(_("Only area leaders and managers set targets."))
        scope = customers_visible_to(by)
        if region is not None and not regions_visible_to(by).filter(pk=region.pk).exists():
            raise PermissionDenied(_("This area is not yours."))
        if collector is not None and not scope.filter(collector=collector).exists():
            raise PermissionDenied(_("This collector has no customers in your area."))
    if collector is not None and Role.COLLECTOR not in user_roles(collector):
        raise ValidationError({"collector": _("Targets are set for users with the collector role.")})
    target = CollectionTarget.objects.select_for_update().filter(
        month=month.replace(day=1), region=region, collector=collector
    ).first() or CollectionTarget(month=month.replace(day=1), region=region, collector=collector)
    target.recovery_rate, target.zero_out_rate, target.set_by = recovery_rate, zero_out_rate, by
    target._history_user = by
    target.save()
    return target
