"""Demo billing history (演示账务) for `manage.py seed_demo`: readings, bills and payments.

Given customers from the archive, this writes N months of what billing would hold for them:

- a tariff for each monthly / instalment customer (prepaid customers get readings only: their
  prepaid accounts are built elsewhere);
- daily cumulative register readings for every meter in service, from a load shape per
  customer: load factor × contracted capacity, weekday/weekend by industry, summer and winter
  peaks, the Spring Festival and National Day holidays, a time-of-use split with critical peak
  only in the peak-season months, reactive energy for power factors mostly 0.88–0.96 and some at
  0.80–0.86, and the day's maximum demand;
- bills from the real billing runs (billing_run_start / billing_run_execute) for each complete
  month, issued on the 1st of the following month;
- payments through payment_record by a per-customer behaviour (prompt, late, sliding into
  trouble, deep arrears), some overpayments left as credit, a couple of bank returns
  (payment_reverse), and the late-payment penalties that follow. Instalment (分次结算)
  customers are billed and pay like monthly ones here: their instalment plans are not made.

Everything is replayed in date order, the way the days would have happened: a billing run on its
issue date, then each payment on its day (payment_record accrues the customer's penalties up to
that day before it allocates), so allocation and penalty rows are the ones the live system would
have written. The same seed and the same `today` give the same history: every draw comes from a
random.Random stream per customer, named after its account number.
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from django.db import connection, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from customers.choices import (
    CustomerIndustryChoices,
    CustomerOperatingStatusChoices,
    CustomerSettlementModeChoices,
)
from customers.models import READING_DAY_MONTH_END, Customer, MeterPoint

from .choices import BillStatusChoices, MeterReadingSourceChoices, PaymentChannelChoices, PaymentStatusChoices
from .models import (
    AdjustmentNote,
    Bill,
    BillLine,
    CustomerTariff,
    DailyUsage,
    MeterReading,
    Payment,
    PaymentAllocation,
    PaymentReversal,
    PenaltyAccrual,
    PenaltyWaiver,
    Tariff,
)
from .services.bills import BILLED_MODES, billing_run_execute, billing_run_start, period_bounds
from .services.daily import billing_period_of, daily_stats_compute
from .services.forecasts import forecasts_run
from .services.instalments import instalment_issue_due
from .services.payments import payment_record, payment_reverse
from .services.penalties import penalties_accrue
from .services.prepaid import PREPAID_MODES, prepaid_account_open, prepaid_run
from .services.readings import readings_ingest
from .services.statements import reconcile

IND = CustomerIndustryChoices
STATUS = CustomerOperatingStatusChoices
MODE = CustomerSettlementModeChoices

READINGS_PER_CALL = 50_000
YUAN = Decimal("1")
FEN = Decimal("0.01")
HUNDRED = Decimal("100")
THOUSAND = Decimal("1000")
ZERO = Decimal("0.00")

PROMPT, LATE, SLIDING, ARREARS = "prompt", "late", "sliding", "arrears"
ARCHETYPES = (PROMPT, LATE, SLIDING, ARREARS)

# Industries billed on the large-industry (two-part) tariff whatever their size; the others are
# general commercial at 10 kV unless they chose two-part billing (allowed from 315 kVA).
_INDUSTRIAL = {IND.STEEL, IND.CHEMICAL, IND.CEMENT, IND.NON_FERROUS, IND.MANUFACTURING, IND.RAILWAY, IND.WATER}
_CONTINUOUS = {IND.STEEL, IND.CHEMICAL, IND.NON_FERROUS, IND.DATA_CENTRE, IND.TELECOM, IND.WATER}

# Load factor (average load ÷ contracted kVA) per industry.
_LOAD_FACTOR = {
    IND.STEEL: (0.50, 0.70),
    IND.CHEMICAL: (0.50, 0.70),
    IND.NON_FERROUS: (0.55, 0.70),
    IND.CEMENT: (0.40, 0.60),
    IND.MANUFACTURING: (0.30, 0.50),
    IND.DATA_CENTRE: (0.45, 0.65),
    IND.TELECOM: (0.40, 0.55),
    IND.WATER: (0.40, 0.60),
    IND.RAILWAY: (0.25, 0.40),
    IND.HOSPITAL: (0.30, 0.45),
    IND.COMMERCIAL: (0.25, 0.40),
    IND.OTHER: (0.20, 0.35),
}
# Monday … Sunday. Process industries run 24/7; offices, schools and commerce dip at weekends.
_WEEK = {
    "continuous": (1, 1, 1, 1, 1, 0.98, 0.97),
    IND.CEMENT: (1, 1, 1, 1, 1, 0.97, 0.95),
    IND.MANUFACTURING: (1, 1.02, 1.02, 1.02, 1, 0.84, 0.66),
    IND.RAILWAY: (0.98, 0.96, 0.96, 0.98, 1.05, 1.06, 1.04),
    IND.HOSPITAL: (1.03, 1.02, 1.02, 1.02, 1, 0.9, 0.86),
    IND.COMMERCIAL: (0.98, 0.98, 0.98, 0.99, 1, 0.92, 0.9),
    IND.OTHER: (1.04, 1.04, 1.04, 1.04, 1, 0.6, 0.55),
}
# (summer, winter) amplitude: air conditioning makes commerce, hospitals and offices peak in July
# and August; cement plants stop kilns in winter (错峰生产).
_SEASON = {
    IND.STEEL: (0.03, 0.0),
    IND.CHEMICAL: (0.04, 0.0),
    IND.NON_FERROUS: (0.02, 0.0),
    IND.CEMENT: (-0.06, -0.25),
    IND.MANUFACTURING: (0.08, 0.03),
    IND.DATA_CENTRE: (0.12, -0.03),
    IND.TELECOM: (0.15, 0.0),
    IND.WATER: (0.15, 0.0),
    IND.RAILWAY: (0.10, 0.08),
    IND.HOSPITAL: (0.30, 0.12),
    IND.COMMERCIAL: (0.35, 0.12),
    IND.OTHER: (0.22, 0.15),
}
# Time-of-use shares (critical peak, peak, flat, valley); energy-intensive plants move load to the valley.
_TOU = {
    IND.STEEL: (0.04, 0.25, 0.33, 0.38),
    IND.CHEMICAL: (0.04, 0.27, 0.34, 0.35),
    IND.NON_FERROUS: (0.04, 0.26, 0.34, 0.36),
    IND.CEMENT: (0.03, 0.22, 0.35, 0.40),
    IND.MANUFACTURING: (0.05, 0.33, 0.37, 0.25),
    IND.DATA_CENTRE: (0.04, 0.28, 0.34, 0.34),
    IND.TELECOM: (0.04, 0.29, 0.35, 0.32),
    IND.WATER: (0.04, 0.27, 0.35, 0.34),
    IND.RAILWAY: (0.05, 0.32, 0.38, 0.25),
    IND.HOSPITAL: (0.06, 0.34, 0.36, 0.24),
    IND.COMMERCIAL: (0.07, 0.38, 0.38, 0.17),
    IND.OTHER: (0.07, 0.40, 0.38, 0.15),
}
_CRITICAL_PEAK_MONTHS = {1, 7, 8, 12}  # 尖峰 applies in the summer and winter peak months only
# Maximum demand ÷ average load.
_PEAK_RATIO = {
    IND.STEEL: (1.10, 1.25),
    IND.CHEMICAL: (1.08, 1.20),
    IND.NON_FERROUS: (1.05, 1.15),
    IND.CEMENT: (1.20, 1.40),
    IND.MANUFACTURING: (1.40, 1.80),
    IND.DATA_CENTRE: (1.08, 1.15),
    IND.TELECOM: (1.10, 1.20),
    IND.WATER: (1.20, 1.40),
    IND.RAILWAY: (2.00, 2.60),
    IND.HOSPITAL: (1.50, 1.80),
    IND.COMMERCIAL: (1.60, 2.00),
    IND.OTHER: (1.80, 2.30),
}
# 春节 (first day): factories and offices stop for about two weeks around it.
_SPRING_FESTIVAL = {
    2023: date(2023, 1, 22),
    2024: date(2024, 2, 10),
    2025: date(2025, 1, 29),
    2026: date(2026, 2, 17),
    2027: date(2027, 2, 6),
    2028: date(2028, 1, 26),
    2029: date(2029, 2, 13),
    2030: date(2030, 2, 3),
}
_HOLIDAY_DEPTH = {IND.MANUFACTURING: 0.35, IND.OTHER: 0.45, IND.CEMENT: 0.55, IND.COMMERCIAL: 0.85, IND.HOSPITAL: 0.9}
# The archive's low-voltage sub-meters have CT-only multipliers of 40–300; supply-voltage meters
# have CT×PT, at least 600 for the capacities the archive draws.
_LV_MULTIPLIER_MAX = Decimal("300")

_PAYMENT_CHANNELS = [
    PaymentChannelChoices.BANK_TRANSFER,
    PaymentChannelChoices.ONLINE_BANKING,
    PaymentChannelChoices.MOBILE,
    PaymentChannelChoices.SELF_SERVICE,
    PaymentChannelChoices.COUNTER,
]
# Bank returns (退票) with the reason a collections clerk would record.
_RETURN_REASONS = [
    "银行退票：付款账户余额不足（R01）",
    "银行退票：付款账户已冻结（R16）",
    "银行退票：收款信息与户号不符，原路退回",
]


class DemoHistoryError(Exception):
    """The generated history did not reconcile: a bug in the generator or in billing."""


@dataclass
class DemoHistoryResult:
    months: int = 0
    periods: list[str] = field(default_factory=list)
    customers: int = 0
    billable: int = 0
    tariffs_assigned: int = 0
    meters_read: int = 0
    readings: int = 0
    bills: int = 0
    bills_skipped: Counter = field(default_factory=Counter)
    payments: int = 0
    reversals: int = 0
    penalty_rows: int = 0
    paid_bills: int = 0
    overdue_bills: int = 0
    customers_in_arrears: int = 0
    customers_with_credit: int = 0
    archetypes: Counter = field(default_factory=Counter)
    archetype_of: dict[str, str] = field(default_factory=dict)  # account number → archetype
    seconds: dict[str, float] = field(default_factory=dict)
    # SQLite only: reconcile() lines that the exact re-check showed to be floating-point noise,
    # and penalty days accrued on a principal that was zero but for that noise.
    float_noise_problems: int = 0
    noise_penalty_days: int = 0


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------
def _stream(seed: int, name: str) -> random.Random:
    # A string seed is hashed with SHA-512: the same stream on every Python and machine.
    return random.Random(f"gridcollect-demo-history:{seed}:{name}")


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _periods(today: date, months: int) -> list[tuple[str, date]]:
    """The last `months` complete months before today's, oldest first, with their issue dates."""
    this_month = today.replace(day=1)
    out = []
    for back in range(months, 0, -1):
        first = _add_months(this_month, -back)
        out.append((f"{first.year}-{first.month:02d}", _add_months(first, 1)))
    return out


