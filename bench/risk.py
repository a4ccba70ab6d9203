"""Benchmark 11: a scoring run (`score_run`) over the whole portfolio on PostgreSQL.

`risk_history_prepare()` gives every customer 13 months of monthly bills with their payments
(allocations dated on the day paid) in a mix of payment behaviours, a few broken promises and
arrangements and some guarantees, so every criterion's query has rows to read. The builder and the
measuring function take their sizes as arguments, so a test can run them on a tiny portfolio.
"""

import datetime as dt
import random
import sys
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal

from .common import BenchContext, Figure, median, statement_label, table

TARGET_SECONDS = 60
MONTHS = 13
SMALL_SIZE = 2_000  # the second portfolio size of the query count
TERMS_DAYS = 15  # days from issue to due date of the benchmark's bills
BATCH = 5_000
# Payment behaviour of a block of 100 customers: who pays on time, late, slides into trouble, stops paying.
MIX = {"prompt": 62, "late": 26, "sliding": 7, "arrears": 5}
_PATTERN = [name for name, share in MIX.items() for _ in range(share)]
random.Random(0).shuffle(_PATTERN)


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def _truncate(*models) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(model._meta.db_table for model in models)} CASCADE")


def _risk_tables() -> list:
    from risk.models import CreditScore, PolicyProposal, RiskAlert, ScoringRun

    return [PolicyProposal.history.model, PolicyProposal, RiskAlert, CreditScore, ScoringRun]


@dataclass
class RiskHistory:
    """What `risk_history_prepare` wrote."""

    customers: int
    behaviours: Counter
    bills: int
    payments: int
    promises: int
    arrangements: int
    guarantees: int
    first_period: str
    last_period: str
    seconds: float


