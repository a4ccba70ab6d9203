"""The arrears dashboard page, its refresh button and its exports.

The page reads the summary tables only (dashboards.selectors); every figure links to the
customer or bill list that makes it up, under the same filter names, so the rows of the list
add up to the figure. The lists are live while the summary is as of its last refresh (every
few minutes), which the page says."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.db import transaction
from django.http import Http404, QueryDict
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.text import capfirst
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.exports import FORMATS, Column, export_response, sheet_of, xlsx_response
from core.pagination import filter_data
from core.permissions import require
from core.roles import is_manager, user_role

from . import selectors as s
from .filtersets import ArrearsSummaryFilterSet, CutoffDimensionFilterSet
from .models import ArrearsSummary
from .summary import month_bounds, summary_refresh
from .tasks import summary_refresh_task

BREAKDOWNS = ("region", "industry", "grade", "collector", "settlement_mode")


def _filterset(request) -> ArrearsSummaryFilterSet:
    # Always bound (an empty query is valid: the latest date, no dimension chosen).
    return s.dashboard_filterset(filter_data(request.GET) or QueryDict(), request)


class Drill:
    """Links from a figure to the list that makes it up: the dashboard's dimension filters plus
    what selects the figure's rows (the same parameter names on the customer and bill lists)."""

    def __init__(self, filterset: ArrearsSummaryFilterSet, as_of: dt.date):
        self.base = filterset.dimensions()
        self.as_of = as_of
        self.first, self.last = month_bounds(as_of)
        self._paths: dict[str, str] = {}
        # A page has hundreds of links: the dashboard's own filters are encoded once.
        self._base_query = urlencode(self.base, doseq=True)

    def url(self, name: str, **params) -> str:
        extra = {}
        for key, value in params.items():
            if isinstance(value, list | tuple):
                extra[key] = [str(v) for v in value]
            elif value is not None:
                extra[key] = [str(value)]
        if (path := self._paths.get(name)) is None:
            path = self._paths[name] = reverse(name)
        if extra.keys() & self.base.keys():  # a link that replaces one of the filters (a group's own)
            query = urlencode({**self.base, **extra}, doseq=True)
        else:
            query = "&".join(part for part in (self._base_query, urlencode(extra, doseq=True)) if part)
        return f"{path}?{query}"

    def page(self, name: str, *args) -> str:
        """A dashboard page (the full breakdown, the dashboard itself) for the same filters and date."""
        query = {**self.base, "as_of": [self.as_of.isoformat()]}
        return f"{reverse(name, args=args)}?{urlencode(query, doseq=True)}"

    def customers(self, **extra) -> str:
        return self.url("customers:list", **extra)

    def in_arrears(self, **extra) -> str:
        return self.url("customers:list", in_arrears_on=self.as_of, **extra)

    def clear(self, **extra) -> str:
        return self.url("customers:list", clear_on=self.as_of, **extra)

    def arrears(self, bucket: s.Bucket | None = None, **extra) -> str:
        if bucket is not None:
            extra.update(overdue_days_min=bucket.days_min or None, overdue_days_max=bucket.days_max)
        return self.url("billing:bill_list", overdue_on=self.as_of, **extra)

    def due_month(self, **extra) -> str:
        return self.url("billing:bill_list", due_after=self.first, due_before=self.last, issued_before=self.as_of,
                        **extra)  # fmt: skip

    def due_ytd(self, **extra) -> str:
        return self.url("billing:bill_list", due_after=self.as_of.replace(month=1, day=1), due_before=self.last,
                        issued_before=self.as_of, **extra)  # fmt: skip

    def billed(self, month_end: dt.date, **extra) -> str:
        return self.url("billing:bill_list", issued_after=month_bounds(month_end)[0], issued_before=month_end, **extra)

    def arrears_on(self, day: dt.date, **extra) -> str:
        return self.url("billing:bill_list", overdue_on=day, **extra)

    def important(self) -> list[str]:
        """Important users within the chosen importance (none if only normal ones are chosen)."""
        chosen = self.base.get("importance")
        return [i for i in s.IMPORTANT if not chosen or i in chosen] or ["-"]

    def group(self, dimension: str, key: str) -> dict:
        """The links of one breakdown row."""
        dimension = s.GROUP_ALIASES.get(dimension, dimension)
        extra = {dimension: key}
        return {
            "customers": self.customers(**extra),
            "in_arrears": self.in_arrears(**extra),
            "clear": self.clear(**extra),
            "arrears": self.arrears(**extra),
            "aging": [self.arrears(bucket, **extra) for bucket in s.AGING],
            "due_month": self.due_month(**extra),
        }