def _at(day: date, rng: random.Random, earliest: int = 8, latest: int = 17) -> datetime:
    moment = clock(rng.randint(earliest, latest - 1), rng.randint(0, 59), rng.randint(0, 59))
    return timezone.make_aware(datetime.combine(day, moment))


def _round_to(amount: Decimal, step: Decimal) -> Decimal:
    return (amount / step).quantize(YUAN, rounding=ROUND_HALF_UP) * step


def _round_up(amount: Decimal) -> Decimal:
    """The round sum a clerk transfers to be safe: the next 1,000 (or 10,000 above 100,000)."""
    step = Decimal("10000") if amount >= 100_000 else THOUSAND
    rounded = (amount / step).to_integral_value(rounding=ROUND_CEILING) * step
    return rounded if rounded > amount else rounded + step


# ---------------------------------------------------------------------------------------------
# Tariffs
# ---------------------------------------------------------------------------------------------
def _tariff_code(customer: Customer, rng: random.Random) -> str:
    voltage = customer.voltage_kv
    if voltage >= 110:
        return "LI-110KV"
    if customer.industry in _INDUSTRIAL or voltage > 10:
        return "LI-10KV"
    # Hospitals, commerce, data centres, offices at 10 kV: single-part unless they opted for two-part.
    two_part = {IND.DATA_CENTRE: 0.6, IND.TELECOM: 0.5, IND.HOSPITAL: 0.35, IND.COMMERCIAL: 0.3}.get(
        customer.industry, 0.2
    )
    return "LI-10KV" if rng.random() < two_part else "GC-10KV"


