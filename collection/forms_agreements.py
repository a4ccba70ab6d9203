"""Forms of the agreements pages: record and release a guarantee, sign an arrangement.

They check the shape of the input only; the rules (the schedule covers what is owed, a
release dated within the guarantee's life) live in the services, whose errors the views put
back on these forms' fields.
"""

from __future__ import annotations

import contextlib
from decimal import Decimal

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from billing.choices import GuaranteeKindChoices
from core.forms import BootstrapFormMixin

from .services import ARRANGEMENT_REASON_MAX, GUARANTEE_REASON_MAX

MAX_INSTALMENTS = 36  # three years of monthly instalments
DEFAULT_INSTALMENTS = 3


def _date_widget():
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class _PanelIds:
    """Ids prefixed per form: the customer page holds several panels' forms (the collections
    panel has its own `kind` and `amount`), and ids must stay unique on the page."""

    id_prefix = ""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", f"id_{self.id_prefix}_%s")
        super().__init__(*args, **kwargs)


class GuaranteeForm(_PanelIds, BootstrapFormMixin, forms.Form):
    id_prefix = "guarantee"
    kind = forms.ChoiceField(label=_("Kind"), choices=GuaranteeKindChoices.choices)
    amount = forms.DecimalField(label=_("Amount (yuan)"), max_digits=14, decimal_places=2, min_value=Decimal("0.01"))
    valid_from = forms.DateField(label=_("Valid from"), widget=_date_widget())
    valid_to = forms.DateField(
        label=_("Valid to"),
        widget=_date_widget(),
        required=False,
        help_text=_("Empty for a deposit held until returned."),
    )
    issuer = forms.CharField(label=_("Issuer"), max_length=200, required=False, help_text=_("Bank or guarantor"))
    document_ref = forms.CharField(label=_("Document reference"), max_length=100, required=False)

    def clean(self):
        data = super().clean()
        start, end = data.get("valid_from"), data.get("valid_to")
        if start and end and end < start:
            self.add_error("valid_to", _("The end date is before the start date (%(date)s).") % {"date": start})
        return data


class GuaranteeReleaseForm(BootstrapFormMixin, forms.Form):
    released_on = forms.DateField(label=_("Released on"), widget=_date_widget())
    reason = forms.CharField(
        label=_("Reason"),
        max_length=GUARANTEE_REASON_MAX,
        help_text=_("Kept in the audit trail, e.g. the arrears are paid or a new guarantee replaces this one."),
    )
    confirm = forms.BooleanField(
        label=_("I confirm the guarantee is given back: it no longer covers this customer's bills."),
        error_messages={"required": _("Confirm the release.")},
    )


class ArrangementCancelForm(BootstrapFormMixin, forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=ARRANGEMENT_REASON_MAX,
        help_text=_("Kept in the audit trail, e.g. re-signed on new terms, or paid off by the guarantor."),
    )
    confirm = forms.BooleanField(
        label=_("I confirm the arrangement is withdrawn: dunning resumes for what is still owed."),
        error_messages={"required": _("Confirm the cancellation.")},
    )


class ArrangementSplitForm(_PanelIds, BootstrapFormMixin, forms.Form):
    """The helper: N monthly instalments from a first date, amounts pre-filled by the server."""

    id_prefix = "split"
    split = forms.IntegerField(label=_("Number of monthly instalments"), min_value=1, max_value=MAX_INSTALMENTS)
    first = forms.DateField(label=_("First instalment on"), widget=_date_widget())

    def clean_first(self):
        first = self.cleaned_data["first"]
        if first < timezone.localdate():
            raise forms.ValidationError(_("The first instalment is today or later."))
        return first


class ArrangementForm(_PanelIds, BootstrapFormMixin, forms.Form):
    """The schedule as numbered rows of date and amount. A row left blank is dropped, so the
    helper's rows can be trimmed; a half-filled row is an error on the missing half."""

    id_prefix = "arrangement"
    rows = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=MAX_INSTALMENTS)

    def __init__(self, *args, rows: int = DEFAULT_INSTALMENTS, **kwargs):
        super().__init__(*args, **kwargs)
        if self.is_bound:
            with contextlib.suppress(TypeError, ValueError):  # a tampered count falls back to the default
                rows = int(self.data.get("rows", rows))
        self.row_count = max(1, min(rows, MAX_INSTALMENTS))
        self.fields["rows"].initial = self.row_count
        for index in range(self.row_count):
            number = index + 1
            self.fields[f"due_on_{index}"] = forms.DateField(
                label=_("Instalment %(number)d: date") % {"number": number}, required=False, widget=_date_widget()
            )
            self.fields[f"amount_{index}"] = forms.DecimalField(
                label=_("Instalment %(number)d: amount") % {"number": number},
                required=False,
                max_digits=14,
                decimal_places=2,
                min_value=Decimal("0.01"),
            )
        # BootstrapFormMixin styled the fields that existed when it ran; style the rows too.
        for name, field in self.fields.items():
            if name.startswith(("due_on_", "amount_")):
                field.widget.attrs["class"] = "form-control form-control-sm"

    @classmethod
    def prefilled(cls, schedule) -> ArrangementForm:
        initial = {"rows": len(schedule)}
        for index, (day, amount) in enumerate(schedule):
            initial[f"due_on_{index}"] = day
            initial[f"amount_{index}"] = amount
        return cls(rows=len(schedule), initial=initial)

    def row_fields(self):
        """(number, date field, amount field) for each row, for the template."""
        return [(i + 1, self[f"due_on_{i}"], self[f"amount_{i}"]) for i in range(self.row_count)]

    def clean(self):
        data = super().clean()
        schedule = []
        for index in range(self.row_count):
            day, amount = data.get(f"due_on_{index}"), data.get(f"amount_{index}")
            if f"due_on_{index}" in self.errors or f"amount_{index}" in self.errors:
                continue
            if day is None and amount is None:
                continue
            if day is None:
                self.add_error(f"due_on_{index}", _("Enter the date of this instalment."))
            elif amount is None:
                self.add_error(f"amount_{index}", _("Enter the amount of this instalment."))
            else:
                schedule.append((day, amount))
        data["schedule"] = schedule
        return data
