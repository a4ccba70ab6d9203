"""Staff pages for billing. Every bill, payment and statement is reached through the
customer scope (customers_visible_to), so a guessed URL outside it is a 404."""

from operator import attrgetter

from django.contrib import messages
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from core.exports import CSV_CHUNK, Column, export_response
from core.formatting import money
from core.pagination import apply_sort, filter_data, paginate
from core.permissions import require
from customers.selectors import customers_visible_to

from .filtersets import BillFilterSet, PaymentFilterSet
from .forms import AdjustmentForm, BillingRunForm, PaymentForm, ReadingUploadForm, ReasonForm, WaiverForm
from .models import Bill, BillingRun, Payment, ReadingUpload
from .permissions import (
    can_post_readings,
    can_record_payments,
    can_reverse_payments,
    can_run_billing,
    can_waive_penalties,
)
from .selectors import bill_totals, bills_visible_to, bills_with_balances, with_balances
from .services.bills import bill_adjust, billing_run_start
from .services.payments import DuplicatePayment, payment_record, payment_reverse, validate_received_at
from .services.penalties import penalty_waive
from .services.statements import account_summary, statement_entries
from .services.uploads import reading_upload_check, reading_upload_confirm
from .tasks import billing_run_task

BILL_SORTS = {
    "due_on": "due_on",
    "issued_on": "issued_on",
    "total": "total",
    "customer": "customer__account_no",
    "period": "period",
    "principal_due": "principal_due",
}


# Filters a drill-down link may carry that the list's form does not show: kept as hidden fields
# (so changing a select keeps them) and listed above the table with a link to drop them.
BILL_DRILL_FILTERS = (
    "overdue_on", "overdue_days_min", "overdue_days_max", "due_after", "due_before", "issued_after",
    "issued_before", "region", "industry", "importance", "settlement_mode", "grade", "collector", "kind",
)  # fmt: skip

BILL_COLUMNS = [
    Column(gettext_lazy("Bill number"), attrgetter("number")),
    Column(gettext_lazy("Account number"), attrgetter("customer.account_no")),
    Column(gettext_lazy("Customer"), attrgetter("customer.name")),
    Column(gettext_lazy("Period"), attrgetter("period")),
    Column(gettext_lazy("Issued on"), attrgetter("issued_on")),
    Column(gettext_lazy("Due on"), attrgetter("due_on")),
    Column(gettext_lazy("Total"), attrgetter("total")),
    Column(gettext_lazy("Principal due"), attrgetter("principal_due")),
    Column(gettext_lazy("Penalty due"), attrgetter("penalty_due")),
    Column(gettext_lazy("Status"), lambda bill: bill.get_status_display()),
]


def _bills(request):
    queryset = bills_visible_to(request.user).select_related("customer")
    filterset = BillFilterSet(filter_data(request.GET), queryset=queryset, request=request)
    # Balances after filtering: `overdue_on` puts that day's on the rows, else they are today's.
    return filterset, with_balances(filterset.qs if filterset.is_bound and filterset.is_valid() else queryset)


def bill_list(request):
    filterset, queryset = _bills(request)
    # Totals of every filtered row (not only the page), to check against the dashboard figure the
    # list was opened from. Only for a filtered list: the whole ledger's sum helps nobody and
    # costs a pass over every bill.
    totals = bill_totals(queryset) if filterset.is_bound and filterset.is_valid() else None
    queryset, sort = apply_sort(request, queryset, BILL_SORTS, "-due_on")
    params = request.GET.copy()
    params.pop("page", None)
    context = {
        "filterset": filterset,
        "page": paginate(request, queryset),
        "sort": sort,
        "querystring": params.urlencode(),
        "totals": totals,
        "drill_filters": filterset.drill_filters(BILL_DRILL_FILTERS),
    }
    template = "billing/partials/bill_table.html" if request.htmx else "billing/bill_list.html"
    return render(request, template, context)