def _money(value) -> float | None:
    return float(value) if value is not None else None


def _bar_chart(groups: list[dict], label: str, links: list[str]) -> dict:
    shown = groups[: s.CHART_GROUPS]
    return {
        "type": "bar",
        "indexAxis": "y",
        "labels": [g["label"] for g in shown],
        "datasets": [{"label": label, "data": [_money(g["arrears"]) for g in shown], "backgroundColor": "#dc3545"}],
        "links": links[: s.CHART_GROUPS],
    }


def _charts(totals: dict, trend: list[dict], drill: Drill) -> dict:
    return {
        "aging": {
            "type": "bar",
            "labels": [b["label"] for b in totals["aging"]],
            "datasets": [
                {
                    "label": _("Arrears (yuan)"),
                    "data": [_money(b["amount"]) for b in totals["aging"]],
                    "backgroundColor": ["#ffc107", "#fd7e14", "#dc3545", "#b02a37", "#6f1d28"],
                }
            ],
            "links": [drill.arrears(bucket) for bucket in s.AGING],
        },
        "trend": {
            "type": "bar",
            "labels": [row["month_end"].strftime("%Y-%m") for row in trend],
            "datasets": [
                {
                    "label": _("Billed (yuan)"),
                    "data": [_money(r["billed"]) for r in trend],
                    "backgroundColor": "#0d6efd",
                },
                {
                    "label": _("Received (yuan)"),
                    "data": [_money(r["received"]) for r in trend],
                    "backgroundColor": "#198754",
                },
                {
                    "label": _("Arrears at month-end (yuan)"),
                    "data": [_money(r["arrears"]) for r in trend],
                    "type": "line",
                    "borderColor": "#dc3545",
                    "backgroundColor": "#dc3545",
                },
            ],
            "links": [drill.arrears_on(r["month_end"]) for r in trend],
        },
    }


def breakdown_table(filterset: ArrearsSummaryFilterSet, dimension: str, drill: Drill, limit: int | None) -> dict:
    """One breakdown as the page shows it: the largest `limit` groups with their drill-down
    links, the rest summed into one row (so the table still adds up to the tiles), and how many
    groups there are (a province has hundreds of collectors: the full table is its own page)."""
    groups = s.breakdown(filterset, dimension, limit)
    shown = groups if limit is None else groups[:limit]
    for group in shown:
        group["links"] = drill.group(dimension, group["key"])
        group["aging_cells"] = [
            dict(bucket, link=link) for bucket, link in zip(group["aging"], group["links"]["aging"], strict=True)
        ]
    rest = groups[len(shown) :]
    table = {
        "dimension": dimension,
        "label": s.DIMENSION_LABELS[dimension],
        "groups": shown,
        "count": len(groups),
        "others": s.combined(rest) if rest else None,
        "others_count": len(rest),
        "chart_id": f"dashboard-chart-by_{dimension}",
        "all_url": drill.page("dashboards:breakdown", dimension),
    }
    table["chart"] = _bar_chart(shown, _("Arrears (yuan)"), [g["links"]["arrears"] for g in shown])
    return table


