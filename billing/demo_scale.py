"""Demo history at scale (`seed_demo --scale`): a year of bills, payments and penalties for a
province-size portfolio in minutes, written in bulk.

billing.demo replays the history through the real services: a billing run per month and
`payment_record` per payment, which is right for a few hundred customers and takes hours for a
hundred thousand. This module writes the same kinds of rows straight into the tables (COPY on
PostgreSQL, multi-row INSERTs elsewhere), by the same rules, worked out in Python per customer:

- who pays how, when and how much, the load shapes and the tariffs are billing.demo's (the same
  random streams, so the same seed gives the same behaviour);
- bills go through the real bill arithmetic (`billing.calculation.compute`) with the customer's
  tariff. For one customer in `read_every` the usage comes from daily readings, read with the
  billing run's own boundary-reading code, so their bills are exactly what a run would issue; for
  the others the usage is drawn month by month from the same load shape, and they have no readings
  (the readings of a whole province would be tens of millions of rows);
- payments are allocated as `payment_record` allocates: the oldest due bill first, penalty before
  principal, what is left kept on the payment as credit and used by the next bill on its issue date;
- late-payment penalties are one row per bill and overdue day through yesterday, as the nightly job
  writes them, with its rates (daily_rate) and its rounding (each row is the change of the rounded
  running total, ¥1 minimum).

The services' checks, locks, audit rows and notifications are bypassed. The rows are consistent by
construction: no allocation takes more than a bill owes or a payment holds, bill statuses follow
the balances, and every balance is the sum of its rows; a sample of customers is checked with
`statements.reconcile()` before the transaction commits. Not generated at this scale: bank returns
(reversals), adjustment notes, waivers, instalment bills (instalment customers are billed monthly,
as in billing.demo), and prepaid accounts except for the read customers.
"""

from __future__ import annotations

import datetime as dt
import math
import queue
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from types import SimpleNamespace

from django.db import connection, models, transaction
from django.db.models import Q
from django.utils import timezone

from customers.models import READING_DAY_MONTH_END, Customer, MeterPoint

from .calculation import Computation, Contract, Usage, compute
from .choices import BillKindChoices, BillStatusChoices, PaymentStatusChoices
from .demo import (
    _CRITICAL_PEAK_MONTHS,
    _SPRING_FESTIVAL,
    ARREARS,
    HUNDRED,
    LATE,
    PROMPT,
    SLIDING,
    STATUS,
    THOUSAND,
    DemoHistoryError,
    DemoHistoryResult,
    _Behaviour,
    _behaviours,
    _bump,
    _daily_history,
    _Event,
    _exact_problems,
    _payment_events,
    _periods,
    _Profile,
    _profile,
    _readings_write,
    _round_to,
    _round_up,
    _statistics_refresh,
    _stream,
    _tariffs_assign,
    _trend,
    _trouble_day,
)
from .models import Bill, BillLine, Payment, PaymentAllocation, PenaltyAccrual, PenaltyRule
from .selectors import bills_with_balances
from .services.bills import BILLED_MODES, TariffBook, _boundary_readings, _usage, period_bounds, tariff_prices
from .services.ledger import bill_statuses_refresh
from .services.penalties import _rounded_total, _rule_for, daily_rate, penalties_accrue
from .services.statements import reconcile

READ_EVERY = 200  # one customer in this many gets daily readings (and statistics, forecasts)
CHUNK = 1_000  # customers worked out and written together
RECONCILED_SAMPLE = 1_000  # customers checked with reconcile() before the commit
# The read customers' daily jobs: statistics long enough for the forecasts' four weeks and the
# prepaid averages (30 days before the 30 prepaid days), forecasts for the last week.
STATISTICS_DAYS = 60
FORECAST_DAYS = 7
ZERO = Decimal("0.00")

# Credit grades (信用等级) by payment behaviour, as a scoring run would roughly find them: the
# scorecard needs a year of history per customer and its run takes minutes at this size, so the
# bulk demo sets them directly. Prepaid customers are graded by their operating status.
_GRADES = {
    PROMPT: {"AAA": 55, "AA": 35, "A": 10},
    LATE: {"AA": 15, "A": 45, "B": 40},
    SLIDING: {"A": 10, "B": 45, "C": 45},
    ARREARS: {"B": 10, "C": 90},
}
_PREPAID_GRADES = {
    STATUS.NORMAL: {"AA": 30, "A": 50, "B": 20},
    STATUS.REDUCED: {"A": 20, "B": 50, "C": 30},
    STATUS.SUSPENDED: {"B": 40, "C": 60},
    STATUS.BANKRUPT: {"C": 100},
}


