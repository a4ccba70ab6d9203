"""Staff pages of the archive. Every lookup goes through customers_visible_to, so a URL for a
customer outside the user's scope is a 404, exactly like one that does not exist."""

from decimal import Decimal
from operator import attrgetter

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Sum
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from core.exports import CSV_CHUNK, Column, export_response
from core.history import history_entries
from core.pagination import apply_sort, filter_data, paginate
from core.permissions import can_edit_archive, can_lead, can_log_contact_work, require

from .announcements import can_announce
from .filtersets import CustomerFilterSet
from .forms import ContactForm, CustomerForm, MeterPointForm, MeterReplaceForm, ServiceVisitForm
from .models import Contact, MeterPoint
from .selectors import customers_visible_to
from .services import (
    contact_save,
    customer_create,
    customer_update,
    meter_point_save,
    meter_replace,
    service_visit_record,
)

CUSTOMER_SORTS = {
    "account_no": "account_no",
    "name": "name",
    "industry": "industry",
    "region": "region__name",
    "capacity": "contracted_capacity_kva",
    "grade": "credit_grade",
}

SELECT_FILTERS = ("industry", "importance", "settlement_mode", "operating_status")


def _visible_customer(request, account_no: str):
    return get_object_or_404(
        customers_visible_to(request.user).select_related("region", "collector", "account_manager"),
        account_no=account_no,
    )


# Filters a drill-down link may carry that the list's form does not show (see bill_list).
CUSTOMER_DRILL_FILTERS = ("in_arrears_on", "clear_on", "grade", "collector", "government_funded")

CUSTOMER_COLUMNS = [
    Column(gettext_lazy("Account number"), attrgetter("account_no")),
    Column(gettext_lazy("Name"), attrgetter("name")),
    Column(gettext_lazy("Unified social credit code"), attrgetter("uscc")),
    Column(gettext_lazy("Industry"), lambda c: c.get_industry_display()),
    Column(gettext_lazy("Importance"), lambda c: c.get_importance_display()),
    Column(gettext_lazy("Area"), attrgetter("region.name")),
    Column(gettext_lazy("Collector"), lambda c: _person(c.collector)),
    Column(gettext_lazy("Voltage (kV)"), attrgetter("voltage_kv")),
    Column(gettext_lazy("Contracted capacity (kVA)"), attrgetter("contracted_capacity_kva")),
    Column(gettext_lazy("Settlement mode"), lambda c: c.get_settlement_mode_display()),
    Column(gettext_lazy("Operating status"), lambda c: c.get_operating_status_display()),
    Column(gettext_lazy("Credit grade"), attrgetter("credit_grade")),
]  # fmt: skip


def _person(user) -> str:
    return (user.get_full_name() or user.username) if user else ""


def _filtered_customers(request):
    queryset = customers_visible_to(request.user).select_related("region", "collector")
    filterset = CustomerFilterSet(filter_data(request.GET), queryset=queryset, request=request)
    return filterset, (filterset.qs if filterset.is_bound and filterset.is_valid() else queryset)


def _arrears_day(filterset):
    """The day of an `in_arrears_on` filter: the list then shows each customer's arrears that day."""
    return filterset.form.cleaned_data.get("in_arrears_on") if filterset.is_bound and filterset.is_valid() else None


def customer_list(request):
    filterset, queryset = _filtered_customers(request)
    arrears_day = _arrears_day(filterset)
    # The footer total of every filtered row, to check against the dashboard figure it came from.
    arrears_total = (
        (queryset.order_by().aggregate(s=Sum("arrears_as_of"))["s"] or Decimal("0.00")) if arrears_day else None
    )
    queryset, sort = apply_sort(request, queryset, CUSTOMER_SORTS, "account_no")
    page = paginate(request, queryset)
    params = request.GET.copy()
    params.pop("page", None)
    context = {
        "filterset": filterset,
        "page": page,
        "sort": sort,
        "querystring": params.urlencode(),
        "select_filters": [filterset.form[name] for name in SELECT_FILTERS],
        "can_edit": can_edit_archive(request.user),
        "can_announce": can_announce(request.user),
        "drill_filters": filterset.drill_filters(CUSTOMER_DRILL_FILTERS),
        "arrears_day": arrears_day,
        "arrears_total": arrears_total,
    }
    template = "customers/partials/customer_table.html" if request.htmx else "customers/customer_list.html"
    return render(request, template, context)


def customer_export(request, fmt: str = "csv"):
    """The filtered list as CSV or Excel, streamed row by row (core.exports) so a large portfolio
    never sits in memory; with `in_arrears_on`, each customer's arrears that day as a last column."""
    filterset, queryset = _filtered_customers(request)
    columns = list(CUSTOMER_COLUMNS)
    arrears_day = _arrears_day(filterset)
    if arrears_day:
        heading = _("Arrears on %(day)s") % {"day": arrears_day.isoformat()}
        columns.append(Column(heading, attrgetter("arrears_as_of")))
    rows = queryset.order_by("account_no").iterator(chunk_size=CSV_CHUNK)
    return export_response(fmt, "customers", columns, rows)


