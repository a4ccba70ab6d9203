"""Daily statistics, forecasts and exposure, with hand-computed figures."""

import datetime as dt
from decimal import Decimal as D

import pytest

from billing.forecasting import baseline_run_rate, forecast_day, project_period
from billing.models import CustomerTariff, DailyUsage, Forecast, Guarantee, MeterReading
from billing.services.daily import billing_period_of, daily_stats_compute, daily_stats_run
from billing.services.forecasts import forecasts_run
from tests.factories import CustomerFactory, MeterPointFactory, make_bill

pytestmark = pytest.mark.django_db


def reading(meter, day, total, peak, flat, valley, cp="0", reactive="0"):
    MeterReading.objects.create(
        meter=meter, read_on=day, total_kwh=D(total), critical_peak_kwh=D(cp), peak_kwh=D(peak), flat_kwh=D(flat),
        valley_kwh=D(valley), reactive_kvarh=D(reactive), max_demand_kw=D("1"),
    )  # fmt: skip


@pytest.fixture
def plant():
    customer = CustomerFactory(account_no="4100000001", contracted_capacity_kva=3100, reading_day=31)
    CustomerTariff.objects.create(customer=customer, tariff_code="LI-10KV", valid_from="2025-01-01")
    return customer, MeterPointFactory(customer=customer, meter_no="D-1", multiplier=D("10"))


def test_a_days_charge_with_the_basic_charge_pro_rata(plant):
    customer, meter = plant
    reading(meter, "2026-10-09", "1000", "300", "400", "300", cp="0")
    reading(meter, "2026-10-10", "1500", "460", "580", "440", cp="20")
    daily_stats_compute(first_day=dt.date(2026, 10, 10), last_day=dt.date(2026, 10, 10))
    row = DailyUsage.objects.get(customer=customer, day="2026-10-10")
    # Register deltas × 10: total 5000 kWh; critical peak 200; peak 1600; flat 1800; valley 1400.
    assert (row.kwh, row.critical_peak_kwh, row.peak_kwh, row.flat_kwh, row.valley_kwh) == (
        D("5000.000"), D("200.000"), D("1600.000"), D("1800.000"), D("1400.000"),
    )  # fmt: skip
    # Energy: 200 × 1.2648 + 1600 × 1.054 + 1800 × 0.62 + 1400 × 0.248
    #       = 252.96 + 1686.40 + 1116.00 + 347.20 = 3402.56
    assert row.energy_charge == D("3402.56")
    # Basic: 3100 kVA × 30 ÷ 31 days of the October period = 3000.00
    assert row.basic_charge == D("3000.00")
    # Funds: 5000 × 0.029875 = 149.375 → 149.38
    assert row.funds_charge == D("149.38")
    assert row.charge == D("6551.94")  # 3402.56 + 3000.00 + 149.38
    assert row.period == "2026-10" and not row.estimated


def test_a_missing_day_is_estimated_then_replaced_by_the_late_reading(plant):
    customer, meter = plant
    reading(meter, "2026-10-01", "1000", "300", "400", "300")
    reading(meter, "2026-10-03", "1200", "360", "480", "360")
    daily_stats_compute(first_day=dt.date(2026, 10, 2), last_day=dt.date(2026, 10, 3))
    estimated = DailyUsage.objects.get(customer=customer, day="2026-10-02")
    # No reading on 2 Oct: the 200-register growth over the 2-day gap is spread evenly,
    # 100 × 10 = 1000 kWh a day, marked estimated — never silently zero.
    assert (estimated.kwh, estimated.estimated) == (D("1000.000"), True)
    reading(meter, "2026-10-02", "1150", "345", "460", "345")  # the late reading arrives
    daily_stats_run(day=dt.date(2026, 10, 4))
    fixed = DailyUsage.objects.get(customer=customer, day="2026-10-02")
    third = DailyUsage.objects.get(customer=customer, day="2026-10-03")
    assert (fixed.kwh, fixed.estimated) == (D("1500.000"), False)  # (1150 − 1000) × 10
    assert third.kwh == D("500.000")  # (1200 − 1150) × 10
    assert third.mtd_kwh == D("2000.000")  # month to date: 1500 + 500 (1 Oct was not computed here)