# ---------------------------------------------------------------------------------------------
# Writing rows in bulk
# ---------------------------------------------------------------------------------------------
class _Table:
    """Rows of one model as tuples of `fields` (attnames), for COPY on PostgreSQL and multi-row
    INSERTs elsewhere. Fields left out get their model default (auto_now_add: now), so a row needs
    no model instance."""

    def __init__(self, model: type[models.Model], fields: list[str], now: dt.datetime):
        self.model = model
        concrete = {f.attname: f for f in model._meta.concrete_fields}
        extra = []
        for name, f in concrete.items():
            if name not in fields and not f.primary_key:
                auto = getattr(f, "auto_now_add", False) or getattr(f, "auto_now", False)
                extra.append((name, now if auto else f.get_default()))
        self.columns = [concrete[name].column for name in fields] + [concrete[name].column for name, _ in extra]
        self.constants = tuple(value for _, value in extra)
        self.name = connection.ops.quote_name(model._meta.db_table)
        self.column_list = ", ".join(connection.ops.quote_name(c) for c in self.columns)
        self.written = 0

    def send(self, rows: Iterable[tuple], sender: _Sender, text: Callable[[tuple], str] | None = None) -> None:
        """Format the rows now (this thread) and hand them to the sender. `text` formats a row for
        COPY faster than the general way, for rows that never hold None."""
        if not sender.copies:
            rows = [row + self.constants for row in rows]
            self.written += len(rows)
            sender.run(lambda cursor: _insert(cursor, self, rows))
            return
        constants = "\t" + "\t".join(map(_copy_value, self.constants)) if self.constants else ""
        # The rows hold ints, Decimals, dates, datetimes, None and strings this module makes (codes,
        # numbers, references), never a tab, newline or backslash: str() is COPY's text format.
        if text is None:
            lines = ["\t".join([_NULL if value is None else str(value) for value in row]) + constants for row in rows]
        else:
            lines = [text(row) + constants for row in rows]
        self.written += len(lines)
        if lines:
            payload = ("\n".join(lines) + "\n").encode()
            sql = f"COPY {self.name} ({self.column_list}) FROM STDIN"
            sender.run(lambda cursor: _copy(cursor, sql, payload))


_NULL = "\\N"
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_value(value: object) -> str:
    """A value in COPY's text format (numbers, dates and ISO timestamps as PostgreSQL reads them)."""
    if value is None:
        return "\\N"
    if value is True or value is False:
        return "t" if value else "f"
    if isinstance(value, str):
        return value.translate(_ESCAPES)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return str(value)


def _copy(cursor, sql: str, payload: bytes) -> None:
    with cursor.copy(sql) as copy:
        copy.write(payload)


def _insert(cursor, table: _Table, rows: list[tuple]) -> None:
    sql = f"INSERT INTO {table.name} ({table.column_list}) VALUES ({', '.join(['%s'] * len(table.columns))})"
    for offset in range(0, len(rows), 5000):
        cursor.executemany(sql, [tuple(_adapt(v) for v in row) for row in rows[offset : offset + 5000]])


def _adapt(value: object) -> object:
    if isinstance(value, dt.datetime):
        return connection.ops.adapt_datetimefield_value(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


class _Sender:
    """Runs the writes of one chunk while the next chunk is worked out. On PostgreSQL a thread
    sends them on this transaction's psycopg connection (psycopg serialises its use), so the
    server stores one chunk while Python works out the next: two cores, both busy. Elsewhere the
    writes run at once, through Django's cursor."""

    def __init__(self, background: bool = True) -> None:
        self.copies = connection.vendor == "postgresql"
        self.error: BaseException | None = None
        self.jobs: queue.Queue = queue.Queue(maxsize=8)  # a chunk's jobs, at most about one chunk ahead
        self.thread: threading.Thread | None = None
        if self.copies and background:
            connection.ensure_connection()
            raw = connection.connection
            self.thread = threading.Thread(target=self._work, args=(raw,), name="demo-bulk-writer", daemon=True)
            self.thread.start()

    def _work(self, raw) -> None:
        while (job := self.jobs.get()) is not None:
            if self.error is None:
                try:
                    with raw.cursor() as cursor:
                        job(cursor)
                except BaseException as exc:  # noqa: BLE001 - handed to the main thread by close()
                    self.error = exc

    def run(self, job) -> None:
        if self.error is not None:
            raise self.error
        if self.thread is None:
            with connection.cursor() as cursor:
                job(cursor)
        else:
            self.jobs.put(job)

    def close(self) -> None:
        """Wait for every write; raise the first that failed (the transaction then rolls back)."""
        if self.thread is not None:
            self.jobs.put(None)
            self.thread.join()
        if self.error is not None:
            raise self.error


class _Ids:
    """Primary keys for rows written with their id (their children refer to it): from the table's
    own sequence on PostgreSQL, so nothing else is ever given them; elsewhere (SQLite, inside the
    seed's transaction) counted on from the highest id there was."""

    def __init__(self, model: type[models.Model]):
        self.model = model
        self.next: int | None = None

    def take(self, count: int) -> list[int]:
        if count <= 0:
            return []
        table = self.model._meta.db_table
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, count]
                )
                return [row[0] for row in cursor.fetchall()]
            if self.next is None:
                cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {connection.ops.quote_name(table)}")
                self.next = cursor.fetchone()[0] + 1
        first, self.next = self.next, self.next + count
        return list(range(first, self.next))


