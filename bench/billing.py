"""Benchmark: a monthly billing run (`billing_run_execute`) over the whole portfolio on PostgreSQL."""

import datetime as dt
import io
import random
import sys
import time
from contextlib import contextmanager
from decimal import Decimal

from .common import BenchContext, Figure, SqlTimer, median, shares, statement_label, table

TARGET_BILLS_PER_SECOND = 1_000
TARIFF_FROM = dt.date(2025, 1, 1)
SINGLE_PART_INDUSTRIES = ("commercial", "hospital", "other")  # general commercial tariff at 10 kV


def _period(today: dt.date) -> str:
    """The last whole month before today: its readings are all in the past."""
    first = today.replace(day=1)
    last_month = first - dt.timedelta(days=1)
    return f"{last_month.year:04d}-{last_month.month:02d}"


def _tariff_code(industry: str, voltage_kv: Decimal) -> str:
    if voltage_kv >= 110:
        return "LI-110KV"
    if industry in SINGLE_PART_INDUSTRIES:
        return "GC-10KV"
    return "LI-10KV"


def _prepare(period: str, seed: int) -> dict[str, object]:
    """Every customer billable, a tariff each, and daily readings of every meter over the period."""
    from django.db import connection

    from billing.models import CustomerTariff, MeterReading
    from billing.services.bills import BILLED_MODES, period_bounds
    from customers.choices import CustomerOperatingStatusChoices, CustomerSettlementModeChoices
    from customers.models import Customer, MeterPoint

    switched = Customer.objects.exclude(settlement_mode__in=BILLED_MODES).update(
        settlement_mode=CustomerSettlementModeChoices.MONTHLY
    )
    reopened = Customer.objects.filter(operating_status=CustomerOperatingStatusChoices.CLOSED).update(
        operating_status=CustomerOperatingStatusChoices.NORMAL
    )
    customers = list(
        Customer.objects.values_list("id", "industry", "voltage_kv", "contracted_capacity_kva", "reading_day")
    )
    CustomerTariff.objects.all().delete()
    tariffs = [
        CustomerTariff(customer_id=c[0], tariff_code=_tariff_code(c[1], c[2]), valid_from=TARIFF_FROM)
        for c in customers
    ]
    CustomerTariff.objects.bulk_create(tariffs, batch_size=5000)
    codes: dict[str, int] = {}
    for tariff in tariffs:
        codes[tariff.tariff_code] = codes.get(tariff.tariff_code, 0) + 1

    bounds = [period_bounds(period, c[4]) for c in customers]
    first, last = min(b[0] for b in bounds), max(b[1] for b in bounds)
    days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    capacity = {c[0]: c[3] for c in customers}
    meters = list(MeterPoint.objects.order_by("id").values_list("id", "customer_id", "multiplier"))
    per_customer: dict[int, int] = {}
    for _id, customer_id, _m in meters:
        per_customer[customer_id] = per_customer.get(customer_id, 0) + 1

    rng = random.Random(f"gridcollect-bench-billing:{seed}")
    received = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S+00")
    buffer = io.StringIO()
    write = buffer.write
    for meter_id, customer_id, multiplier in meters:
        # kWh a day at 30–70 % load, shared by the customer's meters, as register units (÷ CT×PT).
        kwh = capacity[customer_id] * rng.uniform(0.3, 0.7) * 24 / per_customer[customer_id]
        daily = max(50, int(kwh * 1000 / float(multiplier)))  # thousandths of a register unit
        split = (daily * 5 // 100, daily * 30 // 100, daily * 40 // 100)  # critical peak, peak, flat
        registers = [rng.randint(0, 10**7) for _ in range(4)]
        reactive = rng.randint(0, 10**7)
        reactive_share = rng.randint(30, 48)  # power factor about 0.90–0.96
        demand = max(1, int(capacity[customer_id] * 600 / per_customer[customer_id] / float(multiplier)))
        for day in days:
            factor = rng.randint(85, 115)
            step = daily * factor // 100
            parts = (split[0] * factor // 100, split[1] * factor // 100, split[2] * factor // 100)
            registers[0] += parts[0]
            registers[1] += parts[1]
            registers[2] += parts[2]
            registers[3] += step - sum(parts)
            reactive += step * reactive_share // 100
            total = sum(registers)
            values = "\t".join(
                f"{v // 1000}.{v % 1000:03d}"
                for v in (total, *registers, reactive, demand * rng.randint(80, 100) // 100)
            )
            write(f"{meter_id}\t{day.isoformat()}\t{values}\tami\t{received}\n")
    columns = "meter_id, read_on, total_kwh, critical_peak_kwh, peak_kwh, flat_kwh, valley_kwh, reactive_kvarh, "
    columns += "max_demand_kw, source, received_at"
    table_name = MeterReading._meta.db_table
    data = buffer.getvalue().encode()
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {table_name}")
        with cursor.cursor.copy(f"COPY {table_name} ({columns}) FROM STDIN") as copy:
            for start in range(0, len(data), 8 << 20):
                copy.write(data[start : start + (8 << 20)])
        cursor.execute(f"ANALYZE {table_name}")
    return {
        "customers": len(customers),
        "switched": switched,
        "reopened": reopened,
        "meters": len(meters),
        "readings": len(meters) * len(days),
        "first": first,
        "last": last,
        "codes": codes,
    }


def _clear_bills() -> None:
    from django.db import connection

    from billing.models import Bill, BillingRun

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {BillingRun._meta.db_table}, {Bill._meta.db_table} CASCADE")


def _billing_statement(sql: str) -> str:
    label = statement_label(sql)
    if label.startswith("SELECT") and "GROUP BY" in sql.upper() and "(window)" not in label:
        label += " (aggregate)"
    return "SQL: " + label


class _Probe:
    """SQL time by statement kind, and the bill arithmetic's Python time, around a run."""

    def __init__(self) -> None:
        self.sql = SqlTimer(_billing_statement)
        self.python: dict[str, list[float]] = {}

    def _timed(self, name: str, function):
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                entry = self.python.setdefault(name, [0.0, 0])
                entry[0] += time.perf_counter() - started
                entry[1] += 1

        return wrapper

    @contextmanager
    def installed(self):
        from django.db import connection
        from django.db.models.query import QuerySet

        from billing.services import bills

        patched = []
        for name in ("compute", "_usage", "_boundary_readings"):
            original = getattr(bills, name, None)
            if callable(original):
                setattr(bills, name, self._timed(name, original))
                patched.append((name, original))
        original_bulk_create = QuerySet.bulk_create
        probe = self

        def bulk_create(queryset, *args, **kwargs):
            return probe._timed(f"bulk_create {queryset.model._meta.db_table}", original_bulk_create)(
                queryset, *args, **kwargs
            )

        QuerySet.bulk_create = bulk_create
        try:
            with connection.execute_wrapper(self.sql):
                yield self
        finally:
            QuerySet.bulk_create = original_bulk_create
            for name, original in patched:
                setattr(bills, name, original)

    def parts(self, total: float) -> list[tuple[str, float, int | str]]:
        rows: list[tuple[str, float, int | str]] = sorted(
            ((name, seconds, self.sql.calls[name]) for name, seconds in self.sql.seconds.items()),
            key=lambda row: -row[1],
        )
        boundary_sql = sum(s for n, s in self.sql.seconds.items() if "billing_meterreading" in n)
        boundary = self.python.get("_boundary_readings", [0.0, 0])
        compute = self.python.get("compute", [0.0, 0])
        usage = self.python.get("_usage", [0.0, 0])
        rows += [
            (
                "Python: rows of the reading queries into objects (`_boundary_readings` minus its SQL)",
                boundary[0] - boundary_sql,
                boundary[1],
            ),
            ("Python: the bill arithmetic (`billing.calculation.compute`)", compute[0], compute[1]),
            ("Python: usage from the boundary readings (`_usage`)", usage[0], usage[1]),
        ]
        accounted = self.sql.total + (boundary[0] - boundary_sql) + compute[0] + usage[0]
        for name, (seconds, calls) in sorted(self.python.items()):
            if name.startswith("bulk_create "):
                table_name = name.split(" ", 1)[1]
                inserts = self.sql.seconds.get(f"SQL: INSERT {table_name}", 0.0)
                rows.append((f"Python: `bulk_create` into {table_name}, minus its INSERTs", seconds - inserts, calls))
                accounted += seconds - inserts
        rows.append(
            ("the rest: model objects (Customer, MeterPoint, Bill), loops (by difference)", total - accounted, "–")
        )
        return rows


def bench_billing_run(ctx: BenchContext) -> str:
    from django.utils import timezone

    from billing.models import BillLine
    from billing.services.bills import CHUNK, billing_run_execute, billing_run_start

    today = timezone.localdate()
    period = _period(today)
    issue_date = today.replace(day=1)
    prepared = _prepare(period, ctx.seed)

    runs: list[tuple[float, _Probe, int, int]] = []
    budget_end = time.perf_counter() + ctx.phase_seconds
    for run_number in range(ctx.runs):
        if run_number and time.perf_counter() > budget_end:
            break
        _clear_bills()
        probe = _Probe()
        with probe.installed():
            started = time.perf_counter()
            run = billing_run_start(period=period, issue_date=issue_date)
            run = billing_run_execute(run_id=run.pk)
            seconds = time.perf_counter() - started
        if run.status != "done" or run.bills_created != prepared["customers"] or run.skipped:
            raise RuntimeError(
                f"billing run {run.status}: {run.bills_created:,} bills of {prepared['customers']:,}, "
                f"skipped {run.skipped[:3]}"
            )
        lines = BillLine.objects.count()
        runs.append((seconds, probe, run.bills_created, lines))
        print(f"bench:   billing run {run_number + 1}: {seconds:.1f} s", file=sys.stderr, flush=True)

    ordered = sorted(runs, key=lambda r: r[0])
    seconds, probe, created, lines = ordered[(len(ordered) - 1) // 2]
    rate = created / seconds
    times = [r[0] for r in runs]
    codes = ", ".join(f"{code} {n:,}" for code, n in sorted(prepared["codes"].items()))
    results = table(
        [
            "customers",
            "bills",
            "bill lines",
            "runs",
            "median s",
            "min–max s",
            "bills/s",
            f"target ≥ {TARGET_BILLS_PER_SECOND:,}/s",
        ],
        [
            [
                prepared["customers"],
                created,
                lines,
                len(runs),
                round(median(times), 1),
                Figure(f"{min(times):.1f}–{max(times):.1f}"),
                round(rate),
                "**met**" if rate >= TARGET_BILLS_PER_SECOND else "**missed**",
            ]
        ],
    )
    breakdown = table(["part of the run", "seconds", "share", "calls"], shares(probe.parts(seconds), seconds))
    return "\n\n".join(
        [
            "## 4. Billing run (`billing_run_execute`)",
            f"Period {period} for all {prepared['customers']:,} customers of the portfolio: the "
            f"{prepared['switched']:,} prepaid customers are switched to monthly settlement and the "
            f"{prepared['reopened']:,} closed ones reopened for this benchmark, so every customer gets a bill. "
            f"Each has a tariff assignment (`CustomerTariff` from {TARIFF_FROM}; {codes}). "
            f"{prepared['readings']:,} daily readings of all {prepared['meters']:,} meters from {prepared['first']} "
            f"to {prepared['last']} (every reading day's start boundary included: month end, or the 25th–28th), "
            "loaded by COPY and ANALYZEd before the runs (not timed).",
            "**Method.** `billing_run_start` + `billing_run_execute` in-process on the benchmark database, timed "
            f"from start to the run's `done` (chunks of {CHUNK:,} customers, each its own transaction). Every run "
            "starts without bills (TRUNCATE of runs, bills and what hangs off them, not timed) and is checked: "
            f"status done, one bill per customer, nobody skipped. {len(runs)} run(s); the table quotes the median.",
            results,
            "**Where the time goes** (the median run). SQL statements are timed by a Django execute wrapper and "
            "grouped by verb and first table (the execute call: psycopg binding the parameters into the query on the "
            "client, which is a real part of a big `bulk_create`, and the server's work); the named Python "
            "functions of billing.services.bills and Django's `bulk_create` are wrapped with timers without "
            "changing them.",
            breakdown,
        ]
    )