def test_running_the_day_twice_changes_nothing(plant):
    customer, meter = plant
    reading(meter, "2026-10-09", "1000", "300", "400", "300")
    reading(meter, "2026-10-10", "1100", "330", "440", "330")
    daily_stats_run(day=dt.date(2026, 10, 10))
    first = list(DailyUsage.objects.values_list("day", "kwh", "charge", "mtd_kwh"))
    daily_stats_run(day=dt.date(2026, 10, 10))
    assert list(DailyUsage.objects.values_list("day", "kwh", "charge", "mtd_kwh")) == first
    assert DailyUsage.objects.count() == 1


def test_the_billing_period_of_a_day_follows_the_reading_day():
    assert billing_period_of(dt.date(2026, 10, 26), 25) == ("2026-11", dt.date(2026, 10, 26), dt.date(2026, 11, 25))
    assert billing_period_of(dt.date(2026, 10, 25), 25) == ("2026-10", dt.date(2026, 9, 26), dt.date(2026, 10, 25))
    assert billing_period_of(dt.date(2026, 10, 1), 31) == ("2026-10", dt.date(2026, 10, 1), dt.date(2026, 10, 31))


def _weekly_history(end: dt.date, weeks: int, weekday_kwh: float, weekend_kwh: float) -> dict:
    days = [end - dt.timedelta(days=n) for n in range(weeks * 7)]
    return {d: (weekend_kwh if d.weekday() >= 5 else weekday_kwh) for d in days}