@contextmanager
def _foreign_keys_suspended(*tables: type[models.Model]):
    """PostgreSQL: drop the tables' foreign keys for the bulk load and add them back after it, as
    the manual advises for populating a database ("Remove Foreign Key Constraints"): adding one
    checks every row in one join, where a kept one checks each row on its own (about half the
    load's time). The DDL is transactional: if the load fails, the rollback restores them."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        # A table with deferred checks still pending cannot be altered: run them now.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE contype = 'f' AND conrelid = ANY(%s::regclass[]) ORDER BY conrelid, conname",
            [[model._meta.db_table for model in tables]],
        )
        found = cursor.fetchall()
        for table, name, _definition in found:
            cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {connection.ops.quote_name(name)}")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")  # Django's foreign keys: checked at the commit
    yield
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for table, name, definition in found:
            cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {connection.ops.quote_name(name)} {definition}")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


# ---------------------------------------------------------------------------------------------
# Usage month by month from the load shape (the customers without readings)
# ---------------------------------------------------------------------------------------------
def _milli(value: float) -> Decimal:
    return Decimal(f"{value:.3f}")


def _holiday_share(first: date, last: date, depth: float) -> float:
    """The period's mean of billing.demo._holiday: Spring Festival and Golden Week days, counted."""
    days = (last - first).days + 1
    if depth >= 1 or days <= 0:
        return 1.0
    festival = golden = 0
    for year in range(first.year, last.year + 1):
        start = _SPRING_FESTIVAL.get(year)
        if start:
            low, high = max(first, start - timedelta(days=5)), min(last, start + timedelta(days=9))
            festival += max(0, (high - low).days + 1)
        low, high = max(first, date(year, 10, 1)), min(last, date(year, 10, 7))
        golden += max(0, (high - low).days + 1)
    return (days - festival - golden + festival * depth + golden * (1 + depth) / 2) / days