def risk_history_prepare(*, day: dt.date, seed: int, months: int = MONTHS) -> RiskHistory:
    """Every customer open (closed ones reopened) and never scored (credit grade empty), with
    `months` monthly bills up to the month before `day`'s and the payments of its behaviour;
    every bill, payment, promise, arrangement, guarantee and score before is removed first.
    PostgreSQL only (TRUNCATE)."""
    from django.utils import timezone

    from billing.models import Bill, BillLine, Guarantee, Payment, PaymentAllocation
    from collection.models import PaymentArrangement, PromiseToPay
    from customers.models import Customer

    started = time.perf_counter()
    _truncate(Bill, Payment, Guarantee, PromiseToPay, PaymentArrangement, *_risk_tables())
    Customer.objects.filter(operating_status="closed").update(operating_status="normal")
    Customer.objects.exclude(credit_grade="").update(credit_grade="")
    rng = random.Random(f"gridcollect-bench-risk:{seed}")
    first_month = _add_months(day.replace(day=1), -months)
    periods = [_add_months(first_month, i) for i in range(months)]
    yesterday = day - dt.timedelta(days=1)

    customers = list(Customer.objects.order_by("id").values_list("id", "contracted_capacity_kva"))
    behaviours: Counter = Counter()
    bills: list = []
    plans: list[tuple[int, str, list[tuple[int, dt.date | None, Decimal]]]] = []  # customer, behaviour, payments
    for index, (customer_id, capacity) in enumerate(customers):
        behaviour = _PATTERN[index % len(_PATTERN)]
        behaviours[behaviour] += 1
        level = Decimal(capacity or 1000) * Decimal(rng.uniform(150, 300))  # kWh a month
        stops = months - rng.randint(4, 8) if behaviour == "arrears" else months
        slides = months - rng.randint(2, 4) if behaviour == "sliding" else months
        payments = []
        for n, start in enumerate(periods):
            issued = _add_months(start, 1)
            due = issued + dt.timedelta(days=TERMS_DAYS)
            trend = Decimal("0.5") if n >= min(stops, slides) - 1 else Decimal(1)  # orders fall before trouble
            kwh = (level * trend * Decimal(rng.uniform(0.9, 1.1))).quantize(Decimal("0.001"))
            total = (kwh * Decimal("0.72")).quantize(Decimal("0.01"))
            bills.append(
                Bill(customer_id=customer_id, period=f"{start.year:04d}-{start.month:02d}", kind="monthly",
                     number=f"RISK-{customer_id}-{n + 1}", issued_on=issued, due_on=due, total=total,
                     total_kwh=kwh)
            )  # fmt: skip
            if n >= stops:
                continue  # nothing paid any more
            if n >= slides:
                payments.append((n, due + dt.timedelta(days=rng.randint(10, 30)), (total / 2).quantize(Decimal("1"))))
                continue
            late = behaviour in ("late", "arrears") and rng.random() < 0.75
            paid_on = (
                due + dt.timedelta(days=rng.randint(5, 40)) if late else due - dt.timedelta(days=rng.randint(0, 10))
            )
            payments.append((n, paid_on, total))
        plans.append((customer_id, behaviour, payments))
    Bill.objects.bulk_create(bills, batch_size=BATCH)
    BillLine.objects.bulk_create([BillLine(bill=b, kind="other", amount=b.total) for b in bills], batch_size=BATCH)

    by_number = {bill.number: bill for bill in bills}
    payment_rows, allocation_rows, paid = [], [], Counter()
    for customer_id, _behaviour, payments in plans:
        for n, paid_on, amount in payments:
            if paid_on > yesterday or amount <= 0:
                continue
            bill = by_number[f"RISK-{customer_id}-{n + 1}"]
            at = timezone.make_aware(dt.datetime.combine(paid_on, dt.time(10)))
            payment = Payment(customer_id=customer_id, amount=amount, channel="bank_transfer",
                              external_ref=f"RISK-{bill.pk}", received_at=at)  # fmt: skip
            payment_rows.append(payment)
            allocation_rows.append(
                PaymentAllocation(payment=payment, bill=bill, principal=amount, allocated_on=paid_on)
            )
            paid[bill.pk] += amount
    Payment.objects.bulk_create(payment_rows, batch_size=BATCH)
    PaymentAllocation.objects.bulk_create(allocation_rows, batch_size=BATCH)
    for status, ids in (
        ("paid", [b.pk for b in bills if paid[b.pk] >= b.total]),
        ("partly_paid", [b.pk for b in bills if 0 < paid[b.pk] < b.total]),
    ):
        for offset in range(0, len(ids), BATCH):
            Bill.objects.filter(pk__in=ids[offset : offset + BATCH]).update(status=status)

    # Commitments of the late and troubled, and guarantees held by one customer in ten.
    promises, arrangements, guarantees = [], [], []
    for customer_id, behaviour, _payments in plans:
        if behaviour != "prompt" and rng.random() < 0.4:
            made = day - dt.timedelta(days=rng.randint(20, 300))
            broken = behaviour in ("sliding", "arrears") or rng.random() < 0.3
            promises.append(
                PromiseToPay(customer_id=customer_id, promised_on=made + dt.timedelta(days=7), made_on=made,
                             amount=Decimal(rng.randint(10_000, 500_000)), status="broken" if broken else "kept",
                             resolved_on=made + dt.timedelta(days=8))
            )  # fmt: skip
        if behaviour == "arrears" and rng.random() < 0.3:
            arrangements.append(
                PaymentArrangement(customer_id=customer_id, total=Decimal(rng.randint(100_000, 2_000_000)),
                                   status="active", made_on=day - dt.timedelta(days=rng.randint(5, 60)))
            )  # fmt: skip
        if rng.random() < 0.1:
            guarantees.append(
                Guarantee(customer_id=customer_id, kind="deposit", amount=Decimal(rng.randint(100_000, 3_000_000)),
                          valid_from=day - dt.timedelta(days=rng.randint(30, 700)))
            )  # fmt: skip
    PromiseToPay.objects.bulk_create(promises, batch_size=BATCH)
    PaymentArrangement.objects.bulk_create(arrangements, batch_size=BATCH)
    Guarantee.objects.bulk_create(guarantees, batch_size=BATCH)
    _analyze(Bill, BillLine, Payment, PaymentAllocation, PromiseToPay, PaymentArrangement, Guarantee, Customer)
    return RiskHistory(
        customers=len(customers),
        behaviours=behaviours,
        bills=len(bills),
        payments=len(payment_rows),
        promises=len(promises),
        arrangements=len(arrangements),
        guarantees=len(guarantees),
        first_period=f"{periods[0]:%Y-%m}",
        last_period=f"{periods[-1]:%Y-%m}",
        seconds=time.perf_counter() - started,
    )


def _analyze(*models) -> None:
    """Planner statistics for the bulk-loaded tables, as the nightly autovacuum would leave them."""
    from django.db import connection

    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


