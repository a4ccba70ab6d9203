"""Responsibility pages (包保责任制): each collector's and area's recovery and zero-out figures
for a month against its targets, setting the targets, and reassigning a customer."""

import datetime as dt

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from core.permissions import can_lead, require
from core.roles import Role, user_roles
from customers.selectors import customers_visible_to, regions_visible_to

from .forms_responsibility import ReassignForm, TargetForm, collectors
from .models import CollectionTarget
from .responsibility import collector_reassign, recovery_by, target_set


def _month(request) -> dt.date:
    try:
        return dt.date.fromisoformat(f"{request.GET.get('month', '')}-01")
    except ValueError:
        return timezone.localdate().replace(day=1)


def responsibility(request):
    """Recovery rate (collected ÷ due) and zero-out progress per collector or area, for the
    bills due in the month; a collector sees their own row."""
    month = _month(request)
    group = request.GET.get("group") if can_lead(request.user) else "collector"
    group = group if group in ("collector", "area") else "collector"
    rows = recovery_by(request.user, month=month, group=group)
    totals = {
        "due": sum(r.due for r in rows),
        "collected": sum(r.collected for r in rows),
        "customers": sum(r.customers for r in rows),
        "in_arrears": sum(r.in_arrears for r in rows),
    }
    previous = (month - dt.timedelta(days=1)).replace(day=1)
    following = (month + dt.timedelta(days=32)).replace(day=1)
    context = {
        "rows": rows,
        "totals": totals,
        "month": month,
        "previous": previous,
        "following": following if following <= timezone.localdate() else None,
        "group": group,
        "can_lead": can_lead(request.user),
    }
    return render(request, "collection/responsibility.html", context)


def _collectors_in_scope(user):
    if user.is_superuser or Role.MANAGER in user_roles(user):
        return collectors()
    return collectors().filter(pk__in=customers_visible_to(user).values("collector_id"))


@require_http_methods(["GET", "POST"])
def targets(request):
    """A month's targets for the areas and collectors of the leader's scope."""
    require(can_lead(request.user))
    month = _month(request)
    regions, people = regions_visible_to(request.user), _collectors_in_scope(request.user)
    form = TargetForm(
        request.POST or None, regions=regions, collector_users=people, initial={"month": month.strftime("%Y-%m")}
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            target_set(
                month=data["month"],
                by=request.user,
                recovery_rate=data["recovery_rate"],
                zero_out_rate=data["zero_out_rate"],
                region=data["region"],
                collector=data["collector"],
            )
        except (ValidationError, PermissionDenied) as exc:
            messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
        else:
            messages.success(request, _("Target saved."))
            return redirect(f"{request.path}?month={data['month']:%Y-%m}")
    listed = CollectionTarget.objects.filter(month=month)
    listed = listed.filter(region__in=regions) | listed.filter(collector__in=people)
    context = {
        "form": form,
        "month": month,
        "targets": listed.select_related("region", "collector", "set_by").order_by(
            "region__name", "collector__username"
        ),
    }
    return render(request, "collection/targets.html", context)


@require_http_methods(["GET", "POST"])
def reassign(request, account_no: str):
    """An area leader or manager hands the customer to another collector, with the reason."""
    require(can_lead(request.user))
    customer = get_object_or_404(customers_visible_to(request.user), account_no=account_no)
    form = ReassignForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            collector_reassign(customer=customer, by=request.user, **form.cleaned_data)
        except (ValidationError, PermissionDenied) as exc:
            messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
        else:
            messages.success(request, _("Customer reassigned."))
            return redirect("customers:detail", account_no=customer.account_no)
    assignments = customer.collector_assignments.select_related("collector", "previous", "assigned_by")
    return render(request, "collection/reassign.html", {"customer": customer, "form": form, "assignments": assignments})