def _period_usage(profile: _Profile, start: date, end: date, rng: random.Random) -> Usage:
    """A month of the load shape billing.demo's daily readings follow, drawn as a whole: the
    mean weekday, season and holiday factors of its days, the trend at its start, middle and end."""
    days = max(1, (end - start).days)
    first = start + timedelta(days=1)
    middle = start + timedelta(days=(days + 1) // 2)
    day_of_year = middle.timetuple().tm_yday
    season = 1 + profile.summer * _bump(day_of_year, 205, 38) + profile.winter * _bump(day_of_year, 15, 35)
    trend = (_trend(first, profile.trend) + 2 * _trend(middle, profile.trend) + _trend(end, profile.trend)) / 4
    kwh = (
        profile.daily_kwh
        * days
        * (sum(profile.week) / 7)
        * season
        * _holiday_share(first, end, profile.holiday_depth)
        * trend
        * rng.lognormvariate(0, profile.noise / 3)  # a month's noise: the days' partly cancel out
    )
    cp, peak, flat, valley = (share * rng.uniform(0.97, 1.03) for share in profile.tou)
    if end.month not in _CRITICAL_PEAK_MONTHS:
        peak, cp = peak + cp, 0.0
    shares = (cp, peak, flat, valley)
    parts = [_milli(kwh * share / sum(shares)) for share in shares]
    average_kw = kwh / days / 24
    demand = average_kw * profile.peak_ratio * rng.uniform(0.97, 1.04)
    if profile.demand_cap_kw is not None:
        demand = min(demand, profile.demand_cap_kw * rng.uniform(0.93, 1.02))
    demand = max(average_kw * 1.03, min(demand, profile.capacity_kw))
    power_factor = min(0.995, max(0.5, profile.power_factor + rng.gauss(0, 0.004)))
    return Usage(
        total_kwh=sum(parts, Decimal("0")),
        critical_peak_kwh=parts[0],
        peak_kwh=parts[1],
        flat_kwh=parts[2],
        valley_kwh=parts[3],
        reactive_kvarh=_milli(kwh * math.tan(math.acos(power_factor))),
        max_demand_kw=_milli(demand),
    )


# ---------------------------------------------------------------------------------------------
# One customer's ledger, worked out in Python
# ---------------------------------------------------------------------------------------------
@dataclass
class _Piece:
    """Days of penalty on one bill at one principal and rate: the nightly job's rows for them
    follow from the running totals before the first day."""

    first: date
    days: int
    principal: Decimal
    rate: Decimal
    cross_year: bool
    exact_before: Decimal  # Σ exact of the bill's earlier days
    accrued_before: Decimal  # Σ amount of the bill's earlier rows (its rounded total so far)
    minimum: Decimal


@dataclass(eq=False)
class _SimBill:
    index: int  # period index
    period: str
    start: date
    end: date
    issued: date
    due: date
    computation: Computation
    usage: Usage
    tariff_id: int
    total: Decimal = ZERO  # the lines' sum, summed once
    id: int = 0
    principal_paid: Decimal = ZERO
    exact: Decimal = Decimal("0")  # Σ exact penalty through `accrued`
    penalty: Decimal = ZERO  # the rounded penalty total through `accrued` (Σ of the rows' amounts)
    penalty_paid: Decimal = ZERO
    accrued: date | None = None
    pieces: list[_Piece] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.total = self.computation.total

    @property
    def principal_due(self) -> Decimal:
        return self.total - self.principal_paid

    @property
    def penalty_due(self) -> Decimal:
        return self.penalty - self.penalty_paid

    @property
    def status(self) -> str:
        if self.principal_due <= 0 and self.penalty_due <= 0:
            return BillStatusChoices.PAID
        if self.principal_paid > 0 or self.penalty_paid > 0:
            return BillStatusChoices.PARTLY_PAID
        return BillStatusChoices.ISSUED


@dataclass(eq=False)
class _SimPayment:
    amount: Decimal
    at: dt.datetime
    channel: str
    ref: str
    available: Decimal
    id: int = 0


class _Account:
    """A customer's bills, payments, allocations and penalty days, replayed in date order with
    the rules of payment_record, credit_apply and penalties_accrue (see the module docstring)."""

    def __init__(self, customer: Customer, bills: dict[int, _SimBill], rules: list[PenaltyRule]):
        self.customer = customer
        self.bills = bills
        self.rules = rules  # newest first
        self.rule_starts = sorted(rule.valid_from for rule in rules)
        self.issued: list[_SimBill] = []  # oldest due first: periods are issued in order, same terms
        self.accruing: list[_SimBill] = []  # issued bills with principal left (no reversals: never again)
        self.payments: list[_SimPayment] = []
        self.allocations: list[tuple[_SimPayment, _SimBill, date, Decimal, Decimal]] = []

    def replay(self, events: list[_Event], yesterday: date) -> None:
        # Issues first on their day, then payments (billing.demo's event order: RUN before PAY).
        timeline = [(bill.issued, 0, "", bill) for bill in self.bills.values()]
        timeline += [(event.day, 1, event.ref, event) for event in events]
        timeline.sort(key=lambda item: item[:3])
        for day, kind, _ref, item in timeline:
            self.accrue_through(day)
            if kind == 0:
                self.issued.append(item)
                self.accruing.append(item)
                self._allocate([p for p in self.payments if p.available > 0], day)  # credit_apply
            else:
                self.pay(item)
        self.accrue_through(yesterday)

    def accrue_through(self, day: date) -> None:
        for bill in self.accruing:
            if bill.due >= day:
                continue  # accrual starts the day after the due date
            first = max(bill.accrued or bill.due, bill.due) + timedelta(days=1)
            if first <= day:
                self._accrue(bill, first, day)
                bill.accrued = day

    def _accrue(self, bill: _SimBill, first: date, last: date) -> None:
        # A piece ends at a year end (the cross-year rate starts) or where another rule comes in.
        starts = self.rule_starts
        # What daily_rate reads of a bill: the contract rate, the tariff (never residential here), the due date.
        rated = SimpleNamespace(customer=self.customer, tariff=None, due_on=bill.due)
        day = first
        while day <= last:
            rule = _rule_for(day, self.rules)
            end = min([last, date(day.year, 12, 31)] + [s - timedelta(days=1) for s in starts if s > day])
            rate, cross_year = daily_rate(rated, day, rule)  # type: ignore[arg-type]
            days = (end - day).days + 1
            principal = bill.principal_due
            bill.pieces.append(
                _Piece(day, days, principal, rate, cross_year, bill.exact, bill.penalty, rule.minimum_amount)
            )
            bill.exact += principal * rate * days
            bill.penalty = _rounded_total(bill.exact, rule.minimum_amount)
            day = end + timedelta(days=1)

    def _allocate(self, sources: list[_SimPayment], day: date) -> None:
        """payments._allocate: oldest due first, penalty before principal, one row per payment and bill."""
        if not sources:
            return
        sources = list(sources)
        current: _SimPayment | None = sources.pop(0)
        for bill in self.issued:
            if current is None:
                break
            merged: dict[int, list] = {}
            for part in ("penalty", "principal"):
                due = bill.penalty_due if part == "penalty" else bill.principal_due
                while due > 0 and current is not None:
                    take = min(due, current.available)
                    row = merged.setdefault(id(current), [current, ZERO, ZERO])
                    if part == "penalty":
                        row[1] += take
                        bill.penalty_paid += take
                    else:
                        row[2] += take
                        bill.principal_paid += take
                    due -= take
                    current.available -= take
                    if current.available == 0:
                        current = sources.pop(0) if sources else None
            for payment, penalty, principal in merged.values():
                self.allocations.append((payment, bill, day, penalty, principal))
        self.accruing = [bill for bill in self.accruing if bill.principal_due > 0]

    def pay(self, event: _Event) -> None:
        """billing.demo._Ledger.pay: what the customer owes on the bills due up to this one,
        penalty through the day, less credit; then the behaviour's share of it."""
        bill = self.bills.get(event.bill_index)
        if bill is None or bill not in self.issued:
            return  # no bill for that month (a meter with no readings yet)
        assert event.at is not None
        owed = sum((b.principal_due + b.penalty_due for b in self.issued if b.due <= bill.due), ZERO)
        owed -= sum((p.available for p in self.payments), ZERO)
        if event.how == "token":
            amount = min(_round_to(bill.total * Decimal(str(round(event.fraction, 2))), THOUSAND), owed)
        elif event.how == "partial":
            amount = _round_to(owed * Decimal(str(round(event.fraction, 2))), HUNDRED)
        elif event.how == "overpay":
            amount = _round_up(max(owed, Decimal("0")))
        else:
            amount = owed
        amount = amount.quantize(Decimal("0.01"))
        if amount <= 0:
            return
        payment = _SimPayment(amount=amount, at=event.at, channel=event.channel, ref=event.ref, available=amount)
        self.payments.append(payment)
        self._allocate([payment], event.day)


def _penalty_rows(bill: _SimBill) -> Iterable[tuple]:
    """The nightly job's rows for the bill's pieces: (bill, day, principal, rate, cross-year, exact, amount)."""
    for piece in bill.pieces:
        exact = piece.principal * piece.rate
        cumulative = piece.exact_before
        accrued = piece.accrued_before
        for offset in range(piece.days):
            cumulative += exact
            rounded = _rounded_total(cumulative, piece.minimum)
            yield (
                bill.id,
                piece.first + timedelta(days=offset),
                piece.principal,
                piece.rate,
                piece.cross_year,
                exact,
                rounded - accrued,
            )
            accrued = rounded


_PIECES = "demo_penalty_pieces"
_PIECE_COLUMNS = "bill_id, first_day, days, principal, rate, cross_year, exact_before, accrued_before, minimum"


def _penalties_send(bills: list[_SimBill], table: _Table, sender: _Sender) -> None:
    """The bills' penalty rows. On PostgreSQL only the pieces travel: the server expands each into
    its days (ten million rows for a province, which Python would spend a minute formatting)."""
    if not sender.copies:
        table.send((row for bill in bills for row in _penalty_rows(bill)), sender)
        return
    pieces = [
        "\t".join(map(_copy_value, (bill.id, p.first, p.days, p.principal, p.rate, p.cross_year, p.exact_before,
                                    p.accrued_before, p.minimum)))
        for bill in bills
        for p in bill.pieces
    ]  # fmt: skip
    if not pieces:
        return
    payload = ("\n".join(pieces) + "\n").encode()
    daily = "p.principal * p.rate"
    # Each day's amount is the change of the rounded running total (penalties._rounded_total: half
    # up to the fen, at least the minimum); a piece's first day continues the bill's rows so far.
    after = f"GREATEST(ROUND(p.exact_before + k * {daily}, 2), p.minimum)"
    before = f"GREATEST(ROUND(p.exact_before + (k - 1) * {daily}, 2), p.minimum)"
    insert = (
        f"INSERT INTO {table.name} ({table.column_list}) "
        f"SELECT p.bill_id, p.first_day + k - 1, p.principal, p.rate, p.cross_year, {daily}, "
        f"{after} - CASE WHEN k = 1 THEN p.accrued_before ELSE {before} END, "
        f"{', '.join(['%s'] * len(table.constants))} "
        f"FROM {_PIECES} p CROSS JOIN LATERAL generate_series(1, p.days) AS k"
    )

    def job(cursor) -> None:
        cursor.execute(f"TRUNCATE {_PIECES}")
        _copy(cursor, f"COPY {_PIECES} ({_PIECE_COLUMNS}) FROM STDIN", payload)
        cursor.execute(insert, list(table.constants))
        table.written += cursor.rowcount

    sender.run(job)


# ---------------------------------------------------------------------------------------------
# The service
# ---------------------------------------------------------------------------------------------
_COLUMNS = {
    Bill: ["id", "customer_id", "period", "kind", "number", "period_start", "period_end", "issued_on", "due_on",
           "status", "total", "tariff_id", "total_kwh", "reactive_kvarh", "max_demand_kw", "power_factor"],
    BillLine: ["bill_id", "kind", "description", "quantity", "unit_price", "amount", "position"],
    Payment: ["id", "customer_id", "amount", "channel", "external_ref", "received_at", "status"],
    PaymentAllocation: ["payment_id", "bill_id", "allocated_on", "penalty", "principal"],
    PenaltyAccrual: ["bill_id", "accrued_on", "principal", "rate", "cross_year", "exact_amount", "amount"],
}  # fmt: skip


@dataclass
class _Tables:
    bills: _Table
    lines: _Table
    payments: _Table
    allocations: _Table
    penalties: _Table

    @classmethod
    def open(cls, now: dt.datetime) -> _Tables:
        tables = [_Table(model, columns, now) for model, columns in _COLUMNS.items()]
        return cls(*tables)


def demo_history_bulk(
    *,
    customers: Iterable[Customer],
    seed: int,
    months: int = 13,
    today: date | None = None,
    read_every: int = READ_EVERY,
) -> DemoBulkResult:
    """Write `months` of bills, payments and penalties for the given (new) customers in bulk, daily
    readings for one in `read_every` of them, and credit grades for all. Raises DemoHistoryError
    (and writes nothing) if the sample checked with reconcile() does not agree."""
    if months < 1:
        raise ValueError("months must be at least 1")
    today = today or timezone.localdate()
    with transaction.atomic():
        result = _bulk_write(list(customers), seed=seed, months=months, today=today, read_every=read_every)
        started = time.perf_counter()
        sample = _sample(result.customer_ids, seed)
        problems = reconcile(Customer.objects.filter(id__in=sample)) if sample else []
        if problems and connection.vendor == "sqlite":
            problems = _exact_problems()  # SQLite sums NUMERIC as floats: see billing.demo
        result.seconds["reconcile (sample)"] = time.perf_counter() - started
        if problems:
            raise DemoHistoryError(
                f"the bulk demo history does not reconcile ({len(problems)} problems): " + "; ".join(problems[:10])
            )
    return result


@dataclass
class DemoBulkResult(DemoHistoryResult):
    read_customers: int = 0
    grades: Counter = field(default_factory=Counter)
    bill_lines: int = 0
    customer_ids: list[int] = field(default_factory=list, repr=False)


def _sample(ids: list[int], seed: int) -> list[int]:
    if len(ids) <= RECONCILED_SAMPLE:
        return list(ids)
    return sorted(random.Random(f"gridcollect-demo-bulk:{seed}:sample").sample(ids, RECONCILED_SAMPLE))


def _bulk_write(customers: list[Customer], *, seed: int, months: int, today: date, read_every: int) -> DemoBulkResult:
    result = DemoBulkResult(months=months)
    yesterday = today - timedelta(days=1)
    periods = _periods(today, months)
    result.periods = [period for period, _ in periods]
    customers = sorted((c for c in customers if c.operating_status != STATUS.CLOSED), key=lambda c: c.account_no)
    billable = [c for c in customers if c.settlement_mode in BILLED_MODES]
    result.customers, result.billable = len(customers), len(billable)
    result.customer_ids = [c.pk for c in customers]
    first_start = min(period_bounds(periods[0][0], day)[0] for day in (25, READING_DAY_MONTH_END))
    readings_from = first_start - timedelta(days=3)

    started = time.perf_counter()
    result.tariffs_assigned = _tariffs_assign(customers, seed, readings_from)
    behaviours = _behaviours(billable, seed, months)
    for customer in billable:
        result.archetypes[behaviours[customer.pk].archetype] += 1
    result.grades = _grades_write(customers, behaviours, seed)
    result.seconds["tariffs, behaviours and grades"] = time.perf_counter() - started

    started = time.perf_counter()
    read = customers[:: max(1, read_every)]
    result.read_customers = len(read)
    result.readings = _readings_write(
        read, behaviours=behaviours, periods=periods, seed=seed, readings_from=readings_from, today=today, result=result
    )
    _statistics_refresh()
    result.seconds["readings"] = time.perf_counter() - started

    started = time.perf_counter()
    tables = _Tables.open(timezone.now())
    rules = list(PenaltyRule.objects.order_by("-valid_from"))
    read_ids = {c.pk for c in read}
    chunks = [billable[offset : offset + CHUNK] for offset in range(0, len(billable), CHUNK)]
    options = {"periods": periods, "read_ids": read_ids, "ids": {Bill: _Ids(Bill), Payment: _Ids(Payment)}}
    with _foreign_keys_suspended(Bill, BillLine, Payment, PaymentAllocation, PenaltyAccrual):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    f"CREATE TEMPORARY TABLE IF NOT EXISTS {_PIECES} (bill_id bigint, first_day date, days integer, "
                    "principal numeric, rate numeric, cross_year boolean, exact_before numeric, "
                    "accrued_before numeric, minimum numeric) ON COMMIT DROP"
                )
        sender = _Sender()
        try:
            loaded = _chunk_load(chunks[0], **options) if chunks else None
            for number, chunk in enumerate(chunks):
                assert loaded is not None
                accounts = _chunk_work(
                    chunk, loaded, behaviours=behaviours, periods=periods, seed=seed, yesterday=yesterday,
                    read_ids=read_ids, rules=rules, result=result,
                )  # fmt: skip
                # The next chunk's reads go first: once this chunk is handed over, the connection is the sender's.
                loaded = _chunk_load(chunks[number + 1], **options) if number + 1 < len(chunks) else None
                _chunk_send(accounts, tables, sender)
        finally:
            sender.close()
    result.bills, result.bill_lines = tables.bills.written, tables.lines.written
    result.payments, result.penalty_rows = tables.payments.written, tables.penalties.written
    _statistics_refresh()
    result.seconds["bills, payments and penalties"] = time.perf_counter() - started

    started = time.perf_counter()
    # The daily jobs for the read customers only (theirs are the only readings); instalments are
    # left out because their service issues them for every instalment customer in the database.
    _daily_history(
        read,
        seed=seed,
        today=today,
        result=result,
        statistics_days=STATISTICS_DAYS,
        forecast_days=FORECAST_DAYS,
        instalments=False,
    )
    result.seconds["daily statistics, forecasts and prepaid (read customers)"] = time.perf_counter() - started
    return result