# ---------------------------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------------------------
class _Probe:
    """Wall-clock time per part of the run (the named functions of risk.services, wrapped with timers
    without changing them) and the SQL statements run inside each part, counted and timed by a
    Django execute wrapper (no limit on the count, unlike Django's query log)."""

    PARTS = ("gather", "score", "_store", "_propose", "customer_grades_set", "customer_update")

    def __init__(self) -> None:
        self.stack: list[str] = []
        self.seconds: Counter = Counter()  # part → inclusive seconds
        self.calls: Counter = Counter()
        self.sql_seconds: Counter = Counter()  # (part, statement label) → seconds
        self.sql_calls: Counter = Counter()

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            key = (self.stack[-1] if self.stack else "score_run", statement_label(sql))
            self.sql_seconds[key] += time.perf_counter() - started
            self.sql_calls[key] += 1

    def _timed(self, name: str, function):
        def wrapper(*args, **kwargs):
            self.stack.append(name)
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - started
                self.calls[name] += 1
                self.stack.pop()

        return wrapper

    @contextmanager
    def installed(self):
        from django.db import connection

        from risk import services

        patched = []
        for name in self.PARTS:
            original = getattr(services, name, None)
            if callable(original):
                setattr(services, name, self._timed(name, original))
                patched.append((name, original))
        try:
            with connection.execute_wrapper(self):
                yield self
        finally:
            for name, original in patched:
                setattr(services, name, original)

    @property
    def queries(self) -> int:
        return sum(self.sql_calls.values())

    @property
    def reads(self) -> int:
        return sum(n for (_part, label), n in self.sql_calls.items() if label.startswith("SELECT"))

    def part_queries(self, part: str) -> int:
        """Statements run inside a part, including the parts it calls."""
        inner = {"_store": ("_store", "_propose", "customer_grades_set", "customer_update")}.get(part, (part,))
        return sum(n for (p, _label), n in self.sql_calls.items() if p in inner)

    def parts(self, total: float) -> list[list[object]]:
        """Exclusive time per part: its own Python and SQL, not the parts it calls."""
        own = dict(self.seconds)
        if "_store" in own:
            own["_store"] -= sum(
                own.get(inner, 0.0) for inner in ("_propose", "customer_grades_set", "customer_update")
            )
        names = {
            "gather": "`gather`: the criteria's inputs, set-based per chunk",
            "score": "`score`: points, grade and reasons (pure Python)",
            "_store": "`_store`: save the scores, grade-fall alerts",
            "_propose": "`_propose`: the grade policy's proposals, per customer",
            "customer_grades_set": "`customer_grades_set`: the changed grades on the archive, one UPDATE a grade",
            "customer_update": "`customer_update`: the grade on the archive (validation, history)",
        }
        rows = []
        for part, seconds in sorted(own.items(), key=lambda item: -item[1]):
            sql = sum(s for (p, _l), s in self.sql_seconds.items() if p == part)
            count = sum(n for (p, _l), n in self.sql_calls.items() if p == part)
            rows.append([names.get(part, part), Figure(f"{seconds:.2f}"), Figure(f"{100 * seconds / total:.0f} %"),
                         self.calls[part], count, Figure(f"{sql:.2f}")])  # fmt: skip
        rest = total - sum(own.values())
        sql = sum(s for (p, _l), s in self.sql_seconds.items() if p == "score_run")
        count = sum(n for (p, _l), n in self.sql_calls.items() if p == "score_run")
        rows.append(["the rest of `score_run`: loading the customers, the run's progress", Figure(f"{rest:.2f}"),
                     Figure(f"{100 * rest / total:.0f} %"), "–", count, Figure(f"{sql:.2f}")])  # fmt: skip
        return rows

    def busiest(self, limit: int = 12) -> list[list[object]]:
        """The statements that took the most time, by part and label."""
        return [
            [part, f"`{label}`", self.sql_calls[(part, label)], Figure(f"{seconds:.2f}")]
            for (part, label), seconds in self.sql_seconds.most_common(limit)
        ]


@dataclass
class ScoringFigures:
    customers: int = 0
    first: list[float] = field(default_factory=list)  # seconds of each first run (nobody scored before)
    probes: list[_Probe] = field(default_factory=list)
    next_day: float = float("nan")  # a run the next day, the grades already in place
    next_day_probe: _Probe | None = None
    grades: Counter = field(default_factory=Counter)
    proposals: int = 0
    alerts: int = 0


def _reset(history_top: int) -> None:
    """Back to a portfolio never scored: no scores, runs, proposals or alerts, no grade on the
    archive, and the archive's history rows the run wrote removed."""
    from customers.models import Customer

    _truncate(*_risk_tables())
    Customer.objects.exclude(credit_grade="").update(credit_grade="")
    Customer.history.model.objects.filter(history_id__gt=history_top).delete()


