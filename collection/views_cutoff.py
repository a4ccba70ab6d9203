"""Staff pages for cut-off orders (停电工作单, DESIGN.md rule 4): the list, the order with its
legal gate and evidence, the actions along its life, and the customer-page panel.

Every order is reached through the customer scope (customers_visible_to), so a guessed URL
outside it is a 404. The rules live in collection.cutoff; a refused action shows the service's
own message and changes nothing.
"""

import datetime as dt

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from core.forms import BootstrapFormMixin
from core.history import history_entries
from core.pagination import apply_sort, filter_data, paginate
from core.permissions import can_log_contact_work, require
from customers.selectors import customers_visible_to

from .choices import CutoffStatusChoices, DunningNoticeStatusChoices
from .cutoff import (
    PROPOSAL_TIME,
    REMOTE_TRIP,
    RENOTICE_LEAD,
    RENOTICE_WINDOW,
    can_approve_cutoff,
    can_cancel_cutoff,
    can_confirm_restored,
    can_execute_cutoff,
    can_propose_cutoff,
    can_record_power_admin,
    can_renotice,
    cutoff_approve,
    cutoff_cancel,
    cutoff_confirm_restored,
    cutoff_execute,
    cutoff_execution_mode,
    cutoff_gate,
    cutoff_gates,
    cutoff_propose,
    cutoff_record_power_admin,
    cutoff_renotice,
    restore_command_for,
    restore_deadline,
    restore_is_overdue,
    trip_command_for,
)
from .filtersets_cutoff import CutoffOrderFilterSet
from .models import CutoffOrder, DunningNotice

S = CutoffStatusChoices
PANEL_ORDERS = 10
NOTICES_SHOWN = 20
CUTOFF_SORTS = {
    "planned": "planned_at",
    "customer": "customer__account_no",
    "area": "customer__region__name",
    "importance": "customer__importance",
    "status": "status",
    "created": "created_at",
}
SELECT_FILTERS = ("status", "importance")
_DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


# The services validate the text fields themselves (required, length), so their message is the
# one the user sees; the forms only parse.
class CutoffProposeForm(BootstrapFormMixin, forms.Form):
    planned_at = forms.DateTimeField(label=gettext_lazy("Planned for"), widget=_DATETIME)
    reason = forms.CharField(label=gettext_lazy("Reason"), required=False)


class PowerAdminForm(BootstrapFormMixin, forms.Form):
    reference = forms.CharField(
        label=gettext_lazy("Record reference"),
        required=False,
        help_text=gettext_lazy("The number of the record sent to the power administration department."),
    )


class CancelForm(BootstrapFormMixin, forms.Form):
    reason = forms.CharField(label=gettext_lazy("Reason for cancelling"), required=False)


class ConfirmRestoredForm(BootstrapFormMixin, forms.Form):
    restored_at = forms.DateTimeField(
        label=gettext_lazy("Supply back at"),
        required=False,
        widget=_DATETIME,
        help_text=gettext_lazy("Leave empty for now."),
    )


class ExecuteForm(BootstrapFormMixin, forms.Form):
    confirm = forms.BooleanField(
        label=gettext_lazy("I have checked the gate, the customer and how the supply will be cut."),
        error_messages={"required": gettext_lazy("Confirm the check before executing the order.")},
    )


def _orders_visible_to(user):
    return CutoffOrder.objects.filter(customer__in=customers_visible_to(user)).select_related(
        "customer", "customer__region", "proposed_by", "leader_approved_by", "manager_approved_by"
    )


def _annotate(orders: list[CutoffOrder]) -> list[CutoffOrder]:
    """Gate progress and restore deadline on each order of a page."""
    now = timezone.now()
    gates = cutoff_gates([o for o in orders if o.status == S.PROPOSED], now=now)
    for order in orders:
        gate = gates.get(order.pk)
        order.gate_met = sum(item.met for item in gate) if gate else None
        order.gate_total = len(gate) if gate else None
        order.restore_by = restore_deadline(order)
        order.restore_late = restore_is_overdue(order, now)
    return orders