def customer_detail(request, account_no: str):
    customer = _visible_customer(request, account_no)
    context = {
        "customer": customer,
        "meters": customer.meter_points.order_by("meter_no"),
        "contacts": customer.contacts.order_by("name"),
        "visits": customer.service_visits.select_related("staff")[:50],
        "history": history_entries(customer, limit=20),
        "panels": [(reverse(name, args=[customer.account_no]), title) for name, title in settings.CUSTOMER_PAGE_PANELS],
        "can_edit": can_edit_archive(request.user),
        "can_log": can_log_contact_work(request.user),
        "can_reassign": can_lead(request.user),
    }
    return render(request, "customers/customer_detail.html", context)


@require_http_methods(["GET", "POST"])
def customer_create_view(request):
    require(can_edit_archive(request.user))
    form = CustomerForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        customer = customer_create(data=form.cleaned_data, created_by=request.user)
        messages.success(request, _("Customer %(account)s created.") % {"account": customer.account_no})
        return redirect("customers:detail", account_no=customer.account_no)
    return render(request, "customers/customer_form.html", {"form": form, "customer": None})


@require_http_methods(["GET", "POST"])
def customer_edit_view(request, account_no: str):
    require(can_edit_archive(request.user))
    customer = _visible_customer(request, account_no)
    form = CustomerForm(request.POST or None, instance=customer, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if k != "account_no"}
        customer_update(customer=customer, data=data, updated_by=request.user)
        messages.success(request, _("Customer %(account)s saved.") % {"account": customer.account_no})
        return redirect("customers:detail", account_no=customer.account_no)
    return render(request, "customers/customer_form.html", {"form": form, "customer": customer})


def _child_form(request, account_no, *, form_class, model, pk, allowed, save, title):
    require(allowed)
    customer = _visible_customer(request, account_no)
    instance = get_object_or_404(model, pk=pk, customer=customer) if pk else None
    form = form_class(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        save(customer, form.cleaned_data, instance)
        messages.success(request, _("Saved."))
        return redirect("customers:detail", account_no=customer.account_no)
    return render(request, "customers/child_form.html", {"form": form, "customer": customer, "title": title})


@require_http_methods(["GET", "POST"])
def meter_form_view(request, account_no: str, pk: int | None = None):
    return _child_form(
        request,
        account_no,
        form_class=MeterPointForm,
        model=MeterPoint,
        pk=pk,
        allowed=can_edit_archive(request.user),
        save=lambda c, data, inst: meter_point_save(customer=c, data=data, meter=inst),
        title=_("Meter point"),
    )


@require_http_methods(["GET", "POST"])
def contact_form_view(request, account_no: str, pk: int | None = None):
    return _child_form(
        request,
        account_no,
        form_class=ContactForm,
        model=Contact,
        pk=pk,
        allowed=can_log_contact_work(request.user),
        save=lambda c, data, inst: contact_save(customer=c, data=data, contact=inst),
        title=_("Contact"),
    )


@require_http_methods(["GET", "POST"])
def visit_form_view(request, account_no: str):
    return _child_form(
        request,
        account_no,
        form_class=ServiceVisitForm,
        model=None,
        pk=None,
        allowed=can_log_contact_work(request.user),
        save=lambda c, data, inst: service_visit_record(customer=c, data=data, staff=request.user),
        title=_("Service visit"),
    )


@require_http_methods(["GET", "POST"])
def meter_replace_view(request, account_no: str, pk: int):
    require(can_edit_archive(request.user))
    customer = _visible_customer(request, account_no)
    old = get_object_or_404(MeterPoint, pk=pk, customer=customer)
    form = MeterReplaceForm(request.POST or None, initial={"meter_type": old.meter_type, "multiplier": old.multiplier})
    if request.method == "POST" and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if k != "replaced_on"}
        try:
            new = meter_replace(old=old, data=data, replaced_on=form.cleaned_data["replaced_on"])
        except ValidationError as exc:
            for field, errors in exc.message_dict.items() if hasattr(exc, "error_dict") else [(None, exc.messages)]:
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(
                request, _("Meter %(old)s replaced by %(new)s.") % {"old": old.meter_no, "new": new.meter_no}
            )
            return redirect("customers:detail", account_no=customer.account_no)
    title = _("Replace meter %(meter)s") % {"meter": old.meter_no}
    return render(request, "customers/child_form.html", {"form": form, "customer": customer, "title": title})
