"""Forms of the risk pages. They check the shape of the input only; the rules (a note to
reject, the grades a policy may name, a scorecard fit to publish) live in the services and in
scoring.scorecard_check, whose messages the views put back on these forms."""

from __future__ import annotations

import contextlib
import json
import math
from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from core.forms import BootstrapFormMixin
from customers.choices import CustomerSettlementModeChoices

from .choices import CriterionMethodChoices, CriterionSourceChoices
from .services_policy import NOTE_MAX, dunning_policy_choices

MAX_GRADE_BANDS = 10
SPARE_BAND_ROWS = 2


def _number(value: Decimal) -> int | float:
    """JSON keeps numbers, not Decimals: whole numbers as int (as the default scorecard has)."""
    return int(value) if value == value.to_integral_value() else float(value)


class AcknowledgeForm(forms.Form):
    note = forms.CharField(
        label=_("Note"),
        max_length=NOTE_MAX,
        error_messages={"required": _("Say what was done about the alert.")},
    )


class ProposalDecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("accept", _("Accept")), ("reject", _("Reject"))])
    note = forms.CharField(label=_("Note"), max_length=NOTE_MAX, required=False)


class DraftFromForm(BootstrapFormMixin, forms.Form):
    name = forms.CharField(label=_("Name of the new version"), max_length=100, required=False)


class ScorecardDraftForm(BootstrapFormMixin, forms.Form):
    """Name, notes and the grade bands as numbered rows (best grade first); a row left empty is
    left out, so the spare rows add a grade and emptying a row removes one."""

    name = forms.CharField(label=_("Name"), max_length=100)
    notes = forms.CharField(label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    rows = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=MAX_GRADE_BANDS)

    def __init__(self, *args, bands: list | None = None, **kwargs):
        bands = [b for b in (bands or []) if isinstance(b, list | tuple) and len(b) == 2]
        row_count = min(len(bands) + SPARE_BAND_ROWS, MAX_GRADE_BANDS)
        super().__init__(*args, **kwargs)
        if self.is_bound:
            with contextlib.suppress(TypeError, ValueError):  # a tampered count falls back to the default
                row_count = max(1, min(int(self.data.get("rows", row_count)), MAX_GRADE_BANDS))
        self.row_count = row_count
        self.fields["rows"].initial = row_count
        for index in range(row_count):
            grade, lowest = bands[index] if index < len(bands) else ("", None)
            self.fields[f"grade_{index}"] = forms.CharField(
                label=_("Band %(number)d: grade") % {"number": index + 1}, max_length=3, required=False, initial=grade
            )
            self.fields[f"lowest_{index}"] = forms.DecimalField(
                label=_("Band %(number)d: lowest score") % {"number": index + 1},
                required=False,
                min_value=0,
                max_value=100,
                max_digits=4,
                decimal_places=1,
                initial=lowest,
            )
            for name in (f"grade_{index}", f"lowest_{index}"):
                self.fields[name].widget.attrs["class"] = "form-control form-control-sm"

    def band_fields(self):
        return [(index + 1, self[f"grade_{index}"], self[f"lowest_{index}"]) for index in range(self.row_count)]

    def clean(self):
        data = super().clean()
        bands = []
        for index in range(self.row_count):
            if f"grade_{index}" in self.errors or f"lowest_{index}" in self.errors:
                continue
            grade = (data.get(f"grade_{index}") or "").strip().upper()
            lowest = data.get(f"lowest_{index}")
            if not grade and lowest is None:
                continue
            if not grade:
                self.add_error(f"grade_{index}", _("Name the grade of this band."))
            elif lowest is None:
                self.add_error(f"lowest_{index}", _("Give the lowest score of grade %(grade)s.") % {"grade": grade})
            else:
                bands.append([grade, _number(lowest)])
        if not bands and not self.errors:
            raise forms.ValidationError(_("Give at least one grade band."))
        data["grade_bands"] = bands
        return data