def _grades_write(customers: list[Customer], behaviours: dict[int, _Behaviour], seed: int) -> Counter:
    by_grade: dict[str, list[int]] = {}
    for customer in customers:
        rng = _stream(seed, f"grade:{customer.account_no}")
        behaviour = behaviours.get(customer.pk)
        if behaviour is not None:
            weights = _GRADES[behaviour.archetype]
        else:
            weights = _PREPAID_GRADES.get(customer.operating_status, _PREPAID_GRADES[STATUS.NORMAL])
        grade = rng.choices(list(weights), weights=list(weights.values()))[0]
        by_grade.setdefault(grade, []).append(customer.pk)
    for grade, ids in by_grade.items():
        for offset in range(0, len(ids), 5000):
            Customer.objects.filter(pk__in=ids[offset : offset + 5000]).update(credit_grade=grade)
    return Counter({grade: len(ids) for grade, ids in by_grade.items()})


@dataclass
class _Loaded:
    """What a chunk needs from the database, read before the previous chunk is sent."""

    book: TariffBook
    measured: dict[tuple[int, int], Usage]
    bill_ids: list[int]
    payment_ids: list[int]


def _chunk_load(
    customers: list[Customer], *, periods: list[tuple[str, date]], read_ids: set[int], ids: dict[type, _Ids]
) -> _Loaded:
    # At most one bill and one payment per customer and month: ids for that many (the unused are gaps).
    most = len(customers) * len(periods)
    return _Loaded(
        book=TariffBook([c.pk for c in customers]),
        measured=_read_usage([c for c in customers if c.pk in read_ids], periods),
        bill_ids=ids[Bill].take(most),
        payment_ids=ids[Payment].take(most),
    )


