from decimal import Decimal

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.forms import BootstrapFormMixin
from customers.selectors import customers_visible_to

from .choices import PaymentChannelChoices


class ReadingUploadForm(BootstrapFormMixin, forms.Form):
    file = forms.FileField(label=_("CSV file"), help_text=_("UTF-8 CSV with a header row; see the column list below."))


class PaymentForm(BootstrapFormMixin, forms.Form):
    customer = forms.CharField(label=_("Customer account number"), max_length=20)
    amount = forms.DecimalField(label=_("Amount (yuan)"), max_digits=14, decimal_places=2, min_value=Decimal("0.01"))
    channel = forms.ChoiceField(label=_("Channel"), choices=PaymentChannelChoices.choices)
    external_ref = forms.CharField(
        label=_("Reference"),
        max_length=64,
        required=False,
        help_text=_("Bank or receipt number; prevents double posting."),
    )
    received_at = forms.DateTimeField(
        label=_("Received at"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text=_("Leave empty for now."),
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_customer(self):
        account_no = self.cleaned_data["customer"].strip()
        customer = customers_visible_to(self.user).filter(account_no=account_no).first()
        if customer is None:
            raise forms.ValidationError(_("No customer %(account)s in your scope.") % {"account": account_no})
        return customer

    def clean_received_at(self):
        value = self.cleaned_data.get("received_at")
        if value and value > timezone.now():
            raise forms.ValidationError(_("A payment cannot be received in the future."))
        return value


class ReasonForm(BootstrapFormMixin, forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=300)


class WaiverForm(BootstrapFormMixin, forms.Form):
    amount = forms.DecimalField(label=_("Amount (yuan)"), max_digits=14, decimal_places=2, min_value=Decimal("0.01"))
    reason = forms.CharField(label=_("Reason"), max_length=300)


class AdjustmentForm(BootstrapFormMixin, forms.Form):
    amount = forms.DecimalField(
        label=_("Amount (yuan)"),
        max_digits=14,
        decimal_places=2,
        help_text=_("Positive: the customer owes more; negative: a credit."),
    )
    reason = forms.CharField(label=_("Reason"), max_length=300)

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        if amount == 0:
            raise forms.ValidationError(_("Enter a non-zero amount."))
        return amount


class BillingRunForm(BootstrapFormMixin, forms.Form):
    period = forms.RegexField(
        label=_("Period"),
        regex=r"^\d{4}-(0[1-9]|1[0-2])$",
        error_messages={"invalid": _("Write the period YYYY-MM.")},
        widget=forms.TextInput(attrs={"placeholder": "2026-10"}),
    )
    issue_date = forms.DateField(label=_("Issue date"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
