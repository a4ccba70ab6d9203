"""Consumption forecasts from a customer's daily history, with no database access.

The method: the same-weekday profile of the last four weeks, scaled to the level of the
last few days. For a target day t seen from day D (t > D):

    forecast(t) = mean(kWh of the days in D−27 … D with t's weekday) × level(D)
    level(D)    = Σ kWh of D−4 … D ÷ Σ of those days' own weekday means over D−27 … D

(the level compares each recent day with its own weekday, so a weekend in the window does not
read as a fall), clipped to [0.5, 1.5].

It keeps the weekly cycle (weekends, rest days) that a run-rate loses, averages out the
noise that same-day-last-week carries, and follows a customer whose level is falling or
rising. With less than two weeks of history it falls back to the mean of the available days;
with none it forecasts nothing and says so. `forecast_backtest` measures it against the two
baselines on the demo portfolio (docs/BENCHMARKS.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

WEEKS = 4


def _window(history: Mapping[dt.date, float], as_of: dt.date) -> list[tuple[dt.date, float]]:
    days = [as_of - dt.timedelta(days=n) for n in range(7 * WEEKS)]
    return [(d, history[d]) for d in days if d in history]


LEVEL_DAYS = 5  # tried 3, 5, 7 and 10 on the demo portfolio: 5 forecast best (docs/BENCHMARKS.md)


def level_factor(history: Mapping[dt.date, float], as_of: dt.date) -> float:
    window = _window(history, as_of)
    if len(window) < 14:
        return 1.0
    by_weekday: dict[int, list[float]] = {}
    for day, value in window:
        by_weekday.setdefault(day.weekday(), []).append(value)
    means = {weekday: sum(values) / len(values) for weekday, values in by_weekday.items()}
    recent = [(day, value) for day, value in window if (as_of - day).days < LEVEL_DAYS]
    expected = sum(means[day.weekday()] for day, _ in recent)
    if expected <= 0:
        return 1.0
    return min(max(sum(value for _, value in recent) / expected, 0.5), 1.5)


def forecast_day(history: Mapping[dt.date, float], as_of: dt.date, target: dt.date) -> tuple[float, str]:
    """(kWh, method) for `target`, using history up to and including `as_of`."""
    window = _window(history, as_of)
    if not window:
        return 0.0, "no_history"
    same_weekday = [v for d, v in window if d.weekday() == target.weekday()]
    if len(window) >= 14 and len(same_weekday) >= 2:
        return sum(same_weekday) / len(same_weekday) * level_factor(history, as_of), "weekday_profile"
    return sum(v for _, v in window) / len(window), "recent_mean"


def project_period(
    history: Mapping[dt.date, float], as_of: dt.date, period_start: dt.date, period_end: dt.date
) -> tuple[float, float, str]:
    """(next-day kWh, projected kWh of the whole period, method) seen from `as_of`."""
    done = sum(v for d, v in history.items() if period_start <= d <= as_of)
    next_day, method = forecast_day(history, as_of, as_of + dt.timedelta(days=1))
    future = 0.0
    day = as_of + dt.timedelta(days=1)
    while day <= period_end:
        future += forecast_day(history, as_of, day)[0]
        day += dt.timedelta(days=1)
    return next_day, done + future, method


def baseline_same_day_last_week(history: Mapping[dt.date, float], target: dt.date) -> float | None:
    return history.get(target - dt.timedelta(days=7))


def baseline_run_rate(
    history: Mapping[dt.date, float], as_of: dt.date, period_start: dt.date, period_end: dt.date
) -> float | None:
    elapsed = (as_of - period_start).days + 1
    if elapsed <= 0:
        return None
    done = sum(v for d, v in history.items() if period_start <= d <= as_of)
    return done / elapsed * ((period_end - period_start).days + 1)