def _chunk_work(
    customers: list[Customer],
    loaded: _Loaded,
    *,
    behaviours: dict[int, _Behaviour],
    periods: list[tuple[str, date]],
    seed: int,
    yesterday: date,
    read_ids: set[int],
    rules: list[PenaltyRule],
    result: DemoBulkResult,
) -> list[_Account]:
    """Each customer's bills (the bill arithmetic on its usage) and its ledger replayed: no database."""
    book = loaded.book
    prices: dict[int, object] = {}
    end_of_history = periods[-1][1] - timedelta(days=1)
    bounds = {
        (period, day): period_bounds(period, day) for period, _ in periods for day in {c.reading_day for c in customers}
    }
    accounts: list[_Account] = []
    for customer in customers:
        behaviour = behaviours[customer.pk]
        rng = _stream(seed, f"load:{customer.account_no}")
        profile = _profile(customer, rng, behaviour, _trouble_day(behaviour, periods), end_of_history)
        contract = Contract(
            customer.basic_charge_basis,
            Decimal(customer.contracted_capacity_kva),
            Decimal(customer.contract_demand_kw) if customer.contract_demand_kw else None,
        )
        bills: dict[int, _SimBill] = {}
        for index, (period, issued) in enumerate(periods):
            start, end = bounds[(period, customer.reading_day)]
            if customer.pk in read_ids:
                usage = loaded.measured.get((customer.pk, index))
                if usage is None:
                    result.bills_skipped["no_readings"] += 1
                    continue
            else:
                usage = _period_usage(profile, start, end, rng)
            tariff = book.for_customer(customer.pk, end)
            if tariff is None:
                result.bills_skipped["no_tariff"] += 1
                continue
            if tariff.pk not in prices:
                prices[tariff.pk] = tariff_prices(tariff)
            try:
                computation = compute(
                    tariff=prices[tariff.pk],  # type: ignore[arg-type]
                    usage=usage,
                    contract=contract,
                    pf_table=book.pf_tables.get(tariff.pf_standard, {}),
                )
            except ValueError:
                result.bills_skipped["power_factor_table"] += 1
                continue
            due = issued + timedelta(days=customer.payment_terms_days)
            bills[index] = _SimBill(index, period, start, end, issued, due, computation, usage, tariff.pk)
        account = _Account(customer, bills, rules)
        events = _payment_events(
            customer, behaviour, periods, yesterday, _stream(seed, f"payments:{customer.account_no}")
        )
        account.replay(events, yesterday)
        accounts.append(account)

    bill_ids, payment_ids = iter(loaded.bill_ids), iter(loaded.payment_ids)
    today = yesterday + timedelta(days=1)
    for account in accounts:
        for bill in account.bills.values():
            bill.id = next(bill_ids)
        for payment in account.payments:
            payment.id = next(payment_ids)
        overdue = [b for b in account.bills.values() if b.due < today and (b.principal_due > 0 or b.penalty_due > 0)]
        result.paid_bills += sum(1 for b in account.bills.values() if b.status == BillStatusChoices.PAID)
        result.overdue_bills += len(overdue)
        result.customers_in_arrears += any(b.principal_due > 0 for b in overdue)
        result.customers_with_credit += any(p.available > 0 for p in account.payments)
    return accounts


