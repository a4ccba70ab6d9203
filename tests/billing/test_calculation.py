"""Hand-computed bills. The arithmetic is written out in each test so a reader can check it.

Tariff used throughout (the seeded LI-10KV, 大工业 1–10 kV): basic charge ¥30/kVA·month or
¥40/kW·month; energy critical peak 1.2648, peak 1.054, flat 0.62, valley 0.248 ¥/kWh;
government funds 0.029875 ¥/kWh; power-factor standard 0.90.
"""

from decimal import Decimal as D

import pytest

from billing.calculation import Contract, TariffPrices, Usage, billed_demand, compute, power_factor
from billing.choices import BillLineKindChoices as K
from billing.models import PowerFactorAdjustment

pytestmark = pytest.mark.django_db

LI_10KV = TariffPrices(
    basic_capacity_price=D("30"),
    basic_demand_price=D("40"),
    price_critical_peak=D("1.2648"),
    price_peak=D("1.054"),
    price_flat=D("0.62"),
    price_valley=D("0.248"),
    funds_per_kwh=D("0.029875"),
    pf_standard=D("0.90"),
    two_part=True,
)


@pytest.fixture
def table_090():
    return dict(PowerFactorAdjustment.objects.filter(standard=D("0.90")).values_list("power_factor", "percent"))


def amounts(result):
    return {line.kind: line.amount for line in result.lines}


def test_a_capacity_basis_bill(table_090):
    usage = Usage(
        total_kwh=D("400000"),
        critical_peak_kwh=D("20000"),
        peak_kwh=D("100000"),
        flat_kwh=D("160000"),
        valley_kwh=D("120000"),
        reactive_kvarh=D("131000"),
        max_demand_kw=None,
    )
    result = compute(tariff=LI_10KV, usage=usage, contract=Contract("capacity", D("2000"), None), pf_table=table_090)
    # cos φ = 400000 / √(400000² + 131000²) = 400000 / 420905.0 = 0.9503 → 0.95 → −0.75 %
    assert result.power_factor == D("0.95")
    assert amounts(result) == {
        K.BASIC_CAPACITY: D("60000.00"),  # 2000 kVA × 30
        K.ENERGY_CRITICAL_PEAK: D("25296.00"),  # 20000 × 1.2648
        K.ENERGY_PEAK: D("105400.00"),  # 100000 × 1.054
        K.ENERGY_FLAT: D("99200.00"),  # 160000 × 0.62
        K.ENERGY_VALLEY: D("29760.00"),  # 120000 × 0.248
        K.POWER_FACTOR: D("-2397.42"),  # (60000 + 25296 + 105400 + 99200 + 29760) = 319656 × −0.75 % = −2397.42
        K.FUNDS: D("11950.00"),  # 400000 × 0.029875, not adjusted
    }
    assert result.total == D("329208.58")  # 319656 − 2397.42 + 11950


def test_a_demand_basis_bill_above_105_percent(table_090):
    usage = Usage(
        total_kwh=D("500000"),
        critical_peak_kwh=D("0"),
        peak_kwh=D("150000"),
        flat_kwh=D("200000"),
        valley_kwh=D("150000"),
        reactive_kvarh=D("242000"),
        max_demand_kw=D("1200"),
    )
    result = compute(tariff=LI_10KV, usage=usage, contract=Contract("demand", D("2000"), D("1000")), pf_table=table_090)
    # cos φ = 500000 / √(500000² + 242000²) = 500000 / 555485.4 = 0.9001 → 0.90 → no adjustment
    assert result.power_factor == D("0.90")
    assert amounts(result) == {
        K.BASIC_DEMAND: D("42000.00"),  # 105 % of 1000 kW = 1050 kW × 40
        K.BASIC_DEMAND_EXCESS: D("12000.00"),  # (1200 − 1050) = 150 kW × 80 (double)
        K.ENERGY_PEAK: D("158100.00"),  # 150000 × 1.054
        K.ENERGY_FLAT: D("124000.00"),  # 200000 × 0.62
        K.ENERGY_VALLEY: D("37200.00"),  # 150000 × 0.248
        K.FUNDS: D("14937.50"),  # 500000 × 0.029875
    }
    assert result.total == D("388237.50")


def test_demand_within_105_percent_is_billed_at_the_contract_value():
    assert billed_demand(D("1040"), D("1000")) == (D("1000"), D("0"))  # 1040 ≤ 1050
    assert billed_demand(D("600"), D("1000")) == (D("1000"), D("0"))  # never below the contract value
    assert billed_demand(D("1050"), D("1000")) == (D("1000"), D("0"))  # exactly 105 % is not above it


# Base for the power-factor cases: 1000 kVA × 30 = 30000 basic + 100000 kWh flat × 0.62 = 62000
# energy: 92000 adjusted. Funds 100000 × 0.029875 = 2987.50 stay out of the adjustment.
@pytest.mark.parametrize(
    ("reactive", "pf", "percent", "adjustment"),
    [
        ("32000", "0.95", "-0.75", "-690.00"),  # 100000/√(100000²+32000²) = 0.9524 → 0.95; 92000 × −0.75 %
        ("48400", "0.90", "0", None),  # 0.9001 → 0.90: at the standard, no line
        ("62000", "0.85", "2.5", "2300.00"),  # 0.8499 → 0.85: 5 steps × 0.5 % = 2.5 %; 92000 × 2.5 %
        ("96400", "0.72", "9.0", "8280.00"),  # 0.7200 → 0.72: 18 steps × 0.5 % = 9 %; 92000 × 9 %
        ("133333", "0.60", "25.0", "23000.00"),  # 0.6000: 20×0.5 + 5×1 + 5×2 = 25 %; 92000 × 25 %
    ],
)
def test_power_factor_adjustment(table_090, reactive, pf, percent, adjustment):
    usage = Usage(D("100000"), D("0"), D("0"), D("100000"), D("0"), D(reactive), None)
    result = compute(tariff=LI_10KV, usage=usage, contract=Contract("capacity", D("1000"), None), pf_table=table_090)
    assert result.power_factor == D(pf)
    assert result.pf_percent == D(percent)
    lines = amounts(result)
    assert lines.get(K.POWER_FACTOR) == (D(adjustment) if adjustment else None)
    assert lines[K.FUNDS] == D("2987.50")
    expected_total = D("92000") + (D(adjustment) if adjustment else 0) + D("2987.50")
    assert result.total == expected_total


def test_the_power_factor_is_rounded_half_up_to_two_places():
    assert power_factor(D("100"), D("0")) == D("1.00")
    assert power_factor(D("0"), D("10")) is None
    # 0.845 exactly rounds up: P/√(P²+Q²) with P=845, Q=√(1000²−845²)=534.766...
    assert power_factor(D("845"), D("534.7663")) == D("0.85")


def test_a_single_part_commercial_tariff_has_no_basic_charge():
    commercial = TariffPrices(D("0"), D("0"), None, None, D("0.65"), None, D("0.029875"), None, two_part=False)
    usage = Usage(D("10000"), D("0"), D("3000"), D("4000"), D("3000"), D("1000"), None)
    result = compute(tariff=commercial, usage=usage, contract=Contract("capacity", D("500"), None), pf_table={})
    # 10000 kWh × 0.65 = 6500.00; funds 10000 × 0.029875 = 298.75
    assert amounts(result) == {K.ENERGY_FLAT: D("6500.00"), K.FUNDS: D("298.75")}