def _tariffs_assign(billable: list[Customer], seed: int, history_start: date) -> int:
    known = set(Tariff.objects.values_list("code", flat=True))
    assigned = set(CustomerTariff.objects.filter(customer__in=billable).values_list("customer_id", flat=True))
    rows = []
    for customer in billable:
        if customer.pk in assigned:
            continue
        code = _tariff_code(customer, _stream(seed, f"tariff:{customer.account_no}"))
        if code not in known:
            raise DemoHistoryError(f"tariff {code} is missing (billing migration 0002 loads it)")
        # In force since the account opened (years before the history for most; never after its
        # meters were installed, so before its first reading).
        valid_from = customer.opened_on or history_start - timedelta(days=1)
        rows.append(CustomerTariff(customer=customer, tariff_code=code, valid_from=valid_from))
    CustomerTariff.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


# ---------------------------------------------------------------------------------------------
# Behaviour (who pays how)
# ---------------------------------------------------------------------------------------------
def _archetype(customer: Customer, rng: random.Random) -> str:
    status = customer.operating_status
    if status == STATUS.BANKRUPT:
        return ARREARS
    if status == STATUS.SUSPENDED:
        return ARREARS if rng.random() < 0.6 else SLIDING
    if status == STATUS.REDUCED:
        return rng.choices([SLIDING, LATE, PROMPT], weights=[45, 35, 20])[0]
    if customer.government_funded:
        # Public bodies wait for the budget allocation (财政拨款): late, but they pay.
        return rng.choices([LATE, PROMPT], weights=[55, 45])[0]
    if customer.is_important:
        return rng.choices([PROMPT, LATE], weights=[75, 25])[0]
    return rng.choices([PROMPT, LATE, SLIDING, ARREARS], weights=[62, 26, 7, 5])[0]


@dataclass
class _Behaviour:
    archetype: str
    trouble_from: int  # bill index from which a sliding customer pays part, late
    unpaid_from: int  # bill index from which nothing (or only token sums) is paid
    overpayer: bool
    channel: str


def _behaviours(billable: list[Customer], seed: int, months: int) -> dict[int, _Behaviour]:
    out: dict[int, _Behaviour] = {}
    for customer in billable:
        rng = _stream(seed, f"behaviour:{customer.account_no}")
        out[customer.pk] = _behaviour(customer, _archetype(customer, rng), rng, months)
    # A small portfolio still shows every behaviour: the rarest ones are given to prompt payers
    # (chosen by a stream of their own, so the others' draws do not move).
    pick = _stream(seed, "behaviour-cover")
    prompt = [c for c in billable if out[c.pk].archetype == PROMPT and not c.is_important]
    pick.shuffle(prompt)
    present = Counter(b.archetype for b in out.values())
    for archetype in (ARREARS, SLIDING, LATE):
        if not present[archetype] and len(prompt) > 1:
            customer = prompt.pop()
            out[customer.pk] = _behaviour(customer, archetype, _stream(seed, f"cover:{customer.account_no}"), months)
    if prompt and not any(b.overpayer for b in out.values()):
        out[prompt[0].pk].overpayer = True
    return out


def _behaviour(customer: Customer, archetype: str, rng: random.Random, months: int) -> _Behaviour:
    trouble_from = unpaid_from = months
    if archetype == SLIDING:
        unpaid_from = max(0, months - rng.randint(2, 3))
        trouble_from = max(0, unpaid_from - rng.randint(1, 3))
    elif archetype == ARREARS:
        unpaid_from = max(0, months - rng.randint(4, 8))
        trouble_from = unpaid_from
    usual = customer.usual_payment_channel
    channel = usual if usual in _PAYMENT_CHANNELS else PaymentChannelChoices.BANK_TRANSFER
    return _Behaviour(
        archetype=archetype,
        trouble_from=trouble_from,
        unpaid_from=unpaid_from,
        overpayer=archetype == PROMPT and rng.random() < 0.1,
        channel=channel,
    )


# ---------------------------------------------------------------------------------------------
# Load shapes and readings
# ---------------------------------------------------------------------------------------------
@dataclass
class _Profile:
    daily_kwh: float
    week: tuple
    summer: float
    winter: float
    holiday_depth: float
    tou: tuple
    power_factor: float
    peak_ratio: float
    noise: float
    demand_cap_kw: float | None  # a demand-billed customer keeps its peak near the contract value
    capacity_kw: float
    # (from, to, level): consumption moves linearly from 1 at `from` to `level` at `to`, then stays.
    trend: tuple[date, date, float] | None


def _profile(customer: Customer, rng: random.Random, behaviour: _Behaviour | None, trouble: date, end: date):
    """The customer's load shape. `trouble` is the first day of the first month it stops paying
    in full; `end` is the last day of the last billed month."""
    industry = customer.industry
    capacity = float(customer.contracted_capacity_kva)
    load_factor = rng.uniform(*_LOAD_FACTOR[industry])
    level = 1.0
    if customer.operating_status == STATUS.REDUCED:
        level = rng.uniform(0.55, 0.8)
    jitter = [share * rng.uniform(0.85, 1.15) for share in _TOU[industry]]
    low_pf = rng.random() < (0.4 if customer.equipment_condition == "poor" else 0.12)
    summer, winter = _SEASON[industry]
    trend = None
    status = customer.operating_status
    archetype = behaviour.archetype if behaviour else None
    if status in (STATUS.BANKRUPT, STATUS.SUSPENDED):
        # Production stopped: what is left is lighting, pumps and the guard house.
        stop = trouble if archetype in (ARREARS, SLIDING) else end - timedelta(days=rng.randint(90, 270))
        trend = (stop - timedelta(days=rng.randint(10, 30)), stop, rng.uniform(0.03, 0.1))
    elif archetype == SLIDING:
        # The earliest warning sign (DESIGN.md rule 9): orders fall away over the last 2–3 billed
        # months, to between a third and a half of the usual load.
        trend = (end - timedelta(days=rng.randint(60, 90)), end, rng.uniform(0.3, 0.55))
    elif archetype == ARREARS:
        trend = (trouble - timedelta(days=rng.randint(20, 60)), trouble, rng.uniform(0.5, 0.8))
    demand_cap = None
    if customer.basic_charge_basis == "demand" and customer.contract_demand_kw:
        # Most stay under 105 % of the contract demand; one in eight runs over it now and then.
        over = 1.12 if rng.random() < 0.125 else 1.0
        demand_cap = float(customer.contract_demand_kw) * rng.uniform(0.9, 1.0) * over
    return _Profile(
        daily_kwh=capacity * load_factor * 24 * level,
        week=_WEEK["continuous"] if industry in _CONTINUOUS else _WEEK[industry],
        summer=summer * rng.uniform(0.7, 1.3),
        winter=winter * rng.uniform(0.7, 1.3),
        holiday_depth=_HOLIDAY_DEPTH.get(industry, 1.0),
        tou=tuple(share / sum(jitter) for share in jitter),
        power_factor=rng.uniform(0.80, 0.86) if low_pf else rng.uniform(0.88, 0.96),
        peak_ratio=rng.uniform(*_PEAK_RATIO[industry]),
        noise=rng.uniform(0.03, 0.08),
        demand_cap_kw=demand_cap,
        capacity_kw=capacity * 0.95,
        trend=trend,
    )


