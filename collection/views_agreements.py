"""Staff pages for agreements — payment arrangements (分次结算协议 / 还款协议) and guarantees
(电费担保) — and the dunning notice page with its delivery and approval trail.

Everything is reached through the customer scope (customers_visible_to), so a guessed URL
outside it is a 404. Area leaders and managers sign arrangements and record and release
guarantees (services.can_sign_agreements); collectors read them.
"""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import F
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from billing.choices import GuaranteeKindChoices
from billing.models import Guarantee
from core.formatting import money
from core.forms import service_errors_on
from core.history import history_entries
from core.pagination import apply_sort, filter_data, paginate
from core.permissions import require
from core.roles import Role, user_roles
from customers.models import Customer
from customers.selectors import customers_visible_to

from .choices import ArrangementStatusChoices
from .filtersets_agreements import GUARANTEE_STATES, GuaranteeFilterSet, PaymentArrangementFilterSet
from .forms_agreements import (
    DEFAULT_INSTALMENTS,
    ArrangementCancelForm,
    ArrangementForm,
    ArrangementSplitForm,
    GuaranteeForm,
    GuaranteeReleaseForm,
)
from .models import DunningNotice, PaymentArrangement
from .selectors_agreements import (
    FEN,
    arrangement_progress,
    arrangement_split,
    arrangements_with_figures,
    customer_owed,
)
from .services import (
    arrangement_cancel,
    arrangement_create,
    can_sign_agreements,
    guarantee_record,
    guarantee_release,
)

EXPIRY_WARNING_DAYS = 30  # the badge on the panel and lists; the e-mails go out 30 and 7 days ahead
PANEL_ARRANGEMENTS = 10
PANEL_GUARANTEES = 20

# Names the services use for errors that belong to no single input of the form.
SERVICE_FIELDS = {
    "instalments": gettext_lazy("Instalments"),
    "customer": gettext_lazy("Customer"),
    "status": gettext_lazy("Status"),
}

ARRANGEMENT_SORTS = {
    "made_on": "made_on",
    "customer": "customer__account_no",
    "total": "total",
    "paid": "paid_so_far",
    "next_due_on": "next_due_on",
    "status": "status",
}
GUARANTEE_SORTS = {
    "valid_to": "valid_to",
    "valid_from": "valid_from",
    "amount": "amount",
    "customer": "customer__account_no",
    "kind": "kind",
}


def _scoped(model, user):
    return model.objects.filter(customer__in=customers_visible_to(user))


def _querystring(request) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


def _mark_expiry(guarantees, today: dt.date) -> list[Guarantee]:
    """Sets `days_left`, `expiring_soon` (held, ending within 30 days) and `expired` (held past its end)."""
    rows = list(guarantees)
    for g in rows:
        held = g.released_on is None and g.valid_to is not None
        g.days_left = (g.valid_to - today).days if held else None
        g.expiring_soon = held and 0 <= g.days_left <= EXPIRY_WARNING_DAYS
        g.expired = held and g.days_left < 0
    return rows


# ---------------------------------------------------------------------------------------------
# Payment arrangements
# ---------------------------------------------------------------------------------------------
def arrangement_list(request):
    today = timezone.localdate()
    queryset = arrangements_with_figures(
        _scoped(PaymentArrangement, request.user).select_related("customer__region", "created_by"), today
    )
    filterset = PaymentArrangementFilterSet(filter_data(request.GET), queryset=queryset, request=request)
    if filterset.is_bound and filterset.is_valid():
        queryset = filterset.qs
    queryset, sort = apply_sort(request, queryset, ARRANGEMENT_SORTS, "-made_on")
    context = {
        "filterset": filterset,
        "page": paginate(request, queryset),
        "sort": sort,
        "querystring": _querystring(request),
        "statuses": ArrangementStatusChoices.choices,
    }
    template = "collection/partials/arrangement_table.html" if request.htmx else "collection/arrangement_list.html"
    return render(request, template, context)


def _arrangement(request, pk: int) -> PaymentArrangement:
    return get_object_or_404(
        _scoped(PaymentArrangement, request.user).select_related("customer__region", "created_by", "case"), pk=pk
    )


def _arrangement_page(request, arrangement, form: ArrangementCancelForm | None = None, status: int = 200):
    can_cancel = can_sign_agreements(request.user) and arrangement.status == ArrangementStatusChoices.ACTIVE
    context = {
        "arrangement": arrangement,
        "progress": arrangement_progress(arrangement, timezone.localdate()),
        "history": history_entries(arrangement),
        "can_cancel": can_cancel,
        "form": form if form is not None else (ArrangementCancelForm() if can_cancel else None),
    }
    return render(request, "collection/arrangement_detail.html", context, status=status)


