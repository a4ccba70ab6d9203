"""The arithmetic of a two-part-tariff bill, with no database access, so each figure can be
checked by hand (tests/billing/test_calculation.py carries the worked cases).

Rounding: each line is quantity × price rounded half-up to the fen; the power-factor
adjustment is (basic + energy lines) × percent, rounded half-up to the fen; the power
factor itself is rounded half-up to two decimals, as the adjustment table is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, localcontext

from .choices import BillLineKindChoices as K

FEN = Decimal("0.01")
DEMAND_TOLERANCE = Decimal("1.05")  # demand above 105 % of the contract value is billed double
DEMAND_EXCESS_FACTOR = Decimal("2")


def money(value: Decimal) -> Decimal:
    return value.quantize(FEN, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class TariffPrices:
    basic_capacity_price: Decimal
    basic_demand_price: Decimal
    price_critical_peak: Decimal | None
    price_peak: Decimal | None
    price_flat: Decimal
    price_valley: Decimal | None
    funds_per_kwh: Decimal
    pf_standard: Decimal | None
    two_part: bool

    @property
    def time_of_use(self) -> bool:
        return self.price_peak is not None and self.price_valley is not None


@dataclass(frozen=True)
class Usage:
    """What the meters recorded in the period, already multiplied by CT×PT."""

    total_kwh: Decimal
    critical_peak_kwh: Decimal
    peak_kwh: Decimal
    flat_kwh: Decimal
    valley_kwh: Decimal
    reactive_kvarh: Decimal
    max_demand_kw: Decimal | None


@dataclass(frozen=True)
class Contract:
    basis: str  # "capacity" | "demand"
    capacity_kva: Decimal
    contract_demand_kw: Decimal | None


@dataclass
class Line:
    kind: str
    quantity: Decimal | None
    unit_price: Decimal | None
    amount: Decimal
    description: str = ""


@dataclass
class Computation:
    lines: list[Line] = field(default_factory=list)
    power_factor: Decimal | None = None
    pf_percent: Decimal | None = None

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0"))


def power_factor(active_kwh: Decimal, reactive_kvarh: Decimal) -> Decimal | None:
    """cos φ = P / √(P² + Q²), rounded half-up to 0.01; None when nothing was consumed."""
    if active_kwh <= 0:
        return None
    with localcontext() as ctx:
        ctx.prec = 28
        ratio = active_kwh / (active_kwh * active_kwh + reactive_kvarh * reactive_kvarh).sqrt()
    return ratio.quantize(FEN, rounding=ROUND_HALF_UP)


def billed_demand(max_demand_kw: Decimal, contract_demand_kw: Decimal) -> tuple[Decimal, Decimal]:
    """(demand billed at the normal price, demand billed at double).

    Up to 105 % of the contract demand the contract value is billed; above it, 105 % at the
    normal price and the excess at double."""
    ceiling = contract_demand_kw * DEMAND_TOLERANCE
    if max_demand_kw <= ceiling:
        return contract_demand_kw, Decimal("0")
    return ceiling, max_demand_kw - ceiling


def compute(
    *,
    tariff: TariffPrices,
    usage: Usage,
    contract: Contract,
    pf_table: dict[Decimal, Decimal],
    months: Decimal = Decimal("1"),
) -> Computation:
    result = Computation()
    lines = result.lines
    if tariff.two_part:
        if contract.basis == "demand":
            normal, excess = billed_demand(
                usage.max_demand_kw or Decimal("0"), contract.contract_demand_kw or Decimal("0")
            )
            lines.append(
                Line(
                    K.BASIC_DEMAND,
                    normal,
                    tariff.basic_demand_price,
                    money(normal * tariff.basic_demand_price * months),
                )
            )
            if excess > 0:
                price = tariff.basic_demand_price * DEMAND_EXCESS_FACTOR
                lines.append(Line(K.BASIC_DEMAND_EXCESS, excess, price, money(excess * price * months)))
        else:
            capacity = contract.capacity_kva
            lines.append(
                Line(
                    K.BASIC_CAPACITY,
                    capacity,
                    tariff.basic_capacity_price,
                    money(capacity * tariff.basic_capacity_price * months),
                )
            )
    if tariff.time_of_use:
        periods = [
            (K.ENERGY_CRITICAL_PEAK, usage.critical_peak_kwh, tariff.price_critical_peak or tariff.price_peak),
            (K.ENERGY_PEAK, usage.peak_kwh, tariff.price_peak),
            (K.ENERGY_FLAT, usage.flat_kwh, tariff.price_flat),
            (K.ENERGY_VALLEY, usage.valley_kwh, tariff.price_valley),
        ]
        for kind, kwh, price in periods:
            if kwh:
                lines.append(Line(kind, kwh, price, money(kwh * price)))
    else:
        lines.append(
            Line(K.ENERGY_FLAT, usage.total_kwh, tariff.price_flat, money(usage.total_kwh * tariff.price_flat))
        )

    # 力调电费: on basic and energy charges only; government funds are not adjusted.
    result.power_factor = power_factor(usage.total_kwh, usage.reactive_kvarh)
    if tariff.pf_standard is not None and result.power_factor is not None:
        percent = pf_table.get(min(result.power_factor, Decimal("1.00")))
        if percent is None:
            raise ValueError(f"no adjustment for power factor {result.power_factor} at standard {tariff.pf_standard}")
        result.pf_percent = percent
        if percent:
            base = sum((line.amount for line in lines), Decimal("0"))
            lines.append(
                Line(K.POWER_FACTOR, base, percent / 100, money(base * percent / 100), f"cos φ {result.power_factor}")
            )
    if tariff.funds_per_kwh:
        lines.append(
            Line(K.FUNDS, usage.total_kwh, tariff.funds_per_kwh, money(usage.total_kwh * tariff.funds_per_kwh))
        )
    return result