class BandsField(forms.JSONField):
    """The bands of a criterion as JSON text, e.g. [{"min": null, "max": 0.5, "points": 0}, …].
    The shape is checked here; overlaps and gaps are reported by the publish checks."""

    def prepare_value(self, value):
        if isinstance(value, str):
            return value
        return json.dumps(value if value is not None else [], ensure_ascii=False, indent=1)

    def clean(self, value):
        bands = super().clean(value)
        if bands in (None, ""):
            return []
        if not isinstance(bands, list):
            raise forms.ValidationError(_('The bands are a list: [{"min": …, "max": …, "points": …}, …].'))
        rows = []
        for number, band in enumerate(bands, start=1):
            if not isinstance(band, dict) or set(band) - {"min", "max", "points"} or "points" not in band:
                raise forms.ValidationError(
                    _("Band %(number)d needs exactly min, max and points.") % {"number": number}
                )
            row = {}
            for key in ("min", "max", "points"):
                value = band.get(key)
                if value is None and key != "points":
                    row[key] = None
                elif isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                    if key == "points":
                        raise forms.ValidationError(_("Band %(number)d: points must be a number.") % {"number": number})
                    raise forms.ValidationError(
                        _("Band %(number)d: %(key)s must be a number or null.") % {"number": number, "key": key}
                    )
                else:
                    row[key] = value
            rows.append(row)
        return rows


class CriterionForm(BootstrapFormMixin, forms.Form):
    key = forms.SlugField(label=_("Key"), max_length=40)
    group = forms.CharField(label=_("Group"), max_length=50, required=False)
    label_en = forms.CharField(label=_("Label (English)"), max_length=100)
    label_zh = forms.CharField(label=_("Label (Chinese)"), max_length=100)
    source = forms.ChoiceField(
        label=_("Data source"), required=False, choices=[("", _("— none —")), *CriterionSourceChoices.choices]
    )
    weight = forms.DecimalField(label=_("Weight (points)"), min_value=0, max_value=100, max_digits=5, decimal_places=1)
    method = forms.ChoiceField(label=_("Method"), choices=CriterionMethodChoices.choices)
    bands = BandsField(
        label=_("Bands"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "class": "font-monospace"}),
        help_text=_(
            '[{"min": a, "max": b, "points": p}, …]: min inclusive, max exclusive, null for open ends; the bands '
            "must cover every value without overlaps or gaps."
        ),
    )
    linear_from = forms.DecimalField(label=_("Value for no points"), required=False, max_digits=12, decimal_places=4)
    linear_to = forms.DecimalField(label=_("Value for full points"), required=False, max_digits=12, decimal_places=4)
    no_data_share = forms.DecimalField(
        label=_("Share of the weight without data"), min_value=0, max_value=1, max_digits=3, decimal_places=2
    )
    explanation_en = forms.CharField(
        label=_("Reason (English)"),
        max_length=200,
        help_text=_('Shown with the points, e.g. "paid {on_time} of the last {count} bills on time".'),
    )
    explanation_zh = forms.CharField(label=_("Reason (Chinese)"), max_length=200)
    position = forms.IntegerField(label=_("Position"), min_value=0, max_value=32767)


class GradePolicyForm(BootstrapFormMixin, forms.Form):
    grade = forms.CharField(label=_("Grade"), max_length=3)
    settlement_mode = forms.ChoiceField(
        label=_("Required settlement mode"),
        required=False,
        choices=[("", _("No requirement")), *CustomerSettlementModeChoices.choices],
        help_text=_("Customers in a less strict mode are proposed this one; important users a guarantee instead."),
    )
    guarantee_months = forms.DecimalField(
        label=_("Guarantee cover (months of average bill)"), min_value=0, max_value=99, max_digits=4, decimal_places=1
    )
    monitoring_days = forms.IntegerField(label=_("Review every (days)"), min_value=1, max_value=366)
    incentives = forms.CharField(label=_("Incentives"), max_length=300, required=False)
    dunning_policy = forms.ModelChoiceField(
        label=_("Dunning policy"),
        queryset=None,
        required=False,
        empty_label=_("The default ladder"),
        help_text=_(
            "The ladder the grade's customers get. Policies that apply to every grade are not offered: set their "
            "grades in the dunning policy admin first."
        ),
    )

    def __init__(self, *args, fixed_grade: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["dunning_policy"].queryset = dunning_policy_choices()
        if fixed_grade:
            self.fields["grade"].disabled = True