def _bump(day_of_year: int, centre: int, width: float) -> float:
    distance = abs(day_of_year - centre)
    distance = min(distance, 365 - distance)
    return math.exp(-((distance / width) ** 2))


def _holiday(day: date, depth: float) -> float:
    if depth >= 1:
        return 1.0
    for year in (day.year, day.year + 1):
        first = _SPRING_FESTIVAL.get(year)
        if first and -5 <= (day - first).days <= 9:
            return depth
    if day.month == 10 and day.day <= 7:  # 国庆 Golden Week
        return (1 + depth) / 2
    return 1.0


def _trend(day: date, trend: tuple[date, date, float] | None) -> float:
    if trend is None:
        return 1.0
    start, stop, level = trend
    if day <= start:
        return 1.0
    if day >= stop:
        return level
    return 1 + (level - 1) * (day - start).days / max(1, (stop - start).days)


def _meter_shares(meters: list[MeterPoint], profile: _Profile, rng: random.Random) -> list[float]:
    """The part of the customer's load each meter carries. A low-voltage sub-meter (CT only)
    carries at most what its CT is rated for; the supply-voltage meters share the rest."""
    weights = [1.0 if i == 0 else rng.uniform(0.3, 1.0) for i in range(len(meters))]
    shares = [w / sum(weights) for w in weights]
    average_kw = profile.daily_kwh / 24
    spare = 0.0
    for i, meter in enumerate(meters):
        if i and meter.multiplier <= _LV_MULTIPLIER_MAX:
            rated_kw = math.sqrt(3) * 0.4 * float(meter.multiplier) * 5 * 0.9  # 0.4 kV, n/5 A CT
            limit = 0.5 * rated_kw / average_kw if average_kw else 0
            if shares[i] > limit:
                spare += shares[i] - limit
                shares[i] = limit
    hv = [i for i, meter in enumerate(meters) if i == 0 or meter.multiplier > _LV_MULTIPLIER_MAX]
    for i in hv:
        shares[i] += spare / len(hv)
    return shares


def _customer_days(profile: _Profile, start: date, end: date, rng: random.Random) -> list[tuple]:
    """Per day: (date, total kWh, (cp, peak, flat, valley) shares, power factor, max demand kW)."""
    days = []
    day = start
    while day <= end:
        weekday = day.weekday()
        factor = (
            profile.week[weekday]
            * (
                1
                + profile.summer * _bump(day.timetuple().tm_yday, 205, 38)
                + profile.winter * _bump(day.timetuple().tm_yday, 15, 35)
            )
            * _holiday(day, profile.holiday_depth)
            * _trend(day, profile.trend)
            * rng.lognormvariate(0, profile.noise)
        )
        kwh = profile.daily_kwh * factor
        cp, peak, flat, valley = (share * rng.uniform(0.95, 1.05) for share in profile.tou)
        if weekday >= 5 and profile.week[weekday] < 0.95:
            peak, valley = peak * 0.85, valley * 1.15  # the shifts that stop are day shifts
        if day.month not in _CRITICAL_PEAK_MONTHS:
            peak, cp = peak + cp, 0.0
        total_share = cp + peak + flat + valley
        shares = (cp / total_share, peak / total_share, flat / total_share, valley / total_share)
        power_factor = min(0.995, max(0.5, profile.power_factor + rng.gauss(0, 0.006)))
        average_kw = kwh / 24
        demand = average_kw * profile.peak_ratio * rng.uniform(0.97, 1.04)
        if profile.demand_cap_kw is not None:
            demand = min(demand, profile.demand_cap_kw * rng.uniform(0.93, 1.02))
        demand = max(average_kw * 1.03, min(demand, profile.capacity_kw))
        days.append((day, kwh, shares, power_factor, demand))
        day += timedelta(days=1)
    return days


def _meter_rows(meter: MeterPoint, share: float, days: list[tuple], rng: random.Random) -> Iterator[tuple]:
    """Cumulative registers in thousandths of a register unit, so rounding never drifts and the
    total register is exactly the sum of the period registers on every day."""
    multiplier = float(meter.multiplier)
    daily_units = sum(d[1] for d in days[:30]) / max(1, min(30, len(days))) * share / multiplier
    # The registers were not new when the history starts: one to five years of running.
    start_units = daily_units * rng.uniform(365, 5 * 365)
    cumulative = [start_units * share_ for share_ in (0.03, 0.30, 0.35, 0.32)]
    reactive = start_units * rng.uniform(0.35, 0.6)
    for day, kwh, shares, power_factor, demand in days:
        units = kwh * share / multiplier
        for i in range(4):
            cumulative[i] += units * shares[i]
        reactive += units * math.tan(math.acos(power_factor))
        parts = [round(value * 1000) for value in cumulative]
        source = MeterReadingSourceChoices.AMI
        if rng.random() < 0.004:
            source = MeterReadingSourceChoices.MANUAL  # the concentrator was down: read on site
        yield (day, sum(parts), *parts, round(reactive * 1000), round(demand * share / multiplier * 1000), source)


def _milli(value: int) -> Decimal:
    return Decimal(value).scaleb(-3)


def _milli_text(value: int) -> str:
    return f"{value // 1000}.{value % 1000:03d}"


_REGISTER_COLUMNS = (
    "total_kwh",
    "critical_peak_kwh",
    "peak_kwh",
    "flat_kwh",
    "valley_kwh",
    "reactive_kvarh",
    "max_demand_kw",
)