def dashboard_data(request, filterset: ArrearsSummaryFilterSet) -> dict:
    """Every figure of the page's body for a valid filterset with a summary: what one scope,
    query and language share (`dashboard_body` caches it), so nothing here depends on the user
    beyond their scope."""
    user = request.user
    as_of = filterset.as_of_date
    summary = filterset.rows()
    drill = Drill(filterset, as_of)
    totals = s.figures(summary)
    breakdowns = [breakdown_table(filterset, dimension, drill, s.BREAKDOWN_SHOWN) for dimension in BREAKDOWNS]
    trend = s.trend(filterset, as_of)
    for row in trend:
        row["links"] = {"billed": drill.billed(row["month_end"]), "arrears": drill.arrears_on(row["month_end"])}
    important = s.figures(filterset.rows(needs=("importance",)).filter(importance__in=s.IMPORTANT))
    # The two short lists come from today's per-customer positions: for another date they
    # would mix days, so they are left out there.
    positions_date = s.positions_date()
    current = positions_date == as_of
    positions = filterset.filter_rows(s.positions_visible_to(user)) if current else None
    return {
        "filterset": filterset,
        "as_of": as_of,
        "grades_offered": _grades_offered(filterset, as_of),
        "totals": totals,
        "aging": [dict(b, link=drill.arrears(bucket)) for b, bucket in zip(totals["aging"], s.AGING, strict=True)],
        "breakdowns": breakdowns,
        "trend": trend,
        "important": important,
        "current": current,
        "positions_date": positions_date,
        "top": s.top_debtors(positions) if current else [],
        "important_rows": s.important_in_arrears(positions) if current else [],
        "drill": {
            "arrears": drill.arrears(),
            "customers": drill.customers(),
            "in_arrears": drill.in_arrears(),
            "clear": drill.clear(),
            "due_month": drill.due_month(),
            "due_ytd": drill.due_ytd(),
            "billed": drill.billed(as_of),
            "important_in_arrears": drill.in_arrears(importance=drill.important()),
            "important_arrears": drill.arrears(importance=drill.important()),
        },
        "charts": _charts(totals, trend, drill),
    }


def _cutoff_link(filterset, *statuses) -> str:
    # The cut-off list filters by area and importance only (its own FilterSet).
    query = {
        "status": list(statuses),
        **{k: v for k, v in filterset.dimensions().items() if k in ("region", "importance")},
    }
    return f"{reverse('collection:cutoff_list')}?{urlencode(query, doseq=True)}"


def _grades_offered(filterset: ArrearsSummaryFilterSet, as_of) -> list[tuple[str, str]]:
    grades = s.grades_of(filterset, as_of)
    # Best first (AAA, AA, A, B, C): the letters alone sort AAA after A. Ungraded last.
    grades = sorted(grades, key=lambda g: (not g, g[:1], -len(g)))
    return [(grade or "none", grade or _("No grade")) for grade in grades]


def _cached_html(request, filterset: ArrearsSummaryFilterSet, kind: str, render_html) -> str:
    """HTML shared by every user of one scope asking the same thing in the same language, kept
    until the summary changes (the key carries its version) — so twenty managers opening the
    dashboard after a refresh cost one computation. Rendered without the request: no CSRF token,
    no user menu (those are in the page around it)."""
    key = s.cache_key(kind, request.user, filterset, get_language())
    if key and (html := cache.get(key)) is not None:
        return mark_safe(html)  # noqa: S308 -- our own rendered template, from our cache
    html = render_html()
    if key:
        cache.set(key, html, settings.DASHBOARD_CACHE_SECONDS)
    return mark_safe(html)  # noqa: S308 -- rendered by render_to_string, autoescaped


def _shell(request, filterset: ArrearsSummaryFilterSet, **context) -> dict:
    """What the page around the cached body shows: the summary's state, the export menu and,
    for managers, the refresh button (with its CSRF token)."""
    return dict(
        context,
        filterset=filterset,
        state=s.summary_state(),
        can_refresh=is_manager(request.user),
        query=request.GET.urlencode(),
        export_tables=EXPORT_TABLES,
        as_of=filterset.as_of_date,
    )


def _unanswerable(request, template: str, filterset: ArrearsSummaryFilterSet, context: dict):
    """The page when there is no summary yet, or the filters are wrong (400, named); else None."""
    if not filterset.available_dates:
        return render(request, template, context)
    if not filterset.is_valid():
        context["body"] = render_to_string(BODY, {"filterset": filterset, "as_of": context["as_of"]})
        return render(request, template, context, status=400)
    return None


