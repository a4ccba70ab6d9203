"""Staff pages for remote prepaid control (远程费控, DESIGN.md rule 5): the prepaid panel of
the customer page, the control-command list with approvals, and the manual trip/restore form.
Everything is reached through the customer scope (customers_visible_to), so a guessed URL
outside it is a 404."""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Case, IntegerField, Value, When
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from core.forms import BootstrapFormMixin
from core.pagination import filter_data, paginate
from core.permissions import require
from customers.selectors import customers_visible_to

from .choices import ControlActionChoices, ControlStatusChoices
from .filtersets_prepaid import ControlCommandFilterSet
from .models import ControlCommand, PrepaidAccount
from .services.control import (
    automatic_trip_blocker,
    can_approve_control,
    can_request_control,
    control_approve,
    control_reject,
    control_request,
    control_retry,
    remote_switch_meters,
)
from .services.prepaid import PREPAID_MODES, account_figures

S = ControlStatusChoices
PANEL_ENTRIES = 30
PANEL_COMMANDS = 10


class ControlRequestForm(BootstrapFormMixin, forms.Form):
    action = forms.ChoiceField(label=gettext_lazy("Command"), choices=ControlActionChoices.choices)
    meter = forms.ChoiceField(label=gettext_lazy("Meter"), required=False)
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=300)
    confirm = forms.BooleanField(
        label=gettext_lazy("I have checked the customer, the reason and the consequences of switching the supply."),
    )

    def __init__(self, *args, customer=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.meters = {m.meter_no: m for m in remote_switch_meters(customer).order_by("meter_no")}
        self.fields["meter"].choices = [("", _("All remote-switch meters"))] + [(no, no) for no in self.meters]


class ControlDecisionForm(BootstrapFormMixin, forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        max_length=300,
        help_text=gettext_lazy("Recorded with the decision, e.g. the approval document or why it is declined."),
    )
    confirm = forms.BooleanField(
        label=gettext_lazy("I have checked that this important user can be switched off safely."),
        required=False,
    )


def _commands_visible_to(user):
    return ControlCommand.objects.filter(customer__in=customers_visible_to(user)).select_related(
        "customer", "meter", "requested_by", "approved_by"
    )


def prepaid_panel(request, account_no: str):
    """The prepaid panel of the customer page (loaded with hx-get by the archive's page)."""
    customer = get_object_or_404(customers_visible_to(request.user), account_no=account_no)
    account = PrepaidAccount.objects.filter(customer=customer).first()
    context = {
        "customer": customer,
        "account": account,
        "is_prepaid": customer.settlement_mode in PREPAID_MODES,
        "commands": _commands_visible_to(request.user)
        .filter(customer=customer)
        .order_by("-created_at", "-id")[:PANEL_COMMANDS],
        "can_request": can_request_control(request.user),
        "can_approve": can_approve_control(request.user),
        "trip_blocker": automatic_trip_blocker(customer),
    }
    if account is not None:
        context["figures"] = account_figures([account])[account.pk]
        context["entries"] = account.entries.select_related("payment").order_by("-day", "-id")[:PANEL_ENTRIES]
    return render(request, "billing/partials/prepaid_panel.html", context)


# Waiting for a decision first, then what needs watching, then the rest, newest first.
_PRIORITY = Case(
    When(status=S.AWAITING_APPROVAL, then=Value(0)),
    When(status__in=(S.GAVE_UP, S.FAILED), then=Value(1)),
    When(status__in=(S.PENDING, S.SENDING, S.SENT), then=Value(2)),
    default=Value(3),
    output_field=IntegerField(),
)


def control_commands(request):
    require(can_request_control(request.user))
    queryset = _commands_visible_to(request.user)
    filterset = ControlCommandFilterSet(filter_data(request.GET), queryset=queryset, request=request)
    if filterset.is_bound and filterset.is_valid():
        queryset = filterset.qs
    params = request.GET.copy()
    params.pop("page", None)
    context = {
        "filterset": filterset,
        "page": paginate(request, queryset.annotate(priority=_PRIORITY).order_by("priority", "-created_at", "-id")),
        "querystring": params.urlencode(),
        "can_approve": can_approve_control(request.user),
        "statuses": ControlStatusChoices.choices,
        "awaiting": _commands_visible_to(request.user).filter(status=S.AWAITING_APPROVAL).count(),
    }
    template = "billing/partials/prepaid_command_table.html" if request.htmx else "billing/prepaid_commands.html"
    return render(request, template, context)


@require_http_methods(["GET", "POST"])
def control_command_decide(request, pk: int):
    """A manager approves or declines a trip that waits for approval (important users)."""
    require(can_approve_control(request.user))
    command = get_object_or_404(_commands_visible_to(request.user), pk=pk)
    form = ControlDecisionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        approve = request.POST.get("decision") == "approve"
        if approve and not form.cleaned_data["confirm"]:
            form.add_error("confirm", _("Confirm the check before approving the trip."))
        else:
            try:
                if approve:
                    control_approve(command=command, approved_by=request.user, reason=form.cleaned_data["reason"])
                    messages.success(request, _("Trip approved; it is sent to the terminal."))
                else:
                    control_reject(command=command, rejected_by=request.user, reason=form.cleaned_data["reason"])
                    messages.success(request, _("Trip declined."))
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
            except PermissionDenied as exc:
                messages.error(request, str(exc))
            return redirect("billing:control_commands")
    return render(request, "billing/prepaid_command_decide.html", {"command": command, "form": form})


@require_http_methods(["GET", "POST"])
def control_command_request(request, account_no: str):
    """A manual trip or restore for one customer (managers and area leaders)."""
    require(can_request_control(request.user))
    customer = get_object_or_404(customers_visible_to(request.user), account_no=account_no)
    form = ControlRequestForm(request.POST or None, customer=customer, initial={"action": request.GET.get("action")})
    if request.method == "POST" and form.is_valid():
        try:
            command = control_request(
                customer=customer,
                action=form.cleaned_data["action"],
                reason=form.cleaned_data["reason"],
                requested_by=request.user,
                meter=form.meters.get(form.cleaned_data["meter"]),
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            if command.status == S.AWAITING_APPROVAL:
                messages.warning(request, _("Important user: the trip waits for a manager's approval."))
            else:
                messages.success(request, _("Command issued; it is sent to the terminal."))
            return redirect("customers:detail", account_no=customer.account_no)
    context = {"customer": customer, "form": form, "trip_blocker": automatic_trip_blocker(customer)}
    return render(request, "billing/prepaid_command_request.html", context)


@require_POST
def control_command_retry(request, pk: int):
    require(can_approve_control(request.user))
    command = get_object_or_404(_commands_visible_to(request.user), pk=pk)
    try:
        control_retry(command=command, retried_by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("The command is sent again."))
    return redirect("billing:control_commands")