def _readings_load(batches: Iterable[tuple[MeterPoint, Iterator[tuple]]], today: date) -> int:
    created = 0
    if connection.vendor == "postgresql":
        # The ingestion service: COPY into a staging table, then set-based checks and one INSERT.
        chunk: list[dict] = []
        for meter, rows in batches:
            for day, *registers, source in rows:
                row = dict(zip(_REGISTER_COLUMNS, map(_milli, registers), strict=True))
                chunk.append({"meter": meter.meter_no, "read_on": day, "source": source, **row})
                if len(chunk) >= READINGS_PER_CALL:
                    created += readings_ingest(rows=chunk, today=today).created
                    chunk = []
        if chunk:
            created += readings_ingest(rows=chunk, today=today).created
        return created
    # SQLite (the embedded `make run` default): the ingestion service's Python path checks every
    # row against its neighbours, and even bulk_create spends most of its time preparing model
    # instances, for rows that are valid by construction (new meters, dates up to yesterday,
    # registers that only grow). So they are inserted directly, the values written as Django
    # writes a DecimalField on SQLite; the PostgreSQL path above goes through the service.
    columns = ("meter_id", "read_on", *_REGISTER_COLUMNS, "source", "received_at")
    table = connection.ops.quote_name(MeterReading._meta.db_table)
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
    received_at = connection.ops.adapt_datetimefield_value(timezone.now())
    batch: list[tuple] = []
    with connection.cursor() as cursor:
        for meter, rows in batches:
            for day, *registers, source in rows:
                batch.append((meter.pk, day.isoformat(), *(_milli_text(v) for v in registers), source, received_at))
            if len(batch) >= READINGS_PER_CALL:
                cursor.executemany(sql, batch)
                created += len(batch)
                batch = []
        cursor.executemany(sql, batch)
    return created + len(batch)


# ---------------------------------------------------------------------------------------------
# Events: billing runs and payments, replayed in date order
# ---------------------------------------------------------------------------------------------
RUN, PAY, REVERSE = 0, 1, 2


@dataclass
class _Event:
    day: date
    kind: int
    account: str = ""
    customer: Customer | None = None
    bill_index: int = 0
    how: str = "full"  # full | overpay | partial | token
    fraction: float = 1.0
    at: datetime | None = None
    channel: str = ""
    ref: str = ""
    reverses: str = ""  # the ref of the payment a REVERSE event returns
    reason: str = ""

    def key(self) -> tuple:
        return (self.day, self.kind, self.account, self.ref)


def _payment_events(
    customer: Customer,
    behaviour: _Behaviour,
    periods: list[tuple[str, date]],
    yesterday: date,
    rng: random.Random,
) -> list[_Event]:
    events: list[_Event] = []
    count = 0
    terms = customer.payment_terms_days

    def pay(day: date, index: int, how: str = "full", fraction: float = 1.0) -> _Event | None:
        nonlocal count
        # Numbered and drawn even when not yet received, so a later `today` does not change them.
        count += 1
        channel = behaviour.channel if rng.random() < 0.8 else rng.choice(_PAYMENT_CHANNELS)
        at = _at(day, rng, 8, 22 if channel == PaymentChannelChoices.MOBILE else 17)
        if day > yesterday:
            return None
        event = _Event(
            day=day,
            kind=PAY,
            account=customer.account_no,
            customer=customer,
            bill_index=index,
            how=how,
            fraction=fraction,
            at=at,
            channel=channel,
            ref=f"DEMO-{customer.account_no}-{count}",
        )
        events.append(event)
        return event

    for index, (_period, issued) in enumerate(periods):
        due = issued + timedelta(days=terms)
        archetype = behaviour.archetype
        if index >= behaviour.unpaid_from:
            if archetype == ARREARS and rng.random() < 0.3:
                # A token sum after a collector's visit.
                day = due + timedelta(days=rng.randint(10, 60))
                pay(day, index, "token", rng.uniform(0.1, 0.3))
            continue
        if index >= behaviour.trouble_from:
            pay(due + timedelta(days=rng.randint(10, 30)), index, "partial", rng.uniform(0.4, 0.8))
            continue
        late = archetype in (LATE, ARREARS) and rng.random() < 0.75
        if archetype == SLIDING and rng.random() < 0.15:
            late = True
        if late:
            day = due + timedelta(days=rng.randint(5, 40))
        else:
            day = max(issued + timedelta(days=1), due - timedelta(days=rng.randint(1, 10)))
        how = "overpay" if behaviour.overpayer and (index == len(periods) - 1 or rng.random() < 0.3) else "full"
        if behaviour.overpayer and index == len(periods) - 1:
            day = min(day, max(issued + timedelta(days=1), yesterday))  # the last credit is still on the account
        pay(day, index, how)
    return events


def _reversal_events(
    events_by_customer: dict[int, list[_Event]],
    behaviours: dict[int, _Behaviour],
    seed: int,
    yesterday: date,
) -> list[_Event]:
    """A couple of bank returns: one for every hundred paying customers, at least one. A prompt
    or late payer pays again a few days later; a sliding customer's return is a first sign."""
    rng = _stream(seed, "reversals")
    candidates = []
    for customer_id, events in sorted(events_by_customer.items()):
        behaviour = behaviours[customer_id]
        for event in events:
            # A return comes back within a week: only payments at least that old can have one.
            recent = event.day > yesterday - timedelta(days=7)
            if event.kind == PAY and event.how == "full" and event.bill_index < behaviour.trouble_from and not recent:
                candidates.append((behaviour, event))
    if not candidates:
        return []
    wanted = max(1, round(len(events_by_customer) / 100))
    extra: list[_Event] = []
    for behaviour, event in rng.sample(candidates, min(wanted, len(candidates))):
        day = event.day + timedelta(days=rng.randint(2, 6))
        if day > yesterday:
            continue
        extra.append(
            _Event(
                day=day,
                kind=REVERSE,
                account=event.account,
                customer=event.customer,
                reverses=event.ref,
                reason=rng.choice(_RETURN_REASONS),
                ref=f"{event.ref}-R",
            )
        )
        again = day + timedelta(days=rng.randint(3, 10))
        if behaviour.archetype != SLIDING and again <= yesterday:
            extra.append(
                _Event(
                    day=again,
                    kind=PAY,
                    account=event.account,
                    customer=event.customer,
                    bill_index=event.bill_index,
                    at=_at(again, rng),
                    channel=PaymentChannelChoices.COUNTER,  # paid at the counter after the return
                    ref=f"{event.ref}-2",
                )
            )
    return extra


