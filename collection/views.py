from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.pagination import paginate
from core.permissions import require
from core.roles import Role, user_roles
from customers.selectors import customers_visible_to

from .models import DunningNotice
from .selectors import worklist_for
from .services import dunning_notice_approve, dunning_notice_reject


def worklist(request):
    """The page a collector opens first: what needs doing today, biggest money first."""
    items = worklist_for(request.user)
    return render(request, "collection/worklist.html", {"page": paginate(request, items, default_size=50)})


def _can_review(user) -> bool:
    return user.is_superuser or bool({Role.AREA_LEADER, Role.MANAGER} & user_roles(user))


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