@require_GET
def arrangement_detail(request, pk: int):
    return _arrangement_page(request, _arrangement(request, pk))


@require_POST
def arrangement_cancel_view(request, pk: int):
    require(can_sign_agreements(request.user))
    arrangement = _arrangement(request, pk)
    form = ArrangementCancelForm(request.POST)
    if form.is_valid():
        try:
            arrangement_cancel(arrangement=arrangement, by=request.user, reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            service_errors_on(form, exc, labels=SERVICE_FIELDS)
        else:
            messages.success(request, _("Arrangement cancelled; dunning resumes for what is still owed."))
            return redirect("collection:arrangement_detail", pk=arrangement.pk)
    return _arrangement_page(request, arrangement, form, status=400)


# ---------------------------------------------------------------------------------------------
# Guarantees
# ---------------------------------------------------------------------------------------------
def guarantee_list(request):
    queryset = _scoped(Guarantee, request.user).select_related("customer__region")
    filterset = GuaranteeFilterSet(filter_data(request.GET), queryset=queryset, request=request)
    if filterset.is_bound and filterset.is_valid():
        queryset = filterset.qs
    queryset, sort = apply_sort(request, queryset, GUARANTEE_SORTS, "valid_to")
    page = paginate(request, queryset)
    page.object_list = _mark_expiry(page.object_list, timezone.localdate())
    context = {
        "filterset": filterset,
        "page": page,
        "sort": sort,
        "querystring": _querystring(request),
        "kinds": GuaranteeKindChoices.choices,
        "states": GUARANTEE_STATES,
    }
    template = "collection/partials/guarantee_table.html" if request.htmx else "collection/guarantee_list.html"
    return render(request, template, context)


def _guarantee_page(request, guarantee: Guarantee, form: GuaranteeReleaseForm | None = None, status: int = 200):
    can_release = can_sign_agreements(request.user) and guarantee.released_on is None
    if form is None and can_release:
        form = GuaranteeReleaseForm(initial={"released_on": timezone.localdate()})
    context = {
        "guarantee": _mark_expiry([guarantee], timezone.localdate())[0],
        "history": history_entries(guarantee),
        "can_release": can_release,
        "form": form,
    }
    return render(request, "collection/guarantee_detail.html", context, status=status)


@require_GET
def guarantee_detail(request, pk: int):
    guarantee = get_object_or_404(_scoped(Guarantee, request.user).select_related("customer__region"), pk=pk)
    return _guarantee_page(request, guarantee)


@require_POST
def guarantee_release_view(request, pk: int):
    require(can_sign_agreements(request.user))
    guarantee = get_object_or_404(_scoped(Guarantee, request.user).select_related("customer__region"), pk=pk)
    form = GuaranteeReleaseForm(request.POST)
    if form.is_valid():
        try:
            guarantee_release(
                guarantee=guarantee,
                by=request.user,
                released_on=form.cleaned_data["released_on"],
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as exc:
            service_errors_on(form, exc, labels=SERVICE_FIELDS)
        else:
            messages.success(request, _("Guarantee released."))
            return redirect("collection:guarantee_detail", pk=guarantee.pk)
    return _guarantee_page(request, guarantee, form, status=400)


# ---------------------------------------------------------------------------------------------
# The agreements panel of the customer page
# ---------------------------------------------------------------------------------------------
def _default_schedule(owed) -> list:
    count = min(DEFAULT_INSTALMENTS, int(owed / FEN))
    return arrangement_split(owed, count, timezone.localdate())


def _render_panel(
    request,
    customer: Customer,
    *,
    guarantee_form: GuaranteeForm | None = None,
    arrangement_form: ArrangementForm | None = None,
    split_form: ArrangementSplitForm | None = None,
    done: str = "",
    status: int = 200,
):
    """The panel (an htmx swap of #agreements-panel), or the same inside a page of its own for
    a browser without JavaScript. Forms with errors keep what was typed; htmx only swaps 2xx
    answers, so those are 200 to htmx and 400 to a plain form post."""
    today = timezone.localdate()
    can_sign = can_sign_agreements(request.user)
    arrangements = list(customer.payment_arrangements.select_related("created_by")[:PANEL_ARRANGEMENTS])
    rows = [
        (a, arrangement_progress(a, today) if a.status == ArrangementStatusChoices.ACTIVE else None)
        for a in arrangements
    ]
    guarantees = _mark_expiry(
        customer.guarantees.order_by(F("released_on").asc(nulls_first=True), "-valid_from", "-pk")[:PANEL_GUARANTEES],
        today,
    )
    # One arrangement at a time: a second would schedule the same arrears twice.
    has_active = customer.payment_arrangements.filter(status=ArrangementStatusChoices.ACTIVE).exists()
    owed = customer_owed(customer) if can_sign else None
    if can_sign and not has_active and owed and owed > 0:
        arrangement_form = arrangement_form or ArrangementForm.prefilled(_default_schedule(owed))
        split_form = split_form or ArrangementSplitForm(initial={"split": arrangement_form.row_count, "first": today})
    context = {
        "customer": customer,
        "arrangements": rows,
        "guarantees": guarantees,
        "can_sign": can_sign,
        "has_active": has_active,
        "owed": owed,
        "guarantee_form": guarantee_form or (GuaranteeForm() if can_sign else None),
        "arrangement_form": arrangement_form,
        "split_form": split_form,
        "done": done,
    }
    if request.htmx:
        return render(request, "collection/partials/agreements_panel.html", context)
    return render(request, "collection/agreements.html", context, status=status)


@require_GET
def agreements_panel(request, account_no: str):
    """The customer's arrangements and guarantees, with the forms for those allowed. With
    `?split=N&first=YYYY-MM-DD` the arrangement form is pre-filled with N monthly instalments
    adding up to what the customer owes today."""
    customer = get_object_or_404(customers_visible_to(request.user), account_no=account_no)
    split_form = arrangement_form = None
    if "split" in request.GET and can_sign_agreements(request.user):
        split_form = ArrangementSplitForm(request.GET)
        if split_form.is_valid():
            owed = customer_owed(customer)
            try:
                schedule = arrangement_split(owed, split_form.cleaned_data["split"], split_form.cleaned_data["first"])
            except ValueError:
                split_form.add_error(
                    "split",
                    _("%(amount)s cannot be split into %(count)d instalments.")
                    % {"amount": money(owed), "count": split_form.cleaned_data["split"]},
                )
            else:
                arrangement_form = ArrangementForm.prefilled(schedule)
    return _render_panel(request, customer, split_form=split_form, arrangement_form=arrangement_form)


@require_POST
def arrangement_add(request, account_no: str):
    require(can_sign_agreements(request.user))
    customer = get_object_or_404(customers_visible_to(request.user), account_no=account_no)
    form = ArrangementForm(request.POST)
    if form.is_valid():
        try:
            arrangement = arrangement_create(
                customer=customer, schedule=form.cleaned_data["schedule"], created_by=request.user
            )
        except ValidationError as exc:
            service_errors_on(form, exc, labels=SERVICE_FIELDS)
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
        else:
            done = _("Arrangement signed for %(amount)s in %(count)d instalments.") % {
                "amount": money(arrangement.total),
                "count": len(form.cleaned_data["schedule"]),
            }
            if request.htmx:
                return _render_panel(request, customer, done=done)
            messages.success(request, done)
            return redirect("customers:detail", account_no=customer.account_no)
    return _render_panel(request, customer, arrangement_form=form, status=400)


@require_POST
def guarantee_add(request, account_no: str):
    require(can_sign_agreements(request.user))
    customer = get_object_or_404(customers_visible_to(request.user), account_no=account_no)
    form = GuaranteeForm(request.POST)
    if form.is_valid():
        try:
            guarantee_record(data={"customer": customer, **form.cleaned_data}, recorded_by=request.user)
        except ValidationError as exc:
            service_errors_on(form, exc, labels=SERVICE_FIELDS)
        else:
            done = _("Guarantee recorded.")
            if request.htmx:
                return _render_panel(request, customer, done=done)
            messages.success(request, done)
            return redirect("customers:detail", account_no=customer.account_no)
    return _render_panel(request, customer, guarantee_form=form, status=400)


# ---------------------------------------------------------------------------------------------
# Dunning notices
# ---------------------------------------------------------------------------------------------
@require_GET
def notice_detail(request, pk: int):
    """A notice as sent: level, text, bills and amount; each message with its delivery
    (a message queued again after a failed attempt shows as retrying, with the error and the
    next attempt); who approved or declined it and when; and its audit trail."""
    notice = get_object_or_404(
        _scoped(DunningNotice, request.user).select_related("customer", "level", "approved_by"), pk=pk
    )
    roles = user_roles(request.user)
    context = {
        "notice": notice,
        "notifications": notice.notifications.select_related("contact").order_by("channel", "recipient", "pk"),
        "history": history_entries(notice),
        "can_review": request.user.is_superuser or bool({Role.AREA_LEADER, Role.MANAGER} & roles),
        "now": timezone.now(),
    }
    return render(request, "collection/notice_detail.html", context)