class _Ledger:
    """Replays the events against the billing services and keeps what it needs to find bills.

    Penalties are accrued for all the customers' bills day by day before the day's events, as
    the nightly job would have done: day D's penalty is on the principal unpaid at the start of
    D, so it never depends on what happens on D. payment_record then finds nothing left to
    accrue, and one pass per day replaces a pass per payment over the days since it was due.
    """

    def __init__(self, periods: list[tuple[str, date]], customers: list[Customer], behaviours: dict[int, _Behaviour]):
        self.periods = periods
        self.customer_ids = [c.pk for c in customers]
        # A bill marked paid has nothing left on it (the services keep the status in step with its
        # rows), so the daily accrual need only look at the others: a few hundred, not every bill.
        self.unpaid_bills = Bill.objects.filter(customer_id__in=self.customer_ids).exclude(
            status=BillStatusChoices.PAID
        )
        # Only overpayers hold credit: every other payment is for at most what is owed.
        self.may_have_credit = {c.pk for c in customers if behaviours[c.pk].overpayer}
        self.bills: dict[tuple[int, int], tuple[int, date, Decimal]] = {}  # (customer, index) → (id, due, total)
        self.payments: dict[str, Payment] = {}
        self.skipped: Counter = Counter()
        self.accrued_through = periods[0][1]  # nothing is due before the first bill is issued

    def accrue_through(self, day: date) -> None:
        if day > self.accrued_through:
            penalties_accrue(through=day, bills=self.unpaid_bills, since=self.accrued_through + timedelta(days=1))
            self.accrued_through = day

    def run(self, index: int) -> None:
        period, issued = self.periods[index]
        run = billing_run_start(period=period, issue_date=issued)
        run = billing_run_execute(run_id=run.pk)
        self.skipped.update(item["reason"] for item in run.skipped)
        for bill_id, customer_id, due_on, total in Bill.objects.filter(
            customer_id__in=self.customer_ids, period=period, kind="monthly"
        ).values_list("id", "customer_id", "due_on", "total"):
            self.bills[(customer_id, index)] = (bill_id, due_on, total)

    def owed_through(self, customer: Customer, due_on: date, day: date) -> Decimal:
        """What the customer owes on its bills due up to `due_on`, penalties through `day`
        included, less credit: bills_with_balances' sums, but from the rows in Python, which is
        exact on SQLite too and a third of the time of its subqueries (it runs for every payment)."""
        bills = Bill.objects.filter(customer=customer, due_on__lte=due_on).exclude(status=BillStatusChoices.PAID)
        totals = list(bills.values_list("pk", "total"))
        if not totals:
            return ZERO
        ids = [pk for pk, _total in totals]
        owed = sum((total for _pk, total in totals), ZERO)
        owed += sum(AdjustmentNote.objects.filter(bill_id__in=ids).values_list("amount", flat=True), ZERO)
        penalty_days = Q(is_correction=True) | Q(accrued_on__lte=day)
        owed += sum(PenaltyAccrual.objects.filter(penalty_days, bill_id__in=ids).values_list("amount", flat=True), ZERO)
        owed -= sum(PenaltyWaiver.objects.filter(bill_id__in=ids).values_list("amount", flat=True), ZERO)
        for principal, penalty in PaymentAllocation.objects.filter(bill_id__in=ids).values_list("principal", "penalty"):
            owed -= principal + penalty
        if customer.pk in self.may_have_credit:
            posted = Payment.objects.filter(customer=customer, status=PaymentStatusChoices.POSTED)
            owed -= sum(posted.values_list("amount", flat=True), ZERO)
            allocated = PaymentAllocation.objects.filter(payment__in=posted).values_list("principal", "penalty")
            owed += sum((principal + penalty for principal, penalty in allocated), ZERO)
        return owed

    def pay(self, event: _Event) -> None:
        customer = event.customer
        assert customer is not None and event.at is not None
        bill = self.bills.get((customer.pk, event.bill_index))
        if bill is None:
            return  # no bill for that month (no readings yet: the meter came later)
        _bill_id, due_on, total = bill
        owed = self.owed_through(customer, due_on, event.day)
        if event.how == "token":
            amount = min(_round_to(total * Decimal(str(round(event.fraction, 2))), THOUSAND), owed)
        elif event.how == "partial":
            amount = _round_to(owed * Decimal(str(round(event.fraction, 2))), HUNDRED)
        elif event.how == "overpay":
            amount = _round_up(max(owed, Decimal("0")))
        else:
            amount = owed
        amount = amount.quantize(FEN)
        if amount <= 0:
            return
        self.payments[event.ref] = payment_record(
            customer=customer,
            amount=amount,
            channel=event.channel,
            external_ref=event.ref,
            received_at=event.at,
        )

    def reverse(self, event: _Event) -> None:
        payment = self.payments.get(event.reverses)
        if payment is None:
            return
        payment_reverse(payment=payment, reason=event.reason, reversed_on=event.day)


# ---------------------------------------------------------------------------------------------
# The service
# ---------------------------------------------------------------------------------------------
def demo_history_seed(
    *, customers: Iterable[Customer], seed: int, months: int = 13, today: date | None = None
) -> DemoHistoryResult:
    """Write `months` of readings, bills, payments and penalties for the given (new) customers.

    The billing runs are the real ones, so they bill every monthly / instalment customer in the
    database that has readings and no bill yet for those months, as the monthly job would.
    Raises DemoHistoryError (and writes nothing) if the result does not reconcile.
    """
    if months < 1:
        raise ValueError("months must be at least 1")
    today = today or timezone.localdate()
    with transaction.atomic():
        result = _history_write(list(customers), seed=seed, months=months, today=today)
        started = time.perf_counter()
        problems = reconcile()
        if problems and connection.vendor == "sqlite":
            # SQLite keeps NUMERIC values with a fraction as binary floating point, so the
            # selectors' sums come back as, say, -9.3E-10 for a bill paid to the fen and
            # reconcile() reports it. The same checks in Decimal over the stored rows tell that
            # noise from a real difference.
            exact = _exact_problems()
            if not exact:
                result.float_noise_problems = len(problems)
            problems = exact
        result.seconds["reconcile"] = time.perf_counter() - started
        if problems:
            raise DemoHistoryError(
                f"the demo history does not reconcile ({len(problems)} problems): " + "; ".join(problems[:10])
            )
    return result


