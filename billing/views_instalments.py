"""Staff pages for instalment settlement (分次结算, DESIGN.md rule 6): a customer's plan for a
period, the history of its terms and the form that changes them. Reached through the
customer scope (customers_visible_to), so a guessed URL outside it is a 404."""

from decimal import Decimal

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from core.forms import BootstrapFormMixin
from core.permissions import can_edit_archive, require
from customers.choices import CustomerSettlementModeChoices
from customers.selectors import customers_visible_to

from .services.bills import parse_period
from .services.instalments import instalment_plan, instalment_terms_change

SOURCES = {
    "forecast": gettext_lazy("forecast of %(ref)s"),
    "previous_bill": gettext_lazy("previous bill %(ref)s"),
}


class InstalmentTermsForm(BootstrapFormMixin, forms.Form):
    # Ranges are checked by the service, so the page, the API and the shell give the same errors.
    prepay_ratio = forms.DecimalField(
        label=gettext_lazy("Prepayment ratio"),
        max_digits=4,
        decimal_places=3,
        help_text=gettext_lazy("Share of the forecast month charge paid in advance: more than 0, at most 2."),
    )
    instalments_per_month = forms.IntegerField(
        label=gettext_lazy("Instalments a month"),
        required=False,
        help_text=gettext_lazy("At least 3 for instalment settlement."),
    )
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=300)


def _shift(period: str, months: int) -> str:
    year, month = parse_period(period)
    index = year * 12 + month - 1 + months
    return f"{index // 12}-{index % 12 + 1:02d}"


@require_http_methods(["GET", "POST"])
def instalments(request, account_no: str):
    customer = get_object_or_404(customers_visible_to(request.user), account_no=account_no)
    can_change = can_edit_archive(request.user)
    form = InstalmentTermsForm(
        initial={"prepay_ratio": customer.prepay_ratio, "instalments_per_month": customer.instalments_per_month}
    )
    status = 200
    if request.method == "POST":
        require(can_change)
        form = InstalmentTermsForm(request.POST)
        if form.is_valid():
            try:
                instalment_terms_change(customer=customer, changed_by=request.user, **form.cleaned_data)
            except ValidationError as exc:
                for name, errors in exc.message_dict.items():
                    form.add_error(name if name in form.fields else None, errors)
            else:
                messages.success(
                    request,
                    _("Instalment terms changed: ratio %(ratio)s, %(count)s instalments a month.")
                    % {"ratio": customer.prepay_ratio, "count": customer.instalments_per_month or "—"},
                )
                return redirect("billing:instalments", account_no=customer.account_no)
        status = 400
    try:
        plan = instalment_plan(customer=customer, period=request.GET.get("period") or None)
    except ValidationError:
        messages.error(request, _("A period is written YYYY-MM."))
        plan = instalment_plan(customer=customer)
    projection = None
    if plan.projection is not None:
        projection = SOURCES[plan.projection.source] % {"ref": plan.projection.reference}
    context = {
        "customer": customer,
        "plan": plan,
        "projection_label": projection,
        "previous_period": _shift(plan.period, -1),
        "next_period": _shift(plan.period, 1),
        "in_instalments": customer.settlement_mode == CustomerSettlementModeChoices.INSTALMENTS,
        "changes": customer.instalment_changes.select_related("changed_by").order_by("-changed_at", "-id"),
        "can_change": can_change,
        "form": form,
        "zero": Decimal("0"),
    }
    return render(request, "billing/instalment_plan.html", context, status=status)
