"""The dashboard's filters, shared by the page, its exports and the API (STYLE.md: one FilterSet).

The dimensions are the archive's (`CustomerDimensionFilterSet`), under the same parameter names
as the customer and bill lists, so a figure's drill-down link simply carries them over."""

import datetime as dt

import django_filters
from django.utils.translation import gettext_lazy as _

from collection.models import CutoffOrder
from customers.filtersets import GRADE_NONE, CustomerDimensionFilterSet

from .models import ROLLUP_GRAINS, ArrearsSummary, SummaryDate

DIMENSION_FILTERS = ("region", "industry", "grade", "importance", "settlement_mode", "collector")


class ArrearsSummaryFilterSet(CustomerDimensionFilterSet):
    """Summary rows of one date (`as_of`, default the latest) and the chosen dimensions. The
    queryset it is given is already scoped (`dashboards.selectors.summary_visible_to`), and so
    is `rollup` when given (the summary summed by coarser grains): `rows()` sums the smallest grain
    that holds every dimension filtered, grouped by or scoped by (`scope_dimensions`: a
    collector's scope needs the collector), the summary itself when none does."""

    as_of = django_filters.DateFilter(
        method="filter_as_of", label=_("As of (a date with a summary; default the latest)")
    )

    class Meta:
        model = ArrearsSummary
        fields = ["as_of", *DIMENSION_FILTERS]

    def __init__(self, *args, rollup=None, scope_dimensions=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.rollup = rollup
        self.scope_dimensions = set(scope_dimensions)
        # A handful of dates (today and the month-ends of the trend), newest first, and when
        # each was last written: together they version every cached answer.
        built = list(SummaryDate.objects.order_by("-as_of").values_list("as_of", "built_at"))
        self.available_dates: list[dt.date] = [day for day, _ in built]
        # Every date with its time, not just the latest time: a month-end rebuilt by a job that
        # started before a refresh commits after it with an earlier time, and still counts.
        self.version: str = ";".join(f"{day}@{at.timestamp()}" for day, at in built)

    def is_valid(self) -> bool:
        valid = super().is_valid()
        day = self.form.cleaned_data.get("as_of") if valid else None
        if day and day not in self.available_dates:
            dates = ", ".join(d.isoformat() for d in self.available_dates[:14]) or "—"
            self.form.add_error(
                "as_of", _("No summary for %(day)s; available: %(dates)s.") % {"day": day, "dates": dates}
            )
            return False
        return valid

    @property
    def as_of_date(self) -> dt.date | None:
        chosen = self.form.cleaned_data.get("as_of") if self.is_valid() else None
        return chosen or (self.available_dates[0] if self.available_dates else None)

    def filter_as_of(self, queryset, name, value):
        return queryset  # the date is applied by `qs`, so `every_date_qs` can leave it out

    def filter_grade(self, queryset, name, value):
        # The summary keeps the grade in `grade` ("" for none), not the archive's `credit_grade`.
        return queryset.filter(grade__in=["" if grade == GRADE_NONE else grade for grade in value])

    @property
    def every_date_qs(self):
        """The chosen dimensions on every date (the 13-month trend)."""
        return super().qs

    @property
    def qs(self):
        day = self.as_of_date
        return self.every_date_qs.filter(as_of=day) if day else self.every_date_qs.none()

    def grain_rows(self, needs=()):
        """The scope's rows of the smallest grain holding `needs` (every date, no filter), or the
        summary's; the area is in every grain."""
        wanted = (set(needs) | self.scope_dimensions) - {"region"}
        grain = next((g for g in ROLLUP_GRAINS if wanted <= set(g)), None)
        if self.rollup is None or grain is None:
            return self.queryset
        return self.rollup.filter(grain=",".join(grain))

    def rows(self, *, by: str | None = None, needs=(), every_date: bool = False):
        """The rows to sum for the chosen date (or every date), filtered: of the smallest grain that
        holds the filtered dimensions, `by` (a breakdown's) and `needs`."""
        cleaned = self.form.cleaned_data
        filtered = {name for name in DIMENSION_FILTERS if cleaned.get(name) not in (None, "", [])}
        rows = self.filter_rows(self.grain_rows({*filtered, *needs, *([by] if by else [])}))
        if every_date:
            return rows
        day = self.as_of_date
        return rows.filter(as_of=day) if day else rows.none()

    def asked(self) -> str:
        """What a valid filterset asks, canonically: the date it resolves to and each dimension
        filter's cleaned values, sorted (the dashboards' cache key)."""
        cleaned = self.form.cleaned_data
        parts = [f"as_of={self.as_of_date}"]
        for name in DIMENSION_FILTERS:
            value = cleaned.get(name)
            if value in (None, "", []):
                continue
            values = value if isinstance(value, list | tuple) else [getattr(value, "pk", value)]
            parts.append(f"{name}={','.join(sorted(map(str, values)))}")
        return "&".join(parts)

    def dimensions(self) -> dict[str, list[str]]:
        """The dimension filters as given, for drill-down links (same names on every list)."""
        if self.data is None:
            return {}
        return {name: values for name in DIMENSION_FILTERS if (values := [v for v in self.data.getlist(name) if v])}

    def filter_rows(self, queryset):
        """Apply the dimension filters to another table with the summary's fields (the per-customer
        positions behind the top-debtor list)."""
        cleaned = self.form.cleaned_data
        for name in DIMENSION_FILTERS:
            value = cleaned.get(name)
            if value not in (None, "", []):
                queryset = self.filters[name].filter(queryset, value)
        return queryset


class CutoffDimensionFilterSet(CustomerDimensionFilterSet):
    """The same dimensions on cut-off orders (through their customer), for the dashboard's list."""

    customer_path = "customer__"

    class Meta:
        model = CutoffOrder
        fields = list(DIMENSION_FILTERS)