BODY = "dashboards/partials/body.html"


def arrears_dashboard(request):
    """Managers see everything, area leaders their areas, collectors their own customers (the
    same scoping as every list, so the drill-down rows are the ones counted)."""
    require(user_role(request.user) is not None)
    filterset = _filterset(request)
    context = _shell(request, filterset)
    if (response := _unanswerable(request, "dashboards/arrears.html", filterset, context)) is not None:
        return response
    context["body"] = _cached_html(
        request, filterset, "page", lambda: render_to_string(BODY, dashboard_data(request, filterset))
    )
    context["body_ok"] = True
    context["cutoffs"] = s.cutoff_orders(request.user, CutoffDimensionFilterSet(filterset.data, request=request))
    context["cutoff_links"] = {
        "open": _cutoff_link(filterset, "proposed"),
        "executed": _cutoff_link(filterset, "executed", "restoring"),
    }
    return render(request, "dashboards/arrears.html", context)


def breakdown_page(request, dimension: str):
    """One breakdown in full (every collector of a province, say), with the page's filters."""
    if dimension not in BREAKDOWNS:
        raise Http404
    require(user_role(request.user) is not None)
    filterset = _filterset(request)
    context = _shell(request, filterset, dimension=dimension, dimension_label=s.DIMENSION_LABELS[dimension])
    if (response := _unanswerable(request, "dashboards/breakdown.html", filterset, context)) is not None:
        return response

    def render_table():
        drill = Drill(filterset, context["as_of"])
        b = breakdown_table(filterset, dimension, drill, None)
        return render_to_string(
            "dashboards/partials/breakdown.html",
            {"b": b, "aging": s.AGING, "full": True, "dashboard_url": drill.page("dashboards:arrears")},
        )

    context["body"] = _cached_html(request, filterset, f"breakdown-{dimension}", render_table)
    return render(request, "dashboards/breakdown.html", context)


@require_POST
def refresh(request):
    """Managers' "refresh now". During the day the refresh is incremental (the customers changed
    since the last one: seconds), so it runs here and the page shows the result; when the day
    has turned it would be a full rebuild of every customer, too long for a request, so it is
    queued for the batch worker instead."""
    require(is_manager(request.user))
    state = s.summary_state()
    if state is not None and state.as_of == timezone.localdate():
        count = summary_refresh()
        messages.success(request, _("Summary refreshed: %(count)d customers recomputed.") % {"count": count})
    else:
        transaction.on_commit(summary_refresh_task.delay)
        messages.info(request, _("A full rebuild of the summary was queued; reload the page in a few minutes."))
    # Back to the same view: the page's query string, re-encoded (it comes from a form field).
    query = QueryDict(request.POST.get("query", "")).urlencode()
    return redirect(f"{reverse('dashboards:arrears')}?{query}" if query else reverse("dashboards:arrears"))


# --- exports -------------------------------------------------------------------------------


def _measure(name: str):
    return capfirst(ArrearsSummary._meta.get_field(name).verbose_name)


def _group_columns(dimension: str) -> list[Column]:
    money = ["arrears", "principal_overdue", "penalty_overdue", *(b.measure for b in s.AGING)]
    month = ["due_month", "collected_month"]
    year = ["due_ytd", "collected_ytd"]
    rest = ["penalty_accrued_month", "penalty_collected_month", "billed_month", "received_month", "exposure_uncovered"]

    def get(name):
        return lambda row: row[name]

    return [
        Column(s.DIMENSION_LABELS[dimension], get("label")),
        Column(_measure("customers"), get("customers")),
        Column(_measure("overdue_customers"), get("overdue_customers")),
        *(Column(_measure(name), get(name)) for name in money),
        *(Column(_measure(name), get(name)) for name in month),
        Column(gettext_lazy("Recovery rate this month (%)"), get("recovery_rate_month")),
        *(Column(_measure(name), get(name)) for name in year),
        Column(gettext_lazy("Recovery rate this year (%)"), get("recovery_rate_ytd")),
        Column(gettext_lazy("Zero-out rate (%)"), get("zero_out_rate")),
        *(Column(_measure(name), get(name)) for name in rest),
    ]


