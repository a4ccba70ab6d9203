"""Daily statistics pages: the customer's 90-day panel and the collector's "yesterday" page."""

import datetime as dt
from decimal import Decimal

from django.db.models import F, OuterRef, Subquery
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.selectors import customers_visible_to

from .choices import PrepaidStateChoices
from .models import ControlCommand, DailyUsage, Forecast, PrepaidAccount
from .services.prepaid import account_figures

CHART_DAYS = 90


def usage_panel(request, account_no: str):
    """Consumption, forecast and exposure over 90 days (chart with a table of the same figures)."""
    customer = get_object_or_404(customers_visible_to(request.user), account_no=account_no)
    since = timezone.localdate() - dt.timedelta(days=CHART_DAYS)
    usage = {r.day: r for r in DailyUsage.objects.filter(customer=customer, day__gt=since).order_by("day")}
    forecasts = {f.day: f for f in Forecast.objects.filter(customer=customer, day__gt=since).order_by("day")}
    days = sorted(set(usage) | set(forecasts))
    rows = []
    for day in days:
        u, f = usage.get(day), forecasts.get(day)
        previous = forecasts.get(day - dt.timedelta(days=1))  # what was forecast for this day the day before
        rows.append(
            {
                "day": day,
                "kwh": u.kwh if u else None,
                "estimated": bool(u and u.estimated),
                "forecast": previous.next_day_kwh if previous else None,
                "charge": u.charge if u else None,
                "exposure": f.exposure if f else None,
            }
        )

    def series(key):
        return [float(r[key]) if r[key] is not None else None for r in rows]

    chart = {
        "type": "line",
        "labels": [r["day"].isoformat() for r in rows],
        "datasets": [
            {"label": _("Consumption (kWh)"), "data": series("kwh"), "yAxisID": "y", "borderColor": "#0d6efd"},
            {
                "label": _("Forecast (kWh)"),
                "data": series("forecast"),
                "yAxisID": "y",
                "borderColor": "#6c757d",
                "borderDash": [4, 4],
            },
            {"label": _("Exposure (yuan)"), "data": series("exposure"), "yAxisID": "y1", "borderColor": "#dc3545"},
        ],
        "scales": {
            "y": {"position": "left", "title": {"display": True, "text": "kWh"}},
            "y1": {"position": "right", "title": {"display": True, "text": "¥"}, "grid": {"drawOnChartArea": False}},
        },
    }
    latest = forecasts[days[-1]] if days and days[-1] in forecasts else None
    context = {
        "customer": customer,
        "rows": rows[::-1],
        "chart": chart,
        "chart_id": f"usage-chart-{customer.account_no}",
        "latest": latest,
    }
    return render(request, "billing/partials/usage_panel.html", context)


def yesterday(request):
    """专人盯防 every morning: the user's customers yesterday — consumption against forecast,
    the biggest drops, the exposure ranking and prepaid customers near zero."""
    day = request.GET.get("date")
    try:
        day = dt.date.fromisoformat(day) if day else timezone.localdate() - dt.timedelta(days=1)
    except ValueError:
        day = timezone.localdate() - dt.timedelta(days=1)
    customers = customers_visible_to(request.user)
    forecast_for_day = Forecast.objects.filter(customer=OuterRef("customer"), day=day - dt.timedelta(days=1))
    exposure_today = Forecast.objects.filter(customer=OuterRef("customer"), day=day)
    rows = list(
        DailyUsage.objects.filter(customer__in=customers, day=day)
        .select_related("customer", "customer__region")
        .annotate(
            forecast=Subquery(forecast_for_day.values("next_day_kwh")[:1]),
            exposure=Subquery(exposure_today.values("exposure")[:1]),
            projected=Subquery(exposure_today.values("projected_month_charge")[:1]),
        )
    )
    for row in rows:
        row.deviation = (row.kwh - row.forecast) / row.forecast if row.forecast else None
    drops = sorted((r for r in rows if r.deviation is not None and r.deviation < 0), key=lambda r: r.deviation)[:15]
    exposure = sorted((r for r in rows if r.exposure is not None), key=lambda r: r.exposure, reverse=True)[:15]
    totals = {
        "customers": len(rows),
        "kwh": sum((r.kwh for r in rows), Decimal("0")),
        "forecast": sum((r.forecast or Decimal("0") for r in rows), Decimal("0")),
        "charge": sum((r.charge for r in rows), Decimal("0")),
        "estimated": sum(1 for r in rows if r.estimated),
    }
    context = {
        "day": day,
        "rows": sorted(rows, key=lambda r: r.customer.account_no),
        "drops": drops,
        "exposure": exposure,
        "totals": totals,
        "panels": _extra_yesterday_panels(request, day),
    }
    return render(request, "billing/yesterday.html", context)


def _extra_yesterday_panels(request, day):
    """Prepaid customers near zero, and control commands that still need someone."""
    accounts = list(
        PrepaidAccount.objects.filter(customer__in=customers_visible_to(request.user))
        .exclude(state=PrepaidStateChoices.NORMAL)
        .select_related("customer")
    )
    figures = account_figures(accounts, as_of=day)
    prepaid = sorted(
        ((a, figures[a.pk]) for a in accounts),
        key=lambda pair: (pair[1].days_left is None, pair[1].days_left or 0, pair[1].balance),
    )[:20]
    commands = (
        ControlCommand.objects.filter(
            customer__in=customers_visible_to(request.user),
            status__in=["awaiting_approval", "pending", "sending", "failed", "escalated"],
        )
        .select_related("customer")
        .order_by(F("created_at").desc())[:20]
    )
    return {"commands": commands, "prepaid": prepaid}
