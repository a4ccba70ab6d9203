from django import forms
from django.utils.translation import gettext_lazy as _

from core.forms import BootstrapFormMixin

from .choices import AnnouncementKindChoices
from .models import Contact, Customer, MeterPoint, ServiceVisit
from .selectors import regions_visible_to, staff_assignable_by


class DateInput(forms.DateInput):
    input_type = "date"


class CustomerForm(BootstrapFormMixin, forms.ModelForm):
    class Meta:
        model = Customer
        fields = [
            "account_no",
            "name",
            "uscc",
            "industry",
            "importance",
            "address",
            "region",
            "collector",
            "account_manager",
            "voltage_kv",
            "contracted_capacity_kva",
            "basic_charge_basis",
            "contract_demand_kw",
            "settlement_mode",
            "instalments_per_month",
            "prepay_ratio",
            "reading_day",
            "payment_terms_days",
            "government_funded",
            "usual_payment_channel",
            "operating_status",
            "employees",
            "annual_output",
            "equipment_condition",
            "line_ageing",
            "penalty_rate_override",
            "remote_control_agreement",
            "opened_on",
        ]
        widgets = {"opened_on": DateInput()}

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        if user is not None:
            self.fields["region"].queryset = regions_visible_to(user).filter(kind="area")
            staff = staff_assignable_by(user)
            self.fields["collector"].queryset = staff
            self.fields["account_manager"].queryset = staff
        if self.instance.pk:
            # The account number is the key other systems use: it never changes once issued.
            self.fields["account_no"].disabled = True


class MeterPointForm(BootstrapFormMixin, forms.ModelForm):
    class Meta:
        model = MeterPoint
        fields = [
            "meter_no",
            "location",
            "usage",
            "meter_type",
            "multiplier",
            "installed_on",
            "remote_switch",
            "active",
        ]
        widgets = {"installed_on": DateInput()}


class ContactForm(BootstrapFormMixin, forms.ModelForm):
    class Meta:
        model = Contact
        fields = ["name", "role", "mobile", "wechat_id", "email", "preferred_channel", "receives_dunning"]


class ServiceVisitForm(BootstrapFormMixin, forms.ModelForm):
    class Meta:
        model = ServiceVisit
        fields = ["visited_on", "kind", "findings", "follow_up_on"]
        widgets = {"visited_on": DateInput(), "follow_up_on": DateInput()}


class MeterReplaceForm(BootstrapFormMixin, forms.ModelForm):
    replaced_on = forms.DateField(label=_("Replaced on"), widget=DateInput())

    class Meta:
        model = MeterPoint
        fields = ["meter_no", "meter_type", "multiplier", "location", "usage", "remote_switch"]


class AnnouncementForm(BootstrapFormMixin, forms.Form):
    """The notice itself; who receives it comes from the customer list's filters (`audience`)."""

    kind = forms.ChoiceField(label=_("Kind"), choices=AnnouncementKindChoices.choices)
    subject = forms.CharField(label=_("Subject"), max_length=100)
    short_text = forms.CharField(
        label=_("SMS and WeChat text"),
        max_length=200,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("At most 200 characters; an SMS of more than 70 Chinese characters is sent in parts."),
    )
    body = forms.CharField(
        label=_("E-mail text"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("The full notice for contacts reached by e-mail; the SMS text if left empty."),
    )
    all_contacts = forms.TypedChoiceField(
        label=_("Contacts"),
        choices=[
            ("1", _("Every contact (electricians too)")),
            ("0", _("Only the contacts that receive payment notices")),
        ],
        coerce=lambda value: value == "1",
        initial="1",
    )
    send_after = forms.DateTimeField(
        label=_("Send from"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("Empty: at once. Nothing goes out at night (quiet hours); it waits for the morning."),
    )
    audience = forms.CharField(widget=forms.HiddenInput, required=False, max_length=1000)
    confirm = forms.BooleanField(
        label=_("I confirm: send this notice to the customers above."),
        error_messages={"required": _("Confirm the sending.")},
    )