def _chunk_send(accounts: list[_Account], tables: _Tables, sender: _Sender) -> None:
    """The chunk's rows, parents before children: bills, their lines, payments, allocations, penalties."""
    tables.bills.send(
        [(bill.id, account.customer.pk, bill.period, BillKindChoices.MONTHLY,
          f"{bill.period.replace('-', '')}-{account.customer.account_no}", bill.start, bill.end, bill.issued,
          bill.due, bill.status, bill.total, bill.tariff_id, bill.usage.total_kwh, bill.usage.reactive_kvarh,
          bill.usage.max_demand_kw, bill.computation.power_factor)
         for account in accounts
         for bill in account.bills.values()],
        sender,
    )  # fmt: skip
    bills = [bill for account in accounts for bill in account.bills.values()]
    tables.lines.send(
        [
            (bill.id, line.kind, line.description, line.quantity, line.unit_price, line.amount, position)
            for bill in bills
            for position, line in enumerate(bill.computation.lines)
        ],
        sender,
        lambda r: f"{r[0]}\t{r[1]!s}\t{r[2]}\t{r[3]}\t{r[4]}\t{r[5]}\t{r[6]}",
    )
    tables.payments.send(
        [
            (p.id, account.customer.pk, p.amount, p.channel, p.ref, p.at, PaymentStatusChoices.POSTED)
            for account in accounts
            for p in account.payments
        ],
        sender,
        lambda r: f"{r[0]}\t{r[1]}\t{r[2]}\t{r[3]!s}\t{r[4]}\t{r[5]}\t{r[6]!s}",
    )
    tables.allocations.send(
        [
            (payment.id, bill.id, day, penalty, principal)
            for account in accounts
            for payment, bill, day, penalty, principal in account.allocations
        ],
        sender,
        lambda r: f"{r[0]}\t{r[1]}\t{r[2]}\t{r[3]}\t{r[4]}",
    )
    _penalties_send(bills, tables.penalties, sender)


