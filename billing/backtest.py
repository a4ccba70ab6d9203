"""Backtest of the consumption forecast against two baselines, on the stored readings.

Daily consumption is rebuilt from the readings (register deltas × multiplier), so the
backtest needs no stored statistics and uses only what was known on each day:

- next day: the weekday-profile forecast vs same-day-last-week, over every customer and
  every evaluation day;
- month: the projection made on days 7, 14 and 21 of each complete calendar month vs the
  run-rate (month-to-date ÷ days elapsed × days in the month).

MAPE = mean(|forecast − actual| ÷ actual) over the points with actual > 0.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from customers.models import MeterPoint

from .forecasting import baseline_run_rate, baseline_same_day_last_week, forecast_day, project_period
from .models import MeterReading

DOC_SECTION = 6  # its numbered section in docs/BENCHMARKS.md (bench/run.py keeps numbered sections)


@dataclass
class Score:
    errors: float = 0.0
    points: int = 0

    def add(self, forecast: float, actual: float) -> None:
        if actual > 0:
            self.errors += abs(forecast - actual) / actual
            self.points += 1

    @property
    def mape(self) -> float:
        return self.errors / self.points * 100 if self.points else float("nan")


@dataclass
class BacktestResult:
    customers: int
    first_day: dt.date
    last_day: dt.date
    next_day: Score
    next_day_baseline: Score
    month: Score
    month_baseline: Score


def daily_series() -> dict[int, dict[dt.date, float]]:
    """customer id → {day: kWh} for every day with readings on that day and the day before."""
    multipliers = dict(MeterPoint.objects.values_list("id", "multiplier"))
    customer_of = dict(MeterPoint.objects.values_list("id", "customer_id"))
    series: dict[int, dict[dt.date, float]] = defaultdict(lambda: defaultdict(float))
    previous: dict[int, tuple[dt.date, float]] = {}
    rows = MeterReading.objects.order_by("meter_id", "read_on").values_list("meter_id", "read_on", "total_kwh")
    for meter_id, day, total in rows.iterator(chunk_size=20000):
        value = float(total)
        last = previous.get(meter_id)
        if last and (day - last[0]).days == 1:
            series[customer_of[meter_id]][day] += (value - last[1]) * float(multipliers[meter_id])
        previous[meter_id] = (day, value)
    return {k: dict(v) for k, v in series.items()}


def backtest(*, evaluation_days: int = 56) -> BacktestResult:
    series = daily_series()
    last_day = max((max(s) for s in series.values() if s), default=dt.date.today())
    first_eval = last_day - dt.timedelta(days=evaluation_days)
    next_day, next_day_base, month, month_base = Score(), Score(), Score(), Score()
    for history in series.values():
        for offset in range(evaluation_days):
            as_of = first_eval + dt.timedelta(days=offset)
            target = as_of + dt.timedelta(days=1)
            if target not in history:
                continue
            known = {d: v for d, v in history.items() if d <= as_of}
            next_day.add(forecast_day(known, as_of, target)[0], history[target])
            base = baseline_same_day_last_week(known, target)
            if base is not None:
                next_day_base.add(base, history[target])
        months = sorted({(d.year, d.month) for d in history})
        for year, mon in months:
            start = dt.date(year, mon, 1)
            end = dt.date(year, mon, calendar.monthrange(year, mon)[1])
            if any(start + dt.timedelta(days=n) not in history for n in range((end - start).days + 1)):
                continue  # only complete months
            if start < min(history) + dt.timedelta(days=28):
                continue  # the method needs four weeks of history
            actual = sum(history[start + dt.timedelta(days=n)] for n in range((end - start).days + 1))
            for day_of_month in (7, 14, 21):
                as_of = start + dt.timedelta(days=day_of_month - 1)
                known = {d: v for d, v in history.items() if d <= as_of}
                month.add(project_period(known, as_of, start, end)[1], actual)
                month_base.add(baseline_run_rate(known, as_of, start, end), actual)
    return BacktestResult(len(series), first_eval, last_day, next_day, next_day_base, month, month_base)


def report(result: BacktestResult) -> str:
    def better(method: Score, base: Score) -> str:
        return f"{(base.mape - method.mape) / base.mape * 100:.0f}% lower" if base.mape else "n/a"

    return "\n".join(
        [
            f"## {DOC_SECTION}. Forecast backtest (`manage.py forecast_backtest`)",
            "",
            f"Demo portfolio: {result.customers} customers with readings; next-day points from "
            f"{result.first_day} to {result.last_day}; month projections made on days 7, 14 and 21 of every "
            "complete calendar month with four weeks of history before it. Daily consumption is rebuilt from the "
            "stored readings; each forecast uses only the days up to its date. Method: "
            "`billing/forecasting.py` (same-weekday profile of the last four weeks × the level of the last five "
            "days against their own weekdays). Data: `make demo` (300 customers, seed 42), SQLite.",
            "",
            "| forecast | method MAPE | baseline | baseline MAPE | points | method vs baseline |",
            "|---|---:|---|---:|---:|---|",
            f"| next day | {result.next_day.mape:.2f}% | same day last week | {result.next_day_baseline.mape:.2f}% | "
            f"{result.next_day.points} | {better(result.next_day, result.next_day_baseline)} |",
            f"| month | {result.month.mape:.2f}% | run-rate | {result.month_baseline.mape:.2f}% | "
            f"{result.month.points} | {better(result.month, result.month_baseline)} |",
            "",
            "The month projection wins only narrowly: by day 7 a quarter of the month is measured, and the "
            "rest of its error comes from what no history predicts (a customer's level moving mid-month); the "
            "run-rate's bias from the weekday mix is small against that. The level window was chosen on the "
            "demo data: 3, 5, 7 and 10 days gave next-day MAPE 6.36, 6.48, 6.77 and 7.26 % and month MAPE "
            "3.48, 3.46, 3.47 and 3.58 %; without the level factor the method lost to the run-rate on the "
            "month (5.13 %).",
            "",
        ]
    )
