"""The Messages page: the notification outbox as area leaders and managers see it (what went out,
what is retrying and why, what failed), with "send again" for failed messages. Rows are scoped
by customers_visible_to, so a message of a customer outside the scope is a 404."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Case, IntegerField, Q, Value, When
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.pagination import filter_data, paginate
from core.permissions import require

from .choices import NotificationChannelChoices
from .choices import NotificationStatusChoices as S
from .filtersets import NotificationFilterSet
from .notifications import can_retry_notifications, notification_retry
from .selectors import customers_visible_to, notifications_visible_to

# What needs a person first (failed), then what is still on its way, then the rest; newest first.
_PRIORITY = Case(
    When(status=S.FAILED, then=Value(0)),
    When(Q(status=S.QUEUED, attempts__gt=0) | Q(status=S.SENDING), then=Value(1)),
    When(status=S.QUEUED, then=Value(2)),
    default=Value(3),
    output_field=IntegerField(),
)


def notification_list(request):
    require(can_retry_notifications(request.user))
    queryset = notifications_visible_to(request.user).select_related("customer", "staff", "retried_by")
    filterset = NotificationFilterSet(filter_data(request.GET), queryset=queryset, request=request)
    if filterset.is_bound and filterset.is_valid():
        queryset = filterset.qs
    params = request.GET.copy()
    params.pop("page", None)
    context = {
        "filterset": filterset,
        "page": paginate(request, queryset.annotate(priority=_PRIORITY).order_by("priority", "-created_at", "-id")),
        "querystring": params.urlencode(),
        "channels": NotificationChannelChoices.choices,
        "can_retry": can_retry_notifications(request.user),
    }
    template = "customers/partials/notification_table.html" if request.htmx else "customers/notification_list.html"
    return render(request, template, context)


@require_POST
def notification_retry_view(request, pk: int):
    require(can_retry_notifications(request.user))
    notification = get_object_or_404(notifications_visible_to(request.user), pk=pk)
    try:
        notification_retry(notification=notification, retried_by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except PermissionDenied as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, _("The message to %(recipient)s is sent again.") % {"recipient": notification.recipient}
        )
    back = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return redirect(back)
    return redirect("customers:notifications")


PANEL_MESSAGES = 15


def messages_panel(request, account_no: str):
    """The customer page's "Messages sent" panel (loaded with hx-get): what went out to its
    contacts lately — reminders, prepaid warnings, notices — and whether it arrived, so whoever
    calls the customer knows what it was told."""
    customer = get_object_or_404(customers_visible_to(request.user), account_no=account_no)
    rows = customer.notifications.select_related("contact").order_by("-created_at", "-id")
    context = {
        "customer": customer,
        "rows": list(rows[:PANEL_MESSAGES]),
        "total": rows.count(),
        "can_see_all": can_retry_notifications(request.user),
    }
    return render(request, "customers/partials/messages_panel.html", context)