def _refusal(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc) or _("You may not do this.")


def cutoff_list(request):
    require(can_log_contact_work(request.user))
    queryset = _orders_visible_to(request.user)
    filterset = CutoffOrderFilterSet(filter_data(request.GET), queryset=queryset, request=request)
    if filterset.is_bound and filterset.is_valid():
        queryset = filterset.qs
    queryset, sort = apply_sort(request, queryset, CUTOFF_SORTS, "-planned")
    page = paginate(request, queryset)
    page.object_list = _annotate(list(page.object_list))
    params = request.GET.copy()
    params.pop("page", None)
    context = {
        "filterset": filterset,
        "page": page,
        "sort": sort,
        "querystring": params.urlencode(),
        "select_filters": [filterset.form[name] for name in SELECT_FILTERS],
    }
    template = "collection/partials/cutoff_table.html" if request.htmx else "collection/cutoff_list.html"
    return render(request, template, context)


def cutoff_detail(request, pk: int):
    require(can_log_contact_work(request.user))
    order = get_object_or_404(_orders_visible_to(request.user), pk=pk)
    now = timezone.now()
    gate = cutoff_gate(order, now=now)
    user = request.user
    proposed = order.status == S.PROPOSED
    notices = (
        DunningNotice.objects.filter(customer=order.customer, status=DunningNoticeStatusChoices.SENT)
        .select_related("level")
        .prefetch_related("notifications")
        .order_by("-sent_at", "-id")[:NOTICES_SHOWN]
    )
    cancelled = (
        order.history.filter(status=S.CANCELLED).order_by("history_date").first()
        if order.status == S.CANCELLED
        else None
    )
    context = {
        "order": order,
        "customer": order.customer,
        "gate": gate,
        "gate_met": sum(item.met for item in gate),
        "gate_passed": all(item.met for item in gate),
        "evidence_notices": {item.notice_id for item in gate if item.notice_id},
        "notices": notices,
        "trip": trip_command_for(order),
        "restore": restore_command_for(order),
        "restore_by": restore_deadline(order),
        "restore_late": restore_is_overdue(order, now),
        "remote": cutoff_execution_mode(order) == REMOTE_TRIP if proposed else order.trip_command_id is not None,
        "renotice_from": order.planned_at - RENOTICE_WINDOW,
        "renotice_until": order.planned_at - RENOTICE_LEAD,
        "cancel_reason": cancelled.history_change_reason if cancelled else "",
        "history": history_entries(order),
        "can_approve": can_approve_cutoff(user, order),
        "can_power_admin": proposed and order.customer.is_important and can_record_power_admin(user),
        "can_renotice": proposed and can_renotice(user),
        "can_execute": proposed and can_execute_cutoff(user),
        "can_cancel": proposed and can_cancel_cutoff(user, order),
        "can_confirm": order.status == S.RESTORING and can_confirm_restored(user),
        "power_admin_form": PowerAdminForm(),
        "cancel_form": CancelForm(),
        "restored_form": ConfirmRestoredForm(),
    }
    return render(request, "collection/cutoff_detail.html", context)


def _act(request, pk: int, action):
    """Run one service on an order in the user's scope; its refusal becomes the message."""
    order = get_object_or_404(_orders_visible_to(request.user), pk=pk)
    try:
        done = action(order)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, _refusal(exc))
    else:
        messages.success(request, done)
    return redirect("collection:cutoff_detail", pk=order.pk)


def _form_errors(form: forms.Form) -> str:
    return _("Not recorded: %(errors)s") % {"errors": form.errors.as_text()}


@require_POST
def cutoff_approve_view(request, pk: int):
    def approve(order):
        cutoff_approve(order=order, by=request.user)
        return _("Approval recorded.")

    return _act(request, pk, approve)