def bill_export(request, fmt: str = "csv"):
    """The filtered list as CSV or Excel, streamed (core.exports); with `overdue_on` the amounts
    are those unpaid that day, like the list."""
    queryset = _bills(request)[1].order_by("due_on", "id")
    return export_response(fmt, "bills", BILL_COLUMNS, queryset.iterator(chunk_size=CSV_CHUNK))


def bill_detail(request, pk: int):
    bill = get_object_or_404(
        bills_with_balances(bills_visible_to(request.user)).select_related("customer", "tariff"), pk=pk
    )
    lines = list(bill.lines.all())
    penalties = list(bill.penalties.order_by("accrued_on", "id"))
    running = 0
    for row in penalties:
        running += row.amount
        row.cumulative = running
    energy_base = sum((line.amount for line in lines if line.kind not in ("funds", "power_factor")), 0)
    context = {
        "bill": bill,
        "lines": lines,
        "energy_base": energy_base,
        "penalties": penalties,
        "allocations": bill.allocations.select_related("payment").order_by("id"),
        "adjustments": bill.adjustments.select_related("created_by"),
        "waivers": bill.penalty_waivers.select_related("approved_by"),
        "can_waive": can_waive_penalties(request.user),
        "waiver_form": WaiverForm(),
        "adjustment_form": AdjustmentForm(),
    }
    return render(request, "billing/bill_detail.html", context)


@require_POST
def bill_waive(request, pk: int):
    require(can_waive_penalties(request.user))
    bill = get_object_or_404(bills_visible_to(request.user), pk=pk)
    form = WaiverForm(request.POST)
    if form.is_valid():
        try:
            penalty_waive(bill=bill, approved_by=request.user, **form.cleaned_data)
            waived = money(form.cleaned_data["amount"])
            messages.success(request, _("Penalty of %(amount)s waived.") % {"amount": waived})
        except (ValidationError, DjangoPermissionDenied) as exc:
            messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
    else:
        messages.error(request, _("The waiver was not saved: %(errors)s") % {"errors": form.errors.as_text()})
    return redirect("billing:bill_detail", pk=bill.pk)


@require_POST
def bill_adjust_view(request, pk: int):
    require(can_waive_penalties(request.user))  # corrections of issued bills: managers only
    bill = get_object_or_404(bills_visible_to(request.user), pk=pk)
    form = AdjustmentForm(request.POST)
    if form.is_valid():
        try:
            bill_adjust(bill=bill, created_by=request.user, **form.cleaned_data)
            messages.success(request, _("Adjustment note added."))
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    else:
        messages.error(request, _("The adjustment was not saved: %(errors)s") % {"errors": form.errors.as_text()})
    return redirect("billing:bill_detail", pk=bill.pk)


def statement(request, account_no: str):
    customer = get_object_or_404(customers_visible_to(request.user), account_no=account_no)
    entries = statement_entries(customer)
    context = {"customer": customer, "entries": entries, "summary": account_summary(customer)}
    return render(request, "billing/statement.html", context)


def customer_panel(request, account_no: str):
    """The billing panel of the customer page (loaded with hx-get by the archive's page)."""
    customer = get_object_or_404(customers_visible_to(request.user), account_no=account_no)
    bills = bills_with_balances(Bill.objects.filter(customer=customer)).order_by("-issued_on", "-id")[:12]
    payments = Payment.objects.filter(customer=customer).order_by("-received_at")[:5]
    context = {"customer": customer, "bills": bills, "payments": payments, "summary": account_summary(customer)}
    return render(request, "billing/partials/customer_panel.html", context)


