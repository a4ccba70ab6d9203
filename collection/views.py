from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.pagination import paginate
from core.permissions import can_lead, can_log_contact_work, require
from customers.selectors import customers_visible_to

from .forms import ActivityForm, PromiseForm
from .models import DunningNotice
from .selectors import worklist_for
from .services import activity_log, dunning_notice_approve, dunning_notice_reject, promise_record


def worklist(request):
    """The page a collector opens first: what needs doing today, biggest money first."""
    items = worklist_for(request.user)
    return render(request, "collection/worklist.html", {"page": paginate(request, items, default_size=50)})


def _can_review(user) -> bool:
    return can_lead(user)


def notice_review(request):
    """Proposed notices awaiting a leader's decision (propose → review → send)."""
    require(_can_review(request.user))
    notices = (
        DunningNotice.objects.filter(customer__in=customers_visible_to(request.user), status="proposed")
        .select_related("customer", "level")
        .order_by("-amount_due")
    )
    return render(request, "collection/notice_review.html", {"page": paginate(request, notices, default_size=50)})


@require_POST
def notice_decide(request, pk: int):
    require(_can_review(request.user))
    notice = get_object_or_404(DunningNotice.objects.filter(customer__in=customers_visible_to(request.user)), pk=pk)
    try:
        if request.POST.get("decision") == "approve":
            dunning_notice_approve(notice=notice, approved_by=request.user)
            messages.success(request, _("Notice sent."))
        else:
            dunning_notice_reject(notice=notice, rejected_by=request.user)
            messages.success(request, _("Notice declined."))
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
    return redirect("collection:notice_review")


def customer_panel(request, account_no: str):
    """The collections panel of the customer page: case, notices, promises and the activity
    log, with forms to log a call or record a promise."""
    customer = get_object_or_404(customers_visible_to(request.user), account_no=account_no)
    context = {
        "customer": customer,
        "case": customer.collection_cases.filter(status="open").first(),
        "notices": customer.dunning_notices.select_related("level")[:10],
        "promises": customer.payment_promises.order_by("-promised_on")[:10],
        "activities": customer.collection_activities.select_related("by")[:20],
        "can_log": can_log_contact_work(request.user),
        "activity_form": ActivityForm(),
        "promise_form": PromiseForm(),
    }
    return render(request, "collection/partials/customer_panel.html", context)


@require_POST
def activity_create(request, account_no: str):
    require(can_log_contact_work(request.user))
    customer = get_object_or_404(customers_visible_to(request.user), account_no=account_no)
    form = ActivityForm(request.POST)
    if form.is_valid():
        activity_log(customer=customer, by=request.user, **form.cleaned_data)
        messages.success(request, _("Activity recorded."))
    else:
        messages.error(request, _("Not recorded: %(errors)s") % {"errors": form.errors.as_text()})
    return redirect("customers:detail", account_no=customer.account_no)


@require_POST
def promise_create(request, account_no: str):
    require(can_log_contact_work(request.user))
    customer = get_object_or_404(customers_visible_to(request.user), account_no=account_no)
    form = PromiseForm(request.POST)
    if form.is_valid():
        try:
            promise_record(customer=customer, created_by=request.user, **form.cleaned_data)
            messages.success(request, _("Promise recorded."))
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    else:
        messages.error(request, _("Not recorded: %(errors)s") % {"errors": form.errors.as_text()})
    return redirect("customers:detail", account_no=customer.account_no)
