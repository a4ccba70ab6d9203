import datetime as dt
import random
from decimal import Decimal as D
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from billing.backtest import backtest
from billing.models import MeterReading
from tests.factories import MeterPointFactory

pytestmark = pytest.mark.django_db


def test_the_forecast_beats_both_baselines_on_a_weekly_load(portfolio):
    rng = random.Random(7)
    meter = MeterPointFactory(customer=portfolio["a1"], meter_no="BT-1", multiplier=D("1"))
    register = D("1000")
    day = dt.date(2026, 6, 1)
    rows = []
    while day <= dt.date(2026, 10, 31):
        base = 1000 if day.weekday() < 5 else 300  # a plant resting at weekends
        register += D(str(round(base * rng.uniform(0.85, 1.15), 3)))
        rows.append(MeterReading(meter=meter, read_on=day, total_kwh=register, peak_kwh=0, flat_kwh=register,
                                 valley_kwh=0, reactive_kvarh=0, max_demand_kw=1))  # fmt: skip
        day += dt.timedelta(days=1)
    MeterReading.objects.bulk_create(rows)
    result = backtest(evaluation_days=56)
    assert result.next_day.points == 56 and result.month.points > 0
    assert result.next_day.mape < result.next_day_baseline.mape
    assert result.month.mape < result.month_baseline.mape


def test_the_command_needs_readings(db):
    with pytest.raises(CommandError, match="no readings"):
        call_command("forecast_backtest", stdout=StringIO())