def payment_list(request):
    queryset = Payment.objects.filter(customer__in=customers_visible_to(request.user)).select_related("customer")
    filterset = PaymentFilterSet(filter_data(request.GET), queryset=queryset, request=request)
    if filterset.is_bound and filterset.is_valid():
        queryset = filterset.qs
    params = request.GET.copy()
    params.pop("page", None)
    context = {
        "filterset": filterset,
        "page": paginate(request, queryset.order_by("-received_at", "-id")),
        "querystring": params.urlencode(),
        "can_record": can_record_payments(request.user),
        "can_reverse": can_reverse_payments(request.user),
    }
    template = "billing/partials/payment_table.html" if request.htmx else "billing/payment_list.html"
    return render(request, template, context)


@require_http_methods(["GET", "POST"])
def payment_create(request):
    require(can_record_payments(request.user))
    form = PaymentForm(request.POST or None, user=request.user, initial={"customer": request.GET.get("customer", "")})
    if request.method == "POST" and form.is_valid():
        try:
            validate_received_at(form.cleaned_data.get("received_at"))
            payment = payment_record(recorded_by=request.user, **form.cleaned_data)
        except DuplicatePayment as exc:
            form.add_error(
                "external_ref",
                _("This reference was already posted on %(date)s.") % {"date": exc.existing.received_at.date()},
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(
                request,
                _("Payment of %(amount)s recorded for %(account)s.")
                % {"amount": money(payment.amount), "account": payment.customer.account_no},
            )
            return redirect("billing:statement", account_no=payment.customer.account_no)
    return render(request, "billing/payment_form.html", {"form": form})


@require_http_methods(["GET", "POST"])
def payment_reverse_view(request, pk: int):
    require(can_reverse_payments(request.user))
    payment = get_object_or_404(
        Payment.objects.filter(customer__in=customers_visible_to(request.user)).select_related("customer"), pk=pk
    )
    form = ReasonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            payment_reverse(payment=payment, reason=form.cleaned_data["reason"], reversed_by=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("Payment reversed; the bills it paid are open again."))
        return redirect("billing:statement", account_no=payment.customer.account_no)
    return render(request, "billing/payment_reverse.html", {"form": form, "payment": payment})


@require_http_methods(["GET", "POST"])
def billing_runs(request):
    require(can_run_billing(request.user))
    form = BillingRunForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                run = billing_run_start(requested_by=request.user, **form.cleaned_data)
                transaction.on_commit(lambda: billing_run_task.delay(run.pk))
        except ValidationError as exc:
            form.add_error(None, exc.messages)
        else:
            messages.success(request, _("Billing run for %(period)s started.") % {"period": run.period})
            return redirect("billing:runs")
    runs = BillingRun.objects.select_related("requested_by")[:20]
    if request.htmx:
        return render(request, "billing/partials/run_table.html", {"runs": runs})
    return render(request, "billing/billing_runs.html", {"form": form, "runs": runs})


@require_http_methods(["GET", "POST"])
def reading_upload(request):
    require(can_post_readings(request.user))
    form = ReadingUploadForm(request.POST or None, request.FILES or None)
    upload = None
    if request.method == "POST" and form.is_valid():
        file = form.cleaned_data["file"]
        try:
            upload = reading_upload_check(file_name=file.name, data=file.read(), uploaded_by=request.user)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
    recent = ReadingUpload.objects.select_related("uploaded_by").defer("content")[:10]
    return render(request, "billing/reading_upload.html", {"form": form, "upload": upload, "recent": recent})


@require_POST
def reading_upload_store(request, pk: int):
    require(can_post_readings(request.user))
    upload = get_object_or_404(ReadingUpload, pk=pk)
    try:
        upload = reading_upload_confirm(upload=upload)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("billing:reading_upload")
    if upload.status == ReadingUpload.Status.IMPORTED:
        messages.success(
            request,
            _("%(new)d readings stored, %(dup)d duplicates skipped.")
            % {"new": upload.new_readings, "dup": upload.duplicates},
        )
    else:
        messages.error(request, _("Readings changed since the check; the file was rejected. See the report."))
    return render(request, "billing/reading_upload.html", {"form": ReadingUploadForm(), "upload": upload, "recent": []})
