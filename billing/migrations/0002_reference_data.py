"""Reference data: the national power-factor adjustment table, the statutory penalty rule and
three realistic tariffs. All of it is ordinary data afterwards: a province edits it in the admin."""

from datetime import date
from decimal import Decimal

from django.db import migrations

D = Decimal


def _table(standard: Decimal, reductions: list[tuple[str, str]]) -> dict[Decimal, Decimal]:
    """功率因数调整电费办法 (水利电力部、国家物价局, 1983), tables 1–3.

    Below the standard: +0.5 % per 0.01 for 20 steps (to +10 %), then +1 % per 0.01 for 5
    steps (to +15 %), then +2 % per 0.01 down to 0. Above it: the listed reductions, the last
    one holding up to 1.00 (the cap).
    """
    rows: dict[Decimal, Decimal] = {}
    cents = int(standard * 100)
    rows[standard] = D("0")
    percent = D("0")
    for step, pf_cents in enumerate(range(cents - 1, -1, -1), start=1):
        percent += D("0.5") if step <= 20 else D("1") if step <= 25 else D("2")
        rows[D(pf_cents) / 100] = percent
    last = D("0")
    listed = {D(pf): D(pct) for pf, pct in reductions}
    for pf_cents in range(cents + 1, 101):
        pf = D(pf_cents) / 100
        last = listed.get(pf, last)
        rows[pf] = -last
    return rows


TABLES = {
    D("0.90"): _table(D("0.90"), [("0.91", "0.15"), ("0.92", "0.30"), ("0.93", "0.45"), ("0.94", "0.60"), ("0.95", "0.75")]),
    D("0.85"): _table(
        D("0.85"),
        [("0.86", "0.1"), ("0.87", "0.2"), ("0.88", "0.3"), ("0.89", "0.4"), ("0.90", "0.5"), ("0.91", "0.65"),
         ("0.92", "0.80"), ("0.93", "0.95"), ("0.94", "1.10")],
    ),
    D("0.80"): _table(
        D("0.80"),
        [("0.81", "0.1"), ("0.82", "0.2"), ("0.83", "0.3"), ("0.84", "0.4"), ("0.85", "0.5"), ("0.86", "0.6"),
         ("0.87", "0.7"), ("0.88", "0.8"), ("0.89", "0.9"), ("0.90", "1.0"), ("0.91", "1.15"), ("0.92", "1.30")],
    ),
}

TARIFFS = [
    # 大工业用电 1–10 kV, time-of-use: peak 1.7×, valley 0.4×, critical peak 1.2× peak of the flat price.
    dict(code="LI-10KV", name="大工业用电 1-10千伏", category="large_industry", basic_capacity_price=D("30"),
         basic_demand_price=D("40"), price_critical_peak=D("1.264800"), price_peak=D("1.054000"),
         price_flat=D("0.620000"), price_valley=D("0.248000"), funds_per_kwh=D("0.029875"), pf_standard=D("0.90")),
    dict(code="LI-110KV", name="大工业用电 110千伏", category="large_industry", basic_capacity_price=D("28"),
         basic_demand_price=D("38"), price_critical_peak=D("1.203600"), price_peak=D("1.003000"),
         price_flat=D("0.590000"), price_valley=D("0.236000"), funds_per_kwh=D("0.029875"), pf_standard=D("0.90")),
    dict(code="GC-10KV", name="一般工商业用电 1-10千伏（单一制）", category="commercial", price_flat=D("0.650000"),
         funds_per_kwh=D("0.029875"), pf_standard=D("0.85")),
]


def load(apps, schema_editor):
    Adjustment = apps.get_model("billing", "PowerFactorAdjustment")
    Adjustment.objects.bulk_create(
        [Adjustment(standard=s, power_factor=pf, percent=pct) for s, rows in TABLES.items() for pf, pct in rows.items()]
    )
    apps.get_model("billing", "PenaltyRule").objects.create(
        valid_from=date(1996, 10, 8),
        current_year_rate=D("0.002"),
        cross_year_rate=D("0.003"),
        residential_rate=D("0.001"),
        minimum_amount=D("1.00"),
        source="电力供应与使用条例 第三十九条; 供电营业规则 第九十八条",
    )
    Tariff = apps.get_model("billing", "Tariff")
    for row in TARIFFS:
        Tariff.objects.create(valid_from=date(2025, 1, 1), **row)


def unload(apps, schema_editor):
    apps.get_model("billing", "PowerFactorAdjustment").objects.all().delete()
    apps.get_model("billing", "PenaltyRule").objects.all().delete()
    apps.get_model("billing", "Tariff").objects.filter(code__in=[t["code"] for t in TARIFFS]).delete()


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]
    operations = [migrations.RunPython(load, unload)]