@require_POST
def cutoff_power_admin_view(request, pk: int):
    form = PowerAdminForm(request.POST)

    def record(order):
        if not form.is_valid():
            raise ValidationError(_form_errors(form))
        cutoff_record_power_admin(order=order, reference=form.cleaned_data["reference"], by=request.user)
        return _("The power administration record is on the order.")

    return _act(request, pk, record)


@require_POST
def cutoff_renotice_view(request, pk: int):
    def renotice(order):
        cutoff_renotice(order=order, by=request.user)
        return _("Re-notice recorded.")

    return _act(request, pk, renotice)


@require_POST
def cutoff_cancel_view(request, pk: int):
    form = CancelForm(request.POST)

    def cancel(order):
        if not form.is_valid():
            raise ValidationError(_form_errors(form))
        cutoff_cancel(order=order, by=request.user, reason=form.cleaned_data["reason"])
        return _("The order is cancelled.")

    return _act(request, pk, cancel)


@require_POST
def cutoff_confirm_restored_view(request, pk: int):
    form = ConfirmRestoredForm(request.POST)

    def confirm(order):
        if not form.is_valid():
            raise ValidationError(_form_errors(form))
        cutoff_confirm_restored(order=order, by=request.user, at=form.cleaned_data["restored_at"])
        return _("Supply restored: recorded.")

    return _act(request, pk, confirm)


@require_http_methods(["GET", "POST"])
def cutoff_execute_view(request, pk: int):
    """The confirmation step before a cut-off: it names how the supply will be cut."""
    require(can_log_contact_work(request.user))
    order = get_object_or_404(_orders_visible_to(request.user), pk=pk)
    # Bound on every POST, even an empty one (an unticked box sends nothing).
    form = ExecuteForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():

        def execute(order):
            order = cutoff_execute(order=order, by=request.user)
            if order.trip_command_id:
                return _("Executed: remote trip command #%(id)s issued.") % {"id": order.trip_command_id}
            return _("Executed: field order %(number)s issued to the field crew.") % {"number": order.field_order}

        return _act(request, pk, execute)
    gate = cutoff_gate(order)
    context = {
        "order": order,
        "customer": order.customer,
        "form": form,
        "gate": gate,
        "missing": [item for item in gate if not item.met],
        "remote": cutoff_execution_mode(order) == REMOTE_TRIP,
        "can_execute": order.status == S.PROPOSED and can_execute_cutoff(request.user),
    }
    return render(request, "collection/cutoff_execute.html", context)


def _initial_planned_at() -> dt.datetime:
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    return timezone.make_aware(dt.datetime.combine(tomorrow, PROPOSAL_TIME))


def cutoff_panel(request, account_no: str):
    """The cut-off panel of the customer page (loaded with hx-get by the archive's page)."""
    customer = get_object_or_404(customers_visible_to(request.user), account_no=account_no)
    orders = _annotate(
        list(_orders_visible_to(request.user).filter(customer=customer).order_by("-planned_at", "-id")[:PANEL_ORDERS])
    )
    context = {
        "customer": customer,
        "orders": orders,
        "can_propose": can_propose_cutoff(request.user),
        "form": CutoffProposeForm(initial={"planned_at": _initial_planned_at()}),
    }
    return render(request, "collection/partials/cutoff_panel.html", context)


@require_POST
def cutoff_propose_view(request, account_no: str):
    require(can_propose_cutoff(request.user))
    customer = get_object_or_404(customers_visible_to(request.user), account_no=account_no)
    form = CutoffProposeForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return redirect("customers:detail", account_no=customer.account_no)
    try:
        order = cutoff_propose(customer=customer, proposed_by=request.user, **form.cleaned_data)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, _refusal(exc))
        return redirect("customers:detail", account_no=customer.account_no)
    messages.success(request, _("Cut-off order proposed; it needs the area leader's approval."))
    return redirect("collection:cutoff_detail", pk=order.pk)