def _history_write(customers: list[Customer], *, seed: int, months: int, today: date) -> DemoHistoryResult:
    result = DemoHistoryResult(months=months)
    yesterday = today - timedelta(days=1)
    periods = _periods(today, months)
    result.periods = [period for period, _ in periods]
    customers = sorted(
        (c for c in customers if c.operating_status != STATUS.CLOSED), key=lambda c: c.account_no
    )  # a closed account's meters are out of service: no readings, no bills
    billable = [c for c in customers if c.settlement_mode in BILLED_MODES]
    result.customers, result.billable = len(customers), len(billable)
    # Readings start a little before the first period's opening reading day (25th–28th or month end).
    first_start = min(period_bounds(periods[0][0], day)[0] for day in (25, READING_DAY_MONTH_END))
    readings_from = first_start - timedelta(days=3)

    started = time.perf_counter()
    # Prepaid customers need a tariff too: their daily charge is taken from their balance.
    result.tariffs_assigned = _tariffs_assign(customers, seed, readings_from)
    behaviours = _behaviours(billable, seed, months)
    for customer in billable:
        archetype = behaviours[customer.pk].archetype
        result.archetypes[archetype] += 1
        result.archetype_of[customer.account_no] = archetype
    result.seconds["tariffs and behaviours"] = time.perf_counter() - started

    started = time.perf_counter()
    result.readings = _readings_write(
        customers,
        behaviours=behaviours,
        periods=periods,
        seed=seed,
        readings_from=readings_from,
        today=today,
        result=result,
    )
    _statistics_refresh()
    result.seconds["readings"] = time.perf_counter() - started

    started = time.perf_counter()
    events: list[_Event] = [_Event(day=issued, kind=RUN, bill_index=i) for i, (_, issued) in enumerate(periods)]
    by_customer: dict[int, list[_Event]] = {}
    for customer in billable:
        rng = _stream(seed, f"payments:{customer.account_no}")
        by_customer[customer.pk] = _payment_events(customer, behaviours[customer.pk], periods, yesterday, rng)
        events.extend(by_customer[customer.pk])
    events.extend(_reversal_events(by_customer, behaviours, seed, yesterday))
    events.sort(key=_Event.key)
    ledger = _Ledger(periods, billable, behaviours)
    for event in events:
        ledger.accrue_through(event.day)
        if event.kind == RUN:
            ledger.run(event.bill_index)
        elif event.kind == REVERSE:
            ledger.reverse(event)
        else:
            ledger.pay(event)
    ledger.accrue_through(yesterday)
    result.bills_skipped = ledger.skipped
    result.seconds["bills, payments and penalties"] = time.perf_counter() - started

    started = time.perf_counter()
    _daily_history(customers, seed=seed, today=today, result=result)
    result.seconds["daily statistics, forecasts, prepaid and instalments"] = time.perf_counter() - started
    _counts(result, [c.pk for c in billable], today)
    return result


def _readings_write(
    customers: list[Customer],
    *,
    behaviours: dict[int, _Behaviour],
    periods: list[tuple[str, date]],
    seed: int,
    readings_from: date,
    today: date,
    result: DemoHistoryResult,
) -> int:
    """Daily readings from `readings_from` to yesterday for every meter in service of the
    customers, from each one's load shape (which follows its payment behaviour). Returns the
    readings stored; counts the meters read in `result`."""
    yesterday = today - timedelta(days=1)
    meters_by_customer: dict[int, list[MeterPoint]] = defaultdict(list)
    for meter in MeterPoint.objects.filter(customer__in=customers, active=True).order_by("customer_id", "meter_no"):
        meters_by_customer[meter.customer_id].append(meter)

    def batches() -> Iterator[tuple[MeterPoint, Iterator[tuple]]]:
        for customer in customers:
            meters = meters_by_customer.get(customer.pk, [])
            if not meters:
                continue
            rng = _stream(seed, f"load:{customer.account_no}")
            behaviour = behaviours.get(customer.pk)
            end = periods[-1][1] - timedelta(days=1)
            profile = _profile(customer, rng, behaviour, _trouble_day(behaviour, periods), end)
            shares = _meter_shares(meters, profile, rng)
            days = _customer_days(profile, readings_from, yesterday, rng)
            for meter, share in zip(meters, shares, strict=True):
                # A meter installed during the history is read from its installation day.
                first = max(readings_from, meter.installed_on or readings_from)
                result.meters_read += 1
                yield meter, _meter_rows(meter, share, [d for d in days if d[0] >= first], rng)

    return _readings_load(batches(), today)


def _trouble_day(behaviour: _Behaviour | None, periods: list[tuple[str, date]]) -> date:
    """The first day of the month whose bill the customer no longer pays in full."""
    months = len(periods)
    trouble_index = min(behaviour.trouble_from if behaviour else months, months - 1)
    return _add_months(periods[trouble_index][1], -1)


STATISTICS_DAYS = 90  # the customer page's chart
FORECAST_DAYS = 30
PREPAID_DAYS = 30


def _daily_history(
    customers: list[Customer],
    *,
    seed: int,
    today: date,
    result: DemoHistoryResult,
    statistics_days: int = STATISTICS_DAYS,
    forecast_days: int = FORECAST_DAYS,
    instalments: bool = True,
) -> None:
    """The last months as the daily jobs would have left them: statistics for 90 days,
    forecasts for 30, prepaid accounts run down and topped up over 30 days (with their warnings,
    trips and escalations), and the current period's instalments (which are issued for every
    instalment customer in the database: `instalments=False` leaves them out)."""
    yesterday = today - timedelta(days=1)
    ids = [c.pk for c in customers]
    scope = Customer.objects.filter(id__in=ids)
    daily_stats_compute(first_day=yesterday - timedelta(days=statistics_days - 1), last_day=yesterday, customers=scope)
    for offset in range(forecast_days - 1, -1, -1):
        forecasts_run(day=yesterday - timedelta(days=offset), customers=scope)

    prepaid = [c for c in customers if c.settlement_mode in PREPAID_MODES]
    first = yesterday - timedelta(days=PREPAID_DAYS - 1)
    averages = {
        customer_id: total / PREPAID_DAYS
        for customer_id, total in DailyUsage.objects.filter(
            customer__in=prepaid, day__gte=first - timedelta(days=PREPAID_DAYS), day__lt=first
        )
        .values("customer_id")
        .annotate(total=Sum("charge"))
        .values_list("customer_id", "total")
    }
    top_ups: dict[date, list[tuple[Customer, Decimal, int]]] = defaultdict(list)
    for customer in prepaid:
        rng = _stream(seed, f"prepaid:{customer.account_no}")
        average = averages.get(customer.pk) or Decimal("1000")
        # Most keep 2–6 weeks in hand and top up when they drop below ~10 days; a few let it run out.
        runs_down = rng.random() < 0.25
        opening = _round_to(
            average * Decimal(rng.randint(12, 20) if runs_down else rng.randint(14, 42)), Decimal("100")
        )
        prepaid_account_open(customer=customer, opened_on=first - timedelta(days=1), opening_balance=opening)
        if not runs_down:
            for n, day_offset in enumerate(range(rng.randint(8, 14), PREPAID_DAYS, rng.randint(9, 15))):
                amount = _round_to(average * Decimal(rng.randint(10, 25)), Decimal("100"))
                top_ups[first + timedelta(days=day_offset)].append((customer, amount, n))
    for offset in range(PREPAID_DAYS):
        day = first + timedelta(days=offset)
        for customer, amount, n in top_ups.get(day, []):
            channel = PaymentChannelChoices.PREPAID_CARD if customer.settlement_mode == "prepaid_card" else "mobile"
            payment_record(
                customer=customer,
                amount=amount,
                channel=channel,
                external_ref=f"DEMO-TOPUP-{customer.account_no}-{n}",
                received_at=timezone.make_aware(datetime.combine(day, clock(10, 0))),
            )
        prepaid_run(day=day)

    instalment_customers = [c for c in customers if c.settlement_mode == "instalments"]
    if instalments and instalment_customers:
        _label, start, _end = billing_period_of(today, READING_DAY_MONTH_END)
        day = start - timedelta(days=5)
        while day <= today:
            instalment_issue_due(day=day)
            day += timedelta(days=1)