def _history_top() -> int:
    from django.db.models import Max

    from customers.models import Customer

    return Customer.history.model.objects.aggregate(m=Max("history_id"))["m"] or 0


def _timed_run(as_of: dt.date) -> tuple[float, _Probe]:
    from risk.services import score_run

    probe = _Probe()
    with probe.installed():
        started = time.perf_counter()
        run = score_run(as_of=as_of)
        seconds = time.perf_counter() - started
    if run.status != "done" or run.done != run.total:
        raise RuntimeError(f"scoring run of {as_of}: {run.status}, {run.done:,} of {run.total:,} scored")
    return seconds, probe


def scoring_measure(*, day: dt.date, runs: int, budget: float, next_day: bool = True) -> ScoringFigures:
    """`runs` first runs (each from a portfolio never scored, within `budget` seconds after the
    first), then with next_day one more run the next day on top of the last."""
    from risk.models import CreditScore, PolicyProposal, RiskAlert
    from risk.services import _scoreable

    figures = ScoringFigures(customers=_scoreable().count())
    top = _history_top()
    budget_end = time.perf_counter() + budget
    for number in range(runs):
        if number and time.perf_counter() > budget_end:
            break
        _reset(top)
        seconds, probe = _timed_run(day)
        figures.first.append(seconds)
        figures.probes.append(probe)
        print(f"bench:   scoring run {number + 1}: {seconds:.1f} s, {probe.queries:,} queries", file=sys.stderr,
              flush=True)  # fmt: skip
    figures.grades = Counter(CreditScore.objects.filter(as_of=day).values_list("grade", flat=True))
    figures.proposals = PolicyProposal.objects.count()
    figures.alerts = RiskAlert.objects.count()
    if next_day:
        figures.next_day, figures.next_day_probe = _timed_run(day + dt.timedelta(days=1))
        print(f"bench:   next day's run: {figures.next_day:.1f} s", file=sys.stderr, flush=True)
    _reset(top)
    return figures


@contextmanager
def _only_first(count: int):
    """Only the first `count` customers (by id) open: the others count as closed, which the
    scoring skips, for the smaller measurement; their statuses are put back afterwards."""
    from customers.models import Customer

    keep = list(Customer.objects.order_by("id").values_list("id", flat=True)[:count])
    others = Customer.objects.exclude(pk__in=keep).exclude(operating_status="closed")
    saved = {status: list(ids) for status, ids in _by_status(others).items()}
    others.update(operating_status="closed")
    try:
        yield
    finally:
        for status, ids in saved.items():
            for offset in range(0, len(ids), BATCH):
                Customer.objects.filter(pk__in=ids[offset : offset + BATCH]).update(operating_status=status)


def _by_status(queryset) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for pk, status in queryset.values_list("pk", "operating_status"):
        out.setdefault(status, []).append(pk)
    return out