def _read_usage(customers: list[Customer], periods: list[tuple[str, date]]) -> dict[tuple[int, int], Usage]:
    """(customer id, period index) → the usage the billing run reads from the stored readings."""
    out: dict[tuple[int, int], Usage] = {}
    if not customers:
        return out
    by_day: dict[int, list[Customer]] = {}
    for customer in customers:
        by_day.setdefault(customer.reading_day, []).append(customer)
    for reading_day, group in by_day.items():
        for index, (period, _issued) in enumerate(periods):
            start, end = period_bounds(period, reading_day)
            meters: dict[int, list[MeterPoint]] = {}
            rows = MeterPoint.objects.filter(customer__in=group).filter(
                Q(removed_on__isnull=True) | Q(removed_on__gt=start),
                Q(installed_on__isnull=True) | Q(installed_on__lte=end),
            )
            for meter in rows:
                meters.setdefault(meter.customer_id, []).append(meter)
            windows = _boundary_readings([m for ms in meters.values() for m in ms], start, end)
            for customer in group:
                usage = _usage(meters.get(customer.pk, []), windows)
                if usage is not None:
                    out[(customer.pk, index)] = usage
    return out


# ---------------------------------------------------------------------------------------------
# A day's payment import, the same way (the dashboard benchmark's refresh after payments)
# ---------------------------------------------------------------------------------------------
@dataclass
class DemoPaymentsResult:
    payments: int
    allocations: int
    amount: Decimal
    customer_ids: list[int]


def demo_payments_import(*, count: int, day: date | None = None, seed: int = 1) -> DemoPaymentsResult:
    """`count` payments received today (or on `day`) from customers with something open, most paying
    everything they owe, some half of it, allocated as payment_record allocates (penalty through the
    day first, accrued by the real penalties_accrue) and written in bulk like the seed."""
    day = day or timezone.localdate()
    rng = random.Random(f"gridcollect-demo-bulk:{seed}:payments:{day}")
    with transaction.atomic():
        owing = sorted(
            set(
                Bill.objects.filter(issued_on__lte=day)
                .exclude(status=BillStatusChoices.PAID)
                .values_list("customer_id", flat=True)
            )
        )
        ids = sorted(rng.sample(owing, min(count, len(owing))))
        if not ids:
            return DemoPaymentsResult(0, 0, ZERO, [])
        bills_of = Bill.objects.filter(customer_id__in=ids)
        penalties_accrue(through=day, bills=bills_of)
        open_rows = (
            bills_with_balances(bills_of.exclude(status=BillStatusChoices.PAID), penalty_through=day)
            .filter(Q(principal_due__gt=0) | Q(penalty_due__gt=0))
            .order_by("customer_id", "due_on", "id")
            .values_list("id", "customer_id", "principal_due", "penalty_due")
        )
        owed: dict[int, list[tuple[int, Decimal, Decimal]]] = {}
        for bill_id, customer_id, principal, penalty in open_rows:
            owed.setdefault(customer_id, []).append((bill_id, max(principal, ZERO), max(penalty, ZERO)))
        channels = dict(Customer.objects.filter(id__in=ids).values_list("id", "usual_payment_channel"))
        plans = []
        for customer_id in ids:
            total = sum((p + q for _b, p, q in owed.get(customer_id, [])), ZERO)
            amount = total if rng.random() < 0.8 else _round_to(total / 2, HUNDRED)
            if amount > 0:
                plans.append((customer_id, amount.quantize(Decimal("0.01"))))
        now = timezone.now()
        tables = _Tables.open(now)
        sender = _Sender(background=False)
        pks = _Ids(Payment).take(len(plans))
        payment_rows, allocation_rows, touched = [], [], []
        for (customer_id, amount), pk in zip(plans, pks, strict=True):
            channel = channels.get(customer_id) or "bank_transfer"
            payment_rows.append((pk, customer_id, amount, channel, f"IMPORT-{day:%Y%m%d}-{pk}", now, "posted"))
            left = amount
            for bill_id, principal, penalty in owed.get(customer_id, []):
                take_penalty = min(penalty, left)
                take_principal = min(principal, left - take_penalty)
                if take_penalty or take_principal:
                    allocation_rows.append((pk, bill_id, day, take_penalty, take_principal))
                    touched.append(bill_id)
                left -= take_penalty + take_principal
                if left <= 0:
                    break
        tables.payments.send(payment_rows, sender)
        tables.allocations.send(allocation_rows, sender)
        sender.close()
        bill_statuses_refresh(touched)
    return DemoPaymentsResult(
        payments=len(payment_rows),
        allocations=len(allocation_rows),
        amount=sum((row[2] for row in payment_rows), ZERO),
        customer_ids=[row[1] for row in payment_rows],
    )