AGING_COLUMNS = [
    Column(gettext_lazy("Days overdue"), lambda b: b["label"]),
    Column(gettext_lazy("From day"), lambda b: b["days_min"]),
    Column(gettext_lazy("To day"), lambda b: b["days_max"]),
    Column(gettext_lazy("Arrears"), lambda b: b["amount"]),
    Column(gettext_lazy("Share of arrears (%)"), lambda b: b["share"]),
]
TREND_COLUMNS = [
    Column(gettext_lazy("Month end"), lambda r: r["month_end"]),
    Column(gettext_lazy("Billed"), lambda r: r["billed"]),
    Column(gettext_lazy("Received"), lambda r: r["received"]),
    Column(gettext_lazy("Arrears at month-end"), lambda r: r["arrears"]),
]


def _person(user) -> str:
    return (user.get_full_name() or user.username) if user else ""


TOP_COLUMNS = [
    Column(gettext_lazy("Account number"), lambda p: p.customer.account_no),
    Column(gettext_lazy("Customer"), lambda p: p.customer.name),
    Column(gettext_lazy("Area"), lambda p: p.customer.region.name),
    Column(gettext_lazy("Credit grade"), lambda p: p.grade),
    Column(gettext_lazy("Importance"), lambda p: p.customer.get_importance_display()),
    Column(gettext_lazy("Collector"), lambda p: _person(p.customer.collector)),
    Column(gettext_lazy("Arrears"), lambda p: p.arrears),
    Column(gettext_lazy("Overdue principal"), lambda p: p.principal_overdue),
    Column(gettext_lazy("Unpaid penalty"), lambda p: p.penalty_overdue),
    Column(gettext_lazy("Last action"), lambda p: p.last_action["label"] if p.last_action else ""),
    Column(
        gettext_lazy("Last action on"), lambda p: timezone.localtime(p.last_action["at"]) if p.last_action else None
    ),
]

EXPORT_TABLES = {
    **{dimension: s.DIMENSION_LABELS[dimension] for dimension in BREAKDOWNS},
    "aging": gettext_lazy("Aging"),
    "trend": gettext_lazy("Trend"),
    "top": gettext_lazy("Top debtors"),
}


def _table(request, filterset: ArrearsSummaryFilterSet, table: str):
    """(columns, rows) of one exported table, every row of it (no "others")."""
    if table in BREAKDOWNS:
        return _group_columns(table), s.breakdown(filterset, table)
    if table == "aging":
        return AGING_COLUMNS, s.figures(filterset.rows())["aging"]
    if table == "trend":
        return TREND_COLUMNS, s.trend(filterset, filterset.as_of_date)
    current = s.positions_date() == filterset.as_of_date
    positions = filterset.filter_rows(s.positions_visible_to(request.user))
    return TOP_COLUMNS, s.top_debtors(positions) if current else []


def export(request, table: str, fmt: str):
    """One table as CSV or Excel, or every table as the sheets of one workbook (`all.xlsx`), with
    the page's filters and scope."""
    if fmt not in FORMATS or (table not in EXPORT_TABLES and not (table == "all" and fmt == "xlsx")):
        raise Http404
    require(user_role(request.user) is not None)
    filterset = _filterset(request)
    if not filterset.available_dates or not filterset.is_valid():
        raise Http404
    stem = f"arrears-{filterset.as_of_date.isoformat()}"
    if table == "all":
        sheets = [sheet_of(EXPORT_TABLES[name], *_table(request, filterset, name)) for name in EXPORT_TABLES]
        return xlsx_response(f"{stem}.xlsx", sheets)
    columns, rows = _table(request, filterset, table)
    return export_response(fmt, f"{stem}-{table}", columns, rows)
