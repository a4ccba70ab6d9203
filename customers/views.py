"""Staff pages of the archive. Every lookup goes through customers_visible_to, so a URL for a
customer outside the user's scope is a 404, exactly like one that does not exist."""

import csv

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from core.history import history_entries
from core.pagination import apply_sort, filter_data, paginate
from core.permissions import can_edit_archive, can_lead, can_log_contact_work, require

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


def _filtered_customers(request):
    queryset = customers_visible_to(request.user).select_related("region", "collector")
    filterset = CustomerFilterSet(filter_data(request.GET), queryset=queryset, request=request)
    return filterset, (filterset.qs if filterset.is_bound and filterset.is_valid() else queryset)


def customer_list(request):
    filterset, queryset = _filtered_customers(request)
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
    }
    template = "customers/partials/customer_table.html" if request.htmx else "customers/customer_list.html"
    return render(request, template, context)


class _Echo:
    def write(self, value):
        return value


def customer_export(request):
    """CSV of the filtered list, streamed row by row so a large portfolio never sits in memory."""
    queryset = _filtered_customers(request)[1]
    header = [
        _("Account number"),
        _("Name"),
        _("Unified social credit code"),
        _("Industry"),
        _("Importance"),
        _("Area"),
        _("Collector"),
        _("Voltage (kV)"),
        _("Contracted capacity (kVA)"),
        _("Settlement mode"),
        _("Operating status"),
        _("Credit grade"),
    ]

    def rows():
        writer = csv.writer(_Echo())
        yield "\ufeff"  # so Excel opens the Chinese names as UTF-8
        yield writer.writerow(header)
        for customer in queryset.order_by("account_no").iterator(chunk_size=2000):
            yield writer.writerow(
                [
                    customer.account_no,
                    customer.name,
                    customer.uscc,
                    customer.get_industry_display(),
                    customer.get_importance_display(),
                    customer.region.name,
                    customer.collector.get_full_name() or customer.collector.username if customer.collector else "",
                    customer.voltage_kv,
                    customer.contracted_capacity_kva,
                    customer.get_settlement_mode_display(),
                    customer.get_operating_status_display(),
                    customer.credit_grade,
                ]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="customers.csv"'
    return response


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
