"""Forms of the responsibility pages: a month's targets and a customer's reassignment."""

from decimal import Decimal

from django import forms
from django.contrib.auth.models import User
from django.utils.translation import gettext_lazy as _

from core.forms import BootstrapFormMixin
from core.roles import Role
from customers.models import Region

RATE = {"max_digits": 4, "decimal_places": 1, "min_value": Decimal(0), "max_value": Decimal(100)}


def collectors():
    return User.objects.filter(groups__name=Role.COLLECTOR, is_active=True).order_by("username").distinct()


class CollectorChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, user) -> str:
        return user.get_full_name() or user.username


class TargetForm(BootstrapFormMixin, forms.Form):
    month = forms.DateField(label=_("Month"), input_formats=["%Y-%m"], widget=forms.DateInput(attrs={"type": "month"}))
    region = forms.ModelChoiceField(label=_("Area"), queryset=Region.objects.none(), required=False)
    collector = CollectorChoiceField(label=_("Collector"), queryset=User.objects.none(), required=False)
    recovery_rate = forms.DecimalField(
        label=_("Recovery rate target (%)"),
        max_digits=4,
        decimal_places=1,
        min_value=Decimal(0),
        max_value=Decimal(100),
    )
    zero_out_rate = forms.DecimalField(
        label=_("Zero-out rate target (%)"),
        max_digits=4,
        decimal_places=1,
        min_value=Decimal(0),
        max_value=Decimal(100),
    )

    def __init__(self, *args, regions, collector_users, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].queryset = regions
        self.fields["collector"].queryset = collector_users

    def clean(self):
        data = super().clean()
        if bool(data.get("region")) == bool(data.get("collector")):
            raise forms.ValidationError(_("Choose either an area or a collector."))
        return data


class ReassignForm(BootstrapFormMixin, forms.Form):
    collector = CollectorChoiceField(label=_("New collector"), queryset=User.objects.none())
    reason = forms.CharField(label=_("Reason"), max_length=300)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["collector"].queryset = collectors()