@dataclass
class _Balance:
    customer_id: int
    number: str
    due_on: date
    total: Decimal
    lines: Decimal = ZERO
    adjustments: Decimal = ZERO
    penalty: Decimal = ZERO
    waived: Decimal = ZERO
    principal_paid: Decimal = ZERO
    penalty_paid: Decimal = ZERO

    @property
    def principal_due(self) -> Decimal:
        return self.total + self.adjustments - self.principal_paid

    @property
    def penalty_due(self) -> Decimal:
        return self.penalty - self.waived - self.penalty_paid


def _exact_balances(ids: list[int] | None = None) -> tuple[dict[int, _Balance], dict[int, list]]:
    """Every bill's balance and every payment's (customer, amount, status, allocated), summed in
    Python from the stored rows, whose values are exact Decimals on every database."""
    bills = Bill.objects.all() if ids is None else Bill.objects.filter(customer_id__in=ids)
    balances = {
        pk: _Balance(customer_id, number, due_on, total)
        for pk, customer_id, number, due_on, total in bills.values_list(
            "pk", "customer_id", "number", "due_on", "total"
        )
    }
    for model, value, attribute in (
        (BillLine, "amount", "lines"),
        (AdjustmentNote, "amount", "adjustments"),
        (PenaltyAccrual, "amount", "penalty"),
        (PenaltyWaiver, "amount", "waived"),
        (PaymentAllocation, "principal", "principal_paid"),
        (PaymentAllocation, "penalty", "penalty_paid"),
    ):
        for bill_id, amount in model.objects.filter(bill__in=bills).values_list("bill_id", value).iterator():
            balance = balances[bill_id]
            setattr(balance, attribute, getattr(balance, attribute) + amount)
    payments_qs = Payment.objects.all() if ids is None else Payment.objects.filter(customer_id__in=ids)
    payments = {
        pk: [customer_id, amount, status, ZERO]
        for pk, customer_id, amount, status in payments_qs.values_list("pk", "customer_id", "amount", "status")
    }
    allocations = PaymentAllocation.objects.filter(payment__in=payments_qs).values_list(
        "payment_id", "principal", "penalty"
    )
    for payment_id, principal, penalty in allocations.iterator():
        payments[payment_id][3] += principal + penalty
    return balances, payments


def _exact_problems() -> list[str]:
    """statements.reconcile()'s checks, over all customers, in Decimal arithmetic."""
    balances, payments = _exact_balances()
    problems = []
    entries: dict[int, Decimal] = defaultdict(Decimal)
    derived: dict[int, Decimal] = defaultdict(Decimal)
    for balance in balances.values():
        if balance.lines != balance.total:
            problems.append(f"bill {balance.number}: total {balance.total} != lines {balance.lines}")
        if balance.principal_due < 0:
            problems.append(f"bill {balance.number}: over-allocated, principal due {balance.principal_due}")
        entries[balance.customer_id] += balance.total + balance.adjustments + balance.penalty - balance.waived
        derived[balance.customer_id] += balance.principal_due + balance.penalty_due
    reversed_ids = set(PaymentReversal.objects.values_list("payment_id", flat=True))
    for pk, (customer_id, amount, status, allocated) in payments.items():
        if allocated > amount:
            problems.append(f"payment {pk}: allocated {allocated} of {amount}")
        entries[customer_id] -= amount
        if pk in reversed_ids:
            entries[customer_id] += amount
        if status == PaymentStatusChoices.POSTED:
            derived[customer_id] -= amount - allocated
    for customer_id in sorted(set(entries) | set(derived)):
        if entries[customer_id] != derived[customer_id]:
            problems.append(f"customer {customer_id}: entries {entries[customer_id]} != derived {derived[customer_id]}")
    return problems


def _counts(result: DemoHistoryResult, ids: list[int], today: date) -> None:
    """What the demo shows now, from exact balances (see _exact_balances)."""
    balances, payments = _exact_balances(ids)
    result.bills = len(balances)
    result.payments = len(payments)
    result.reversals = sum(1 for p in payments.values() if p[2] == PaymentStatusChoices.REVERSED)
    result.penalty_rows = PenaltyAccrual.objects.filter(bill__customer_id__in=ids).count()
    result.paid_bills = sum(1 for b in balances.values() if b.principal_due <= 0 and b.penalty_due <= 0)
    overdue = [b for b in balances.values() if b.due_on < today and (b.principal_due > 0 or b.penalty_due > 0)]
    result.overdue_bills = len(overdue)
    result.customers_in_arrears = len({b.customer_id for b in overdue if b.principal_due > 0})
    result.customers_with_credit = len(
        {p[0] for p in payments.values() if p[2] == PaymentStatusChoices.POSTED and p[1] > p[3]}
    )
    result.noise_penalty_days = PenaltyAccrual.objects.filter(
        bill__customer_id__in=ids, is_correction=False, principal__lt=FEN
    ).count()


def _statistics_refresh() -> None:
    """ANALYZE after the bulk load, so the billing runs' queries are planned for the real sizes."""
    with connection.cursor() as cursor:
        for model in (MeterReading, CustomerTariff, Bill, BillLine, Payment, PaymentAllocation, PenaltyAccrual):
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
