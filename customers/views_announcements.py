"""Notices to customers (planned outages, tariff changes, service notices): the list, the form
reached from the customer list with its filters, and each notice with its delivery. Who receives
a notice is chosen with the customer list's own filters, so the leader sees the very customers
first; an invalid filter is a 400, never "everyone"."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods

from core.forms import service_errors_on
from core.pagination import paginate
from core.permissions import require
from core.roles import user_role

from .announcements import (
    AUDIENCE_MAX,
    DELIVERY_STATES,
    announcement_send,
    audience_figures,
    audience_filterset,
    can_announce,
    delivery,
)
from .choices import AnnouncementStatusChoices
from .filtersets import CustomerFilterSet
from .forms import AnnouncementForm
from .selectors import announcements_visible_to, notifications_visible_to

AUDIENCE_FILTERS = CustomerFilterSet.Meta.fields


def announcement_list(request):
    require(user_role(request.user) is not None)
    queryset = announcements_visible_to(request.user).select_related("created_by").annotate(
        sent=Count("notifications", filter=Q(notifications__status__in=DELIVERY_STATES["sent"])),
        failed=Count("notifications", filter=Q(notifications__status__in=DELIVERY_STATES["failed"])),
    ).order_by("-created_at", "-id")  # fmt: skip
    context = {"page": paginate(request, queryset), "can_announce": can_announce(request.user)}
    template = "customers/partials/announcement_table.html" if request.htmx else "customers/announcement_list.html"
    return render(request, template, context)


@require_http_methods(["GET", "POST"])
def announcement_new(request):
    require(can_announce(request.user))
    if request.method == "POST":
        form = AnnouncementForm(request.POST)
        query = request.POST.get("audience", "")
    else:
        query = request.GET.urlencode()
        form = AnnouncementForm(initial={"audience": query})
    filterset = audience_filterset(query, request.user, request)
    too_long = len(query) > AUDIENCE_MAX
    valid_audience = not too_long and filterset.is_valid()
    if request.method == "POST" and form.is_valid() and valid_audience:
        data = form.cleaned_data
        try:
            announcement = announcement_send(
                kind=data["kind"], subject=data["subject"], short_text=data["short_text"], body=data["body"],
                audience=query, all_contacts=data["all_contacts"],
                send_after=data["send_after"], by=request.user,
            )  # fmt: skip
        except ValidationError as exc:
            service_errors_on(form, exc, top=("audience",))  # a hidden field: its errors at the top
        else:
            if announcement.status == AnnouncementStatusChoices.QUEUED:
                text = ngettext(
                    "The notice is queued: %(messages)d messages to %(customers)d customer.",
                    "The notice is queued: %(messages)d messages to %(customers)d customers.",
                    announcement.customers,
                ) % {"messages": announcement.messages, "customers": announcement.customers}
            else:
                text = _("The %(count)d messages of the notice are being prepared; this page shows the progress.") % {
                    "count": announcement.expected
                }
            messages.success(request, text)
            return redirect("customers:announcement_detail", pk=announcement.pk)
    # Here on a GET, or a POST that was refused (named on the form): 400 for a refusal or filters
    # that choose no valid set of customers.
    status = 400 if request.method == "POST" or not valid_audience else 200
    all_contacts = form["all_contacts"].value() in ("1", True, None)
    context = {
        "form": form,
        "filterset": filterset,
        "valid_audience": valid_audience,
        "too_long": too_long,
        "audience": filterset.drill_filters(AUDIENCE_FILTERS) if valid_audience else [],
        "figures": audience_figures(filterset.qs, all_contacts=all_contacts) if valid_audience else None,
        "list_url": f"{reverse('customers:list')}?{query}" if query else reverse("customers:list"),
    }
    return render(request, "customers/announcement_form.html", context, status=status)


def announcement_detail(request, pk: int):
    require(user_role(request.user) is not None)
    announcement = get_object_or_404(announcements_visible_to(request.user).select_related("created_by"), pk=pk)
    rows = notifications_visible_to(request.user).filter(announcement=announcement).select_related("customer")
    # The filters as the sender chose them (a district of a manager's is no filter a collector has).
    filterset = audience_filterset(announcement.audience, announcement.created_by or request.user, request)
    context = {
        "announcement": announcement,
        "delivery": (counts := delivery(announcement)),
        "written": sum(counts.values()),
        "audience": filterset.drill_filters(AUDIENCE_FILTERS) if filterset.is_valid() else [],
        "page": paginate(request, rows.order_by("customer__account_no", "id")),
        "messages_url": f"{reverse('customers:notifications')}?announcement={announcement.pk}",
    }
    template = "customers/partials/announcement_messages.html" if request.htmx else "customers/announcement_detail.html"
    return render(request, template, context)
