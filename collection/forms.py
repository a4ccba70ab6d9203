from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from core.forms import BootstrapFormMixin

from .choices import ActivityKindChoices, ActivityOutcomeChoices


class ActivityForm(BootstrapFormMixin, forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=ActivityKindChoices.choices)
    outcome = forms.ChoiceField(
        label=_("Outcome"), choices=[("", "—"), *ActivityOutcomeChoices.choices], required=False
    )
    note = forms.CharField(label=_("Note"), widget=forms.Textarea(attrs={"rows": 2}), required=False)


class PromiseForm(BootstrapFormMixin, forms.Form):
    promised_on = forms.DateField(label=_("Promised for"), widget=forms.DateInput(attrs={"type": "date"}))
    amount = forms.DecimalField(label=_("Amount (yuan)"), max_digits=14, decimal_places=2, min_value=Decimal("0.01"))