def bench_scoring(ctx: BenchContext) -> str:
    from django.conf import settings
    from django.utils import timezone

    day = timezone.localdate()
    print("bench:   13 months of bills and payments (not timed) ...", file=sys.stderr, flush=True)
    history = risk_history_prepare(day=day, seed=ctx.seed)
    small = min(SMALL_SIZE, max(1, history.customers // 5))
    with _only_first(small):
        small_figures = scoring_measure(day=day, runs=1, budget=ctx.phase_seconds)
    figures = scoring_measure(day=day, runs=ctx.runs, budget=ctx.phase_seconds)
    chunk = settings.RISK_SCORING_CHUNK

    ordered = sorted(range(len(figures.first)), key=figures.first.__getitem__)
    middle = ordered[(len(ordered) - 1) // 2]
    seconds, probe = figures.first[middle], figures.probes[middle]
    rate = figures.customers / seconds
    results = table(
        [
            "run",
            "customers",
            "runs",
            "median s",
            "min–max s",
            "customers/s",
            "statements",
            f"target ≤ {TARGET_SECONDS} s",
        ],
        [
            [
                "first scoring (every grade written)",
                figures.customers,
                len(figures.first),
                round(median(figures.first), 1),
                Figure(f"{min(figures.first):.1f}–{max(figures.first):.1f}"),
                round(rate),
                probe.queries,
                "**met**" if median(figures.first) <= TARGET_SECONDS else "**missed**",
            ],
            [
                "the next day (grades in place)",
                figures.customers,
                1,
                round(figures.next_day, 1),
                Figure(f"{figures.next_day:.1f}"),
                round(figures.customers / figures.next_day),
                figures.next_day_probe.queries if figures.next_day_probe else 0,
                "–",
            ],
        ],
    )
    small_probe = small_figures.probes[0]
    queries = table(
        ["customers", "chunks", "first run: statements", "reads (SELECT)", "of them in `gather`",
         "writes (UPDATE, INSERT, savepoints)", "next day: statements", "next day: writes"],
        [
            [size, -(-size // chunk), p.queries, p.reads, p.part_queries("gather"), p.queries - p.reads,
             f.next_day_probe.queries, f.next_day_probe.queries - f.next_day_probe.reads]
            for size, f, p in [(small, small_figures, small_probe), (figures.customers, figures, probe)]
        ],
    )  # fmt: skip
    mix = ", ".join(f"{history.behaviours[name]:,} {name}" for name in MIX)
    grades = ", ".join(f"{grade} {figures.grades[grade]:,}" for grade in sorted(figures.grades))
    return "\n\n".join(
        [
            "## 11. Credit scoring run (`score_run`)",
            f"All {history.customers:,} customers of the portfolio (closed ones reopened, none scored before: "
            f"credit grades empty), each with {MONTHS} monthly bills ({history.first_period} to "
            f"{history.last_period}, due {TERMS_DAYS} days after issue; {history.bills:,} bills) and "
            f"{history.payments:,} payments allocated to them on the day paid, in a fixed mix of behaviours per "
            f"block of 100 customers: {mix} (late: three bills in four paid 5–40 days late; sliding: the last 2–4 "
            "bills half paid; arrears: nothing paid for the last 4–8 months; consumption halves before the "
            f"trouble). {history.promises:,} promises (kept or broken) and {history.arrangements:,} active "
            f"arrangements in the year, {history.guarantees:,} deposits held. Building this took "
            f"{history.seconds:.0f} s (not timed).",
            f"**Method.** `score_run(as_of={day})` with the published default scorecard, in-process on the "
            f"benchmark database, timed from the call to the run's `done` (chunks of {chunk:,} customers, each its "
            "own transaction): the criteria gathered, every customer scored, the scores stored, the grade written "
            "on the archive, the grade policy's proposals made. Each first run starts from a portfolio never "
            "scored: scores, runs, proposals and alerts emptied, credit grades cleared and the archive history rows "
            f"of the run before removed (not timed). {len(figures.first)} first run(s), the median quoted; then "
            f"one run for {day + dt.timedelta(days=1)} on top of the last (grades and open proposals in place). "
            "Queries are counted by a Django execute wrapper; the smaller size is the first "
            f"{small:,} customers (by id), the others counted as closed for that run, which the scoring skips. "
            f"Result of the first runs: {grades}; {figures.proposals:,} proposals, {figures.alerts:,} alerts.",
            results,
            "Statements per run at two portfolio sizes (first run, and the next day's on top of it). The reads "
            f"are set-based: {small_probe.part_queries('gather') // -(-small // chunk)} statements per chunk of "
            f"{chunk:,} in `gather`, a handful more in `_store`. What grows with the customers are the writes of a "
            "first run: the grades that changed, one UPDATE per grade a chunk "
            "(`customers.services.customer_grades_set`), and the policy proposals and their history rows, two "
            "bulk INSERTs a chunk. The next day, with the grades and the proposals in place, there are next "
            "to none.",
            queries,
            "Before this benchmark `_store` wrote the grade with `customer_update` (model validation of every "
            "field and constraint, an archive history row: 35 statements a customer), and `_propose` read the "
            "grade policy, the open proposals and the recent rejections per customer and saved each proposal "
            "with its history row one by one: a first run of 1,000 "
            "customers made 38,935 statements and took 71 s on this machine (extrapolated to 10,000 customers, "
            "about 12 minutes). Now the grades are one UPDATE per grade a chunk, those reads one query per chunk "
            "each and the proposals two bulk INSERTs per chunk.",
            "**Where the time goes** (the median first run). The named functions of `risk.services` are wrapped "
            "with timers without changing them; the SQL columns are the statements run directly inside each "
            "part (not in the parts it calls).",
            table(
                ["part of the run", "seconds", "share", "calls", "SQL statements", "SQL seconds"], probe.parts(seconds)
            ),  # fmt: skip
            "The statements that took the most time (part of the run, statement, count, seconds):",
            table(["part", "statement", "calls", "seconds"], probe.busiest()),
        ]
    )