def test_the_forecast_keeps_the_weekly_cycle():
    as_of = dt.date(2026, 10, 30)  # a Friday
    history = _weekly_history(as_of, 5, 1000.0, 400.0)
    saturday = as_of + dt.timedelta(days=1)
    # Every Saturday of the last four weeks was 400 and the level is flat (factor 1.0) → 400
    assert forecast_day(history, as_of, saturday) == (400.0, "weekday_profile")
    # Run-rate smears weekends into weekdays: the month of October (23 weekdays, 8 weekend days)
    next_day, projected, _ = project_period(history, as_of, dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    # Known: 1–30 Oct = 22 weekdays × 1000 + 8 weekend days × 400 = 25200; 31 Oct (Sat) 400 → 25600
    assert next_day == 400.0 and projected == 25600.0
    run_rate = baseline_run_rate(history, as_of, dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    assert round(run_rate, 2) == 26040.0  # 25200 ÷ 30 × 31


def test_the_forecast_follows_a_falling_level():
    as_of = dt.date(2026, 10, 30)
    history = _weekly_history(as_of, 4, 1000.0, 1000.0)
    for n in range(7):
        history[as_of - dt.timedelta(days=n)] = 600.0  # the last week fell 40 %
    value, _ = forecast_day(history, as_of, as_of + dt.timedelta(days=1))
    # weekday mean (1000 × 3 + 600) ÷ 4 = 900; level = 600 ÷ mean day ((21 × 1000 + 7 × 600) ÷ 28 = 900) = 0.667
    assert round(value, 1) == 600.0  # 900 × 0.667


def test_a_new_customer_forecasts_nothing_and_says_so():
    assert forecast_day({}, dt.date(2026, 10, 30), dt.date(2026, 10, 31)) == (0.0, "no_history")


def test_exposure_is_unbilled_plus_arrears_minus_cover(plant):
    customer, meter = plant
    reading(meter, "2026-10-09", "1000", "300", "400", "300")
    reading(meter, "2026-10-10", "1500", "460", "580", "440", cp="20")
    daily_stats_compute(first_day=dt.date(2026, 10, 10), last_day=dt.date(2026, 10, 10))
    make_bill(customer, "20000.00", "2026-10-05", number="ARR-1")  # unpaid
    Guarantee.objects.create(customer=customer, kind="bank_guarantee", amount=D("15000.00"), valid_from="2026-01-01",
                             valid_to="2026-12-31")  # fmt: skip
    Guarantee.objects.create(customer=customer, kind="deposit", amount=D("1000.00"), valid_from="2025-01-01",
                             valid_to="2026-06-30")  # expired: not cover  # fmt: skip
    forecasts_run(day=dt.date(2026, 10, 10))
    forecast = Forecast.objects.get(customer=customer, day="2026-10-10")
    # unbilled 6551.94 (the day's charge; no monthly bill yet) + arrears 20000.00 − cover 15000.00 = 11551.94
    assert (forecast.unbilled_charge, forecast.arrears, forecast.cover) == (D("6551.94"), D("20000.00"), D("15000.00"))
    assert forecast.exposure == D("11551.94")


def test_the_forecasts_api_is_scoped_and_filtered(api_as, collector, other_collector, portfolio):
    from io import StringIO

    from django.core.management import call_command

    customer = portfolio["a1"]
    CustomerTariff.objects.create(customer=customer, tariff_code="LI-10KV", valid_from="2025-01-01")
    meter = MeterPointFactory(customer=customer, meter_no="F-1", multiplier=D("1"))
    for n in range(10):
        day = dt.date(2026, 10, 1) + dt.timedelta(days=n)
        total = str(1000 + 100 * n)
        reading(meter, day, total, "0", total, "0")
    out = StringIO()
    call_command("daily_stats", "--date", "2026-10-10", "--since", "2026-10-02", stdout=out)
    assert "forecast" in out.getvalue()
    body = api_as(collector).get("/api/v1/forecasts/", {"customer": "3100000001", "date": "2026-10-10"}).json()
    row = body["results"][0]
    # 100 register kWh a day × multiplier 1; 2–10 Oct = 9 days = 900 kWh month to date
    assert (row["date"], row["day_kwh"], row["mtd_kwh"]) == ("2026-10-10", "100.000", "900.000")
    assert row["next_day_kwh"] == "100.000"
    # 900 so far + 21 days × 100 forecast = 3000 for October
    assert row["projected_month_kwh"] == "3000.000"
    assert api_as(other_collector).get("/api/v1/forecasts/", {"customer": "3100000001"}).json()["count"] == 0
    assert api_as(collector).get("/api/v1/forecasts/", {"date": "2026-13-01"}).status_code == 400


def test_the_yesterday_page_and_usage_panel(client, collector, other_collector, portfolio):
    customer = portfolio["a1"]
    CustomerTariff.objects.create(customer=customer, tariff_code="LI-10KV", valid_from="2025-01-01")
    meter = MeterPointFactory(customer=customer, meter_no="Y-1", multiplier=D("1"))
    for n in range(16):
        total = str(1000 + (100 if n < 15 else 40) * n)
        reading(meter, dt.date(2026, 10, 1) + dt.timedelta(days=n), total, "0", total, "0")
    daily_stats_compute(first_day=dt.date(2026, 10, 2), last_day=dt.date(2026, 10, 16))
    for n in range(2, 17):
        forecasts_run(day=dt.date(2026, 10, n))
    client.force_login(collector)
    html = client.get("/billing/yesterday/", {"date": "2026-10-16"}).content.decode()
    assert "Steel A1" in html and "Biggest drops against the forecast" in html
    panel = client.get(f"/billing/customers/{customer.account_no}/usage/").content.decode()
    assert "usage-chart-3100000001" in panel
    client.force_login(other_collector)
    assert "Steel A1" not in client.get("/billing/yesterday/", {"date": "2026-10-16"}).content.decode()
    assert client.get(f"/billing/customers/{customer.account_no}/usage/").status_code == 404


def test_the_yesterday_page_lists_prepaid_customers_near_zero(client, collector, portfolio):
    from billing.models import PrepaidAccount
    from billing.services.prepaid import prepaid_account_open

    customer = portfolio["a2"]
    customer.settlement_mode = "prepaid_remote"
    customer.save()
    account = prepaid_account_open(customer=customer, opened_on=dt.date(2026, 9, 1), opening_balance=D("250.00"))
    PrepaidAccount.objects.filter(pk=account.pk).update(state="warned_3")
    client.force_login(collector)
    html = client.get("/billing/yesterday/", {"date": "2026-10-16"}).content.decode()
    assert "Prepaid customers near zero" in html and "Hospital A2" in html and "¥250.00" in html
