"""Benchmarks 9 and 10: the dunning run over the portfolio, and a collector's worklist page, on PostgreSQL.

Both start from the same arrears, built by `arrears_prepare()`: five open bills a week apart for
every customer, half of the customers behind at ages from a day to two months, with the notices
the ladder had already served for those arrears, so one run produces every kind of step. The
builders and the measuring functions take their sizes as arguments, so tests/bench runs them on a
tiny portfolio.
"""

import datetime as dt
import os
import random
import sys
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from .common import BenchContext, Figure, Latencies, median, table

if TYPE_CHECKING:  # the benchmarks import Django's models only once django.setup() has run
    from django.contrib.auth.models import User

    from collection.services import DunningRunResult

TARGET_DUNNING_SECONDS = 20
TARGET_WORKLIST_P95_MS = 200
BILLS_PER_CUSTOMER = 5
BILL_SPACING_DAYS = 7  # five instalment bills a week apart: large customers settle several times a month
SMALL_SIZE = 2_000  # the second portfolio size of the query count
WORKLIST_CUSTOMERS = 300
WORKLIST_WARM_UP = 10
WORKLIST_PATH = "/collection/worklist/"
LOCAL_HOST = "127.0.0.1"  # run.py allows only this host name
OUTBOX_BATCH = 1000  # customers.notifications.notifications_queue_many's batch_size

# The mix of a block of 50 customers (shares of the portfolio): which ladder state their arrears are
# in before the run, and the range of days their oldest open bill is overdue.
MIX: dict[str, tuple[int, int, int]] = {
    "current": (20, -27, 0),  # nothing overdue (the first bill falls due today or within four weeks)
    "reminder": (10, 1, 9),  # newly overdue, nothing served yet: a reminder is sent
    "demand": (10, 10, 30),  # a reminder served: a demand is sent and a case opened
    "suspension": (6, 31, 60),  # reminder and demand served, case open: a suspension notice is proposed
    "complete": (2, 34, 60),  # the whole ladder served, suspension 3+ days ago: nothing new
    "arranged": (1, 10, 40),  # reminder and demand served, an active payment arrangement: nothing new
    "paid": (1, -27, 0),  # paid since a suspension notice was proposed: the proposal is cancelled, the case closed
}
BLOCK = sum(share for share, _lo, _hi in MIX.values())
# The categories of a block, interleaved in a fixed order, so any run of 50 customers has the whole mix.
_PATTERN = [name for name, (share, _lo, _hi) in MIX.items() for _ in range(share)]
random.Random(0).shuffle(_PATTERN)
WORKLIST_REASONS = (
    "Newly overdue",
    "Promise due today",
    "Promise broken",
    "Call after the demand",
    "Suspension notice period has run",
    "Notice not delivered",
    "Prepaid balance near zero",
    "Guarantee expiring",
)


def _local(day: dt.date, hour: int = 10) -> dt.datetime:
    from django.utils import timezone

    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def _empty(*models) -> None:
    """Remove every row of the given tables and of what hangs off them: TRUNCATE … CASCADE in the
    benchmark (autocommit, PostgreSQL), ordinary deletes in the given order inside a test's transaction."""
    from django.db import connection

    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {', '.join(model._meta.db_table for model in models)} CASCADE")
        return
    for model in models:
        model._base_manager.all().delete()


def _arrears_tables() -> list:
    from billing.models import (
        AdjustmentNote,
        Bill,
        BillLine,
        PaymentAllocation,
        PenaltyAccrual,
        PenaltyWaiver,
    )
    from collection.models import (
        Activity,
        ArrangementInstalment,
        CollectionCase,
        DunningNotice,
        PaymentArrangement,
        PromiseToPay,
    )
    from customers.models import Notification

    return [
        DunningNotice.notifications.through,
        DunningNotice.history.model,
        DunningNotice,
        ArrangementInstalment,
        PaymentArrangement,
        PromiseToPay.history.model,
        PromiseToPay,
        Activity,
        CollectionCase,
        Notification,
        PaymentAllocation,
        PenaltyAccrual,
        PenaltyWaiver,
        AdjustmentNote,
        BillLine,
        Bill,
    ]


@dataclass
class Arrears:
    """What `arrears_prepare` wrote."""

    customers: int
    categories: Counter
    bills: int
    overdue_bills: int
    penalty_rows: int
    notices: int
    messages: int  # the served notices' messages in the outbox
    contacts: int  # contacts of these customers who receive payment notices
    seconds: float


def arrears_prepare(*, customers: int, day: dt.date, seed: int) -> Arrears:
    """The first `customers` customers (by id) with five open bills each and the ladder state of
    MIX; every bill, notice, case, promise, arrangement and message before is removed first."""
    from billing.models import Bill, BillLine
    from billing.services.penalties import penalties_accrue
    from collection.models import CollectionCase, DunningLevel, DunningNotice, PaymentArrangement
    from customers.models import Contact, Customer

    started = time.perf_counter()
    _empty(*_arrears_tables())
    ids = list(Customer.objects.order_by("id").values_list("id", flat=True)[:customers])
    if len(ids) < customers:
        raise RuntimeError(f"the benchmark needs {customers:,} customers, the portfolio has {len(ids):,}")
    levels = {level.code: level for level in DunningLevel.objects.filter(policy__is_default=True)}
    rng = random.Random(f"gridcollect-bench-arrears:{seed}")

    categories: Counter = Counter()
    bills: list[Bill] = []
    plan: list[tuple[int, str, int]] = []  # customer, category, days the oldest bill is overdue
    for index, customer_id in enumerate(ids):
        category = _PATTERN[index % BLOCK]
        share, low, high = MIX[category]
        # Spread the ages over the category's range: the n-th customer of the category in a block
        # gets the next age, shifted by one every block, so every age occurs.
        slot = categories[category] % share + index // BLOCK
        age = low + slot % (high - low + 1)
        categories[category] += 1
        plan.append((customer_id, category, age))
        for n in range(BILLS_PER_CUSTOMER):
            due = day - dt.timedelta(days=age - n * BILL_SPACING_DAYS)
            issued = due - dt.timedelta(days=15)
            bills.append(
                Bill(
                    customer_id=customer_id,
                    period=f"{issued.year:04d}-{issued.month:02d}",
                    kind="instalment",
                    number=f"BENCH-{customer_id}-{n + 1}",
                    issued_on=issued,
                    due_on=due,
                    total=Decimal(rng.randint(5_000_000, 50_000_000)) / 100,
                )
            )
    Bill.objects.bulk_create(bills, batch_size=5000)
    BillLine.objects.bulk_create(
        [BillLine(bill=bill, kind="other", amount=bill.total) for bill in bills], batch_size=5000
    )
    # Every overdue day's late-payment penalty, as the nightly job leaves it through yesterday.
    penalty_rows = penalties_accrue(through=day - dt.timedelta(days=1))

    # The ladder so far: what an earlier run served for these arrears (the episode is the oldest bill).
    served = {"demand": ["reminder"], "suspension": ["reminder", "demand"], "arranged": ["reminder", "demand"]}
    served["complete"] = ["reminder", "demand", "suspension"]
    first_bill = {bill.customer_id: bill for bill in reversed(bills)}
    amounts: dict[int, Decimal] = {}
    for bill in bills:
        amounts[bill.customer_id] = amounts.get(bill.customer_id, Decimal(0)) + bill.total
    notices, cases, arrangements = [], [], []
    for customer_id, category, _age in plan:
        episode = first_bill[customer_id]
        for code in served.get(category, []):
            sent_on = episode.due_on + dt.timedelta(days=levels[code].days_overdue)
            notices.append(
                DunningNotice(
                    customer_id=customer_id,
                    level=levels[code],
                    episode_bill=episode,
                    status="sent",
                    proposed_on=sent_on,
                    overdue_days=levels[code].days_overdue,
                    amount_due=amounts[customer_id],
                    sent_at=_local(sent_on),
                )
            )
        if category == "paid":
            notices.append(
                DunningNotice(
                    customer_id=customer_id,
                    level=levels["suspension"],
                    episode_bill=episode,
                    status="proposed",
                    proposed_on=day - dt.timedelta(days=1),
                    overdue_days=31,
                    amount_due=amounts[customer_id],
                )
            )
        if category in ("suspension", "complete", "arranged", "paid"):
            opened = max(episode.due_on + dt.timedelta(days=10), day - dt.timedelta(days=30))
            cases.append(
                CollectionCase(customer_id=customer_id, opened_on=opened, arrears_at_opening=amounts[customer_id])
            )
        if category == "arranged":
            arrangements.append(
                PaymentArrangement(
                    customer_id=customer_id,
                    total=amounts[customer_id],
                    status="active",
                    made_on=day - dt.timedelta(days=2),
                )
            )
    DunningNotice.objects.bulk_create(notices, batch_size=5000)
    CollectionCase.objects.bulk_create(cases, batch_size=5000)
    PaymentArrangement.objects.bulk_create(arrangements, batch_size=5000)
    messages = _served_messages([notice for notice in notices if notice.status == "sent"])
    contacts = Contact.objects.filter(customer_id__in=ids, receives_dunning=True).count()
    _analyze()
    return Arrears(
        customers=len(ids),
        categories=categories,
        bills=len(bills),
        overdue_bills=sum(1 for bill in bills if bill.due_on < day),
        penalty_rows=penalty_rows,
        notices=len(notices),
        messages=messages,
        contacts=contacts,
        seconds=time.perf_counter() - started,
    )


def _served_messages(notices: list) -> int:
    """The outbox rows the served notices left (sent, to the contacts who receive notices), linked
    to their notices as a run links them: a live outbox is never empty."""
    from django.db.models import F

    from collection.models import DunningNotice
    from customers.models import Notification
    from customers.notifications import notice_targets

    targets = notice_targets({notice.customer_id for notice in notices})
    rows = [
        Notification(
            customer_id=notice.customer_id,
            contact=target.contact,
            channel=target.channel,
            recipient=target.recipient,
            kind=f"dunning_{notice.level.code}",
            subject=notice.level.subject_en,
            body=notice.level.short_en or notice.level.template_en,
            status="sent",
            attempts=1,
            sent_at=notice.sent_at,
            dedupe_key=f"dunning:{notice.pk}:{target.contact.pk}",
        )
        for notice in notices
        for target in targets.get(notice.customer_id, [])
    ]
    Notification.objects.bulk_create(rows, batch_size=5000)
    Notification.objects.filter(pk__in=[row.pk for row in rows]).update(created_at=F("sent_at"))
    Link = DunningNotice.notifications.through
    Link.objects.bulk_create(
        [Link(dunningnotice_id=int(row.dedupe_key.split(":")[1]), notification_id=row.pk) for row in rows],
        batch_size=5000,
    )
    return len(rows)


def _analyze() -> None:
    """Planner statistics of the tables just written, as a live database has them (benchmark 3
    shows what a plan made from an empty table's statistics costs)."""
    from django.db import connection

    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {', '.join(model._meta.db_table for model in _arrears_tables())}")


# ---------------------------------------------------------------------------------------------
# Benchmark 9: the dunning run
# ---------------------------------------------------------------------------------------------
@dataclass
class _Snapshot:
    notice: int
    history: int
    notification: int
    case: int
    proposed: list[int]
    open_cases: list[int]


def _snapshot() -> _Snapshot:
    from django.db.models import Max

    from collection.models import CollectionCase, DunningNotice
    from customers.models import Notification

    def top(queryset, name: str = "pk") -> int:
        return queryset.aggregate(m=Max(name))["m"] or 0

    return _Snapshot(
        notice=top(DunningNotice.objects),
        history=top(DunningNotice.history.model.objects, "history_id"),
        notification=top(Notification.objects),
        case=top(CollectionCase.objects),
        proposed=list(DunningNotice.objects.filter(status="proposed").values_list("pk", flat=True)),
        open_cases=list(CollectionCase.objects.filter(status="open").values_list("pk", flat=True)),
    )


def _restore(snapshot: _Snapshot) -> None:
    """Undo a run: remove what it wrote, reopen what it cancelled or closed."""
    from django.db import transaction

    from collection.models import CollectionCase, DunningNotice
    from customers.models import Notification

    with transaction.atomic():
        DunningNotice.notifications.through.objects.filter(dunningnotice_id__gt=snapshot.notice).delete()
        DunningNotice.history.model.objects.filter(history_id__gt=snapshot.history).delete()
        DunningNotice.objects.filter(pk__gt=snapshot.notice).delete()
        Notification.objects.filter(pk__gt=snapshot.notification).delete()
        CollectionCase.objects.filter(pk__gt=snapshot.case).delete()
        DunningNotice.objects.filter(pk__in=snapshot.proposed).update(status="proposed", decided_at=None)
        CollectionCase.objects.filter(pk__in=snapshot.open_cases).update(status="open", closed_on=None)


@dataclass
class DunningFigures:
    first: list[float] = field(default_factory=list)  # seconds of each repetition's first run
    second: list[float] = field(default_factory=list)  # … and of its second run the same day
    result: "DunningRunResult | None" = None  # the first run's
    notices: Counter = field(default_factory=Counter)  # (level code, status) of the notices it wrote
    messages: int = 0
    queries_first: int = 0
    queries_second: int = 0
    capped: bool = False  # the query log's limit was reached: the counts are lower bounds


def _run_pair(day: dt.date, figures: DunningFigures, *, count_queries: bool) -> None:
    """A first and a second run of the day, the second checked to change nothing; then undone."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from collection.models import DunningNotice
    from collection.services import dunning_run
    from customers.models import Notification

    snapshot = _snapshot()
    try:
        timings = []
        results = []
        counts = []
        for _run in range(2):
            with CaptureQueriesContext(connection) if count_queries else _Nothing() as captured:
                started = time.perf_counter()
                results.append(dunning_run(day=day))
                timings.append(time.perf_counter() - started)
            if count_queries:
                counts.append(len(captured))
                figures.capped |= len(captured) >= connection.queries_limit
            if not _run:
                written = DunningNotice.objects.filter(pk__gt=snapshot.notice)
                notices = Counter(written.values_list("level__code", "status"))
                messages = Notification.objects.filter(pk__gt=snapshot.notification).count()
        first, second = results
        if any(getattr(second, name) for name in ("proposed", "sent", "cancelled", "cases_opened", "cases_closed")):
            raise RuntimeError(f"the second dunning run of {day} was not idempotent: {second}")
        if DunningNotice.objects.filter(pk__gt=snapshot.notice).count() != sum(notices.values()) or (
            Notification.objects.filter(pk__gt=snapshot.notification).count() != messages
        ):
            raise RuntimeError(f"the second dunning run of {day} wrote notices or messages")
        if first.proposed != sum(notices.values()) or not first.proposed:
            raise RuntimeError(f"the first dunning run of {day} proposed {first.proposed}, wrote {notices}")
        if count_queries:
            figures.queries_first, figures.queries_second = counts
        else:
            figures.first.append(timings[0])
            figures.second.append(timings[1])
        if figures.result is None:
            figures.result, figures.notices, figures.messages = first, notices, messages
    finally:
        _restore(snapshot)


class _Nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def dunning_measure(*, day: dt.date, runs: int, budget: float, count_queries: bool = True) -> DunningFigures:
    """`runs` timed repetitions (first run, second run, undo), within `budget` seconds after the
    first; then, with count_queries, one more whose statements are counted (not timed: the query
    log's bookkeeping would be in the time)."""
    figures = DunningFigures()
    budget_end = time.perf_counter() + budget
    for number in range(runs):
        if number and time.perf_counter() > budget_end:
            break
        _run_pair(day, figures, count_queries=False)
        print(
            f"bench:   dunning run {number + 1}: {figures.first[-1]:.1f} s, again {figures.second[-1]:.1f} s",
            file=sys.stderr,
            flush=True,
        )
    if count_queries:
        _run_pair(day, figures, count_queries=True)
    return figures


def _level_count(figures: DunningFigures, code: str, status: str) -> int:
    return figures.notices.get((code, status), 0)


def _queries(figures: DunningFigures, which: str) -> object:
    count = getattr(figures, f"queries_{which}")
    return Figure(f"≥ {count:,}") if figures.capped else count


def bench_dunning(ctx: BenchContext) -> str:
    from django.utils import timezone

    from customers.models import Customer

    day = timezone.localdate()
    total = Customer.objects.count()
    small = max(BLOCK, min(SMALL_SIZE, total // 5))
    print(f"bench:   arrears of {small:,} customers (not timed) ...", file=sys.stderr, flush=True)
    arrears_prepare(customers=small, day=day, seed=ctx.seed)
    small_figures = dunning_measure(day=day, runs=1, budget=ctx.phase_seconds)
    print(f"bench:   arrears of {total:,} customers (not timed) ...", file=sys.stderr, flush=True)
    arrears = arrears_prepare(customers=total, day=day, seed=ctx.seed)
    ctx.facts["arrears"] = (total, day)
    load_before = os.getloadavg()[0]
    figures = dunning_measure(day=day, runs=ctx.runs, budget=ctx.phase_seconds)
    load_after = os.getloadavg()[0]

    sizes = [(small, small_figures), (total, figures)]
    results = table(
        [
            "customers",
            "open bills",
            "runs",
            "first run, median s",
            "min–max s",
            "second run, median s",
            "reminders sent",
            "demands sent",
            "suspension notices proposed",
            "messages queued",
            "cases opened",
            "cancelled / cases closed",
            f"target ≤ {TARGET_DUNNING_SECONDS} s",
        ],
        [
            [
                size,
                size * BILLS_PER_CUSTOMER,
                len(f.first),
                round(median(f.first), 1),
                Figure(f"{min(f.first):.1f}–{max(f.first):.1f}"),
                round(median(f.second), 1),
                _level_count(f, "reminder", "sent"),
                _level_count(f, "demand", "sent"),
                _level_count(f, "suspension", "proposed"),
                f.messages,
                f.result.cases_opened,
                Figure(f"{f.result.cancelled:,} / {f.result.cases_closed:,}"),
                ("**met**" if median(f.first) <= TARGET_DUNNING_SECONDS else "**missed**") if size == total else "–",
            ]
            for size, f in sizes
        ],
    )
    queries = table(
        [
            "customers",
            "overdue customers",
            "notices written",
            "messages queued",
            "queries, first run",
            "queries, second run",
        ],
        [
            [
                size,
                f.result.customers_overdue,
                sum(f.notices.values()),
                f.messages,
                _queries(f, "first"),
                _queries(f, "second"),
            ]
            for size, f in sizes
        ],
    )
    mix = ", ".join(
        f"{arrears.categories[name]:,} {label}"
        for name, label in [
            ("current", "not overdue"),
            ("reminder", "1–9 days overdue with nothing served"),
            ("demand", "10–30 days with a reminder served"),
            ("suspension", "31–60 days with reminder and demand served and a case open"),
            ("complete", "34–60 days with the whole ladder served (suspension notice 3+ days ago)"),
            ("arranged", "10–40 days with an active payment arrangement"),
            ("paid", "not overdue any more, with a pending suspension proposal and an open case"),
        ]
    )
    return "\n\n".join(
        [
            "## 9. Dunning run (`dunning_run`)",
            f"The first customers of the portfolio (by id; all {total:,} for the timed figures) with "
            f"{BILLS_PER_CUSTOMER} open instalment bills each, due a week apart ({arrears.bills:,} bills for "
            f"{total:,} customers, {arrears.overdue_bills:,} of them past due on {day}), in a fixed mix: {mix}. "
            f"The late-payment penalty of every overdue day is accrued through yesterday by `penalties_accrue` "
            f"({arrears.penalty_rows:,} rows), and the ladder's earlier steps are there as notices of the "
            f"default policy ({arrears.notices:,}), the served ones with their messages in the outbox "
            f"({arrears.messages:,}). The contacts of these customers who receive payment notices "
            f"({arrears.contacts:,}) get the new messages. Building this took {arrears.seconds:.0f} s, "
            "ANALYZE of the tables written included (not timed).",
            f"**Method.** `dunning_run(day={day})` in-process on the benchmark database, timed from the call to "
            "its commit: the first run of the day (proposes and queues), then a second run the same day, which "
            "must propose, send, cancel, open and close nothing and write no notice or message (checked; the "
            "benchmark fails otherwise). Between repetitions the first run's work is undone (its notices, their "
            "history and links, its messages and cases removed, cancelled proposals and closed cases put back; "
            "not timed). The query counts come from one more pair of runs under Django's "
            "`CaptureQueriesContext` (not timed), at two portfolio sizes: a set-based run's count does not grow "
            f"with the customers. The smaller size ran once; {len(figures.first)} repetition(s) at the full size. "
            f"The machine's 1-minute load average was {load_before:.1f} before the full-size runs and "
            f"{load_after:.1f} after, on {os.cpu_count()} logical cores.",
            results,
            queries,
            f"{_sameness(small_figures, figures)} `notifications_queue_many` inserts {OUTBOX_BATCH:,} messages a "
            f"statement ({_outbox_inserts(small_figures)} INSERT(s) for {small_figures.messages:,} messages, "
            f"{_outbox_inserts(figures)} for {figures.messages:,}). The run "
            "writes each table's rows in one statement (notices and their history, cases, message links) and "
            "marks the sent notices in one UPDATE. Before it did, it wrote every notice, case, message batch and "
            "link with statements of its own: 40,410 statements and 56 s for the 10,000 customers, 8,090 "
            "statements for 2,000 (the code before that change, measured once on the same data on this "
            "machine, statements counted by an execute wrapper).",
        ]
    )


def _outbox_inserts(figures: DunningFigures) -> int:
    return -(-figures.messages // OUTBOX_BATCH)


def _sameness(small: DunningFigures, large: DunningFigures) -> str:
    """Whether the first runs' counts differ by more than the outbox's INSERTs, in words."""
    rest = [f.queries_first - _outbox_inserts(f) for f in (small, large)]
    if rest[0] == rest[1]:
        return f"Apart from the outbox's INSERTs the first run makes {rest[0]} statements at both sizes:"
    return f"Apart from the outbox's INSERTs the first run makes {rest[0]:,} and {rest[1]:,} statements:"


# ---------------------------------------------------------------------------------------------
# Benchmark 10: the collector's worklist page
# ---------------------------------------------------------------------------------------------
@dataclass
class Worklist:
    collector: "User"
    other: "User"  # the next collector, who took over the first one's other customers
    customers: int
    rows: Counter  # worklist rows by reason (English)
    total_rows: int


def worklist_prepare(*, customers: int, day: dt.date, seed: int) -> Worklist:
    """One collector answering for the first `customers` customers of the arrears (after the day's
    dunning run), with promises due and broken, undelivered notices, expiring guarantees and
    prepaid balances near zero among them, so every kind of row appears."""
    from django.contrib.auth.models import User
    from django.utils import translation

    from billing.models import Bill, Guarantee, PrepaidAccount
    from collection.models import PromiseToPay
    from collection.selectors import worklist_for
    from core.roles import Role
    from customers.models import Customer, Notification

    rng = random.Random(f"gridcollect-bench-worklist:{seed}")
    collectors = list(User.objects.filter(groups__name=Role.COLLECTOR).order_by("username")[:2])
    if len(collectors) < 2:
        raise RuntimeError("the worklist benchmark needs two collectors in the portfolio")
    collector, other = collectors
    ids = list(Customer.objects.order_by("id").values_list("id", flat=True)[:customers])
    Customer.objects.filter(collector=collector).exclude(pk__in=ids).update(collector=other)
    Customer.objects.filter(pk__in=ids).update(collector=collector)
    overdue = sorted(
        set(Bill.objects.filter(customer_id__in=ids, due_on__lt=day).values_list("customer_id", flat=True))
    )

    PromiseToPay.objects.filter(customer_id__in=ids).delete()
    promises = [
        PromiseToPay(
            customer_id=c,
            promised_on=day,
            amount=Decimal(rng.randint(1_000_000, 20_000_000)) / 100,
            status="open",
            made_on=day - dt.timedelta(days=5),
        )  # fmt: skip
        for c in overdue[::12]
    ]
    promises += [
        PromiseToPay(
            customer_id=c,
            promised_on=day - dt.timedelta(days=3),
            amount=Decimal(rng.randint(1_000_000, 20_000_000)) / 100,
            status="broken",
            made_on=day - dt.timedelta(days=10),
            resolved_on=day - dt.timedelta(days=2),
        )  # fmt: skip
        for c in overdue[5::15]
    ]
    PromiseToPay.objects.bulk_create(promises)

    # Every tenth of today's dunning messages to these customers could not be delivered.
    failed = list(
        Notification.objects.filter(customer_id__in=ids, kind__startswith="dunning_", created_at__date=day)
        .order_by("id")
        .values_list("id", flat=True)
    )[::10]
    Notification.objects.filter(pk__in=failed).update(status="failed", attempts=5, last_error="bench: undeliverable")

    prepaid = ids[::30]
    PrepaidAccount.objects.filter(customer_id__in=ids).update(state="normal")
    existing = set(PrepaidAccount.objects.filter(customer_id__in=prepaid).values_list("customer_id", flat=True))
    PrepaidAccount.objects.bulk_create(
        [PrepaidAccount(customer_id=c, opened_on=day - dt.timedelta(days=60)) for c in prepaid if c not in existing]
    )
    for n, customer_id in enumerate(prepaid):
        PrepaidAccount.objects.filter(customer_id=customer_id).update(state=("warned_3", "exhausted")[n % 2])

    Guarantee.objects.filter(customer_id__in=ids).delete()
    Guarantee.objects.bulk_create(
        [
            Guarantee(
                customer_id=c,
                kind="bank_guarantee",
                amount=Decimal(rng.randint(50_000, 500_000)) * 10,
                valid_from=day - dt.timedelta(days=365),
                valid_to=day + dt.timedelta(days=1 + n * 3 % 30),
                issuer="Bench Bank",
            )  # fmt: skip
            for n, c in enumerate(ids[7::30])
        ]
    )
    with translation.override("en"):
        items = worklist_for(collector, day=day)
    rows = Counter(item.reason for item in items)
    missing = [reason for reason in WORKLIST_REASONS if not rows.get(reason)]
    if missing:
        raise RuntimeError(f"the worklist has no row of kind {', '.join(missing)}: {dict(rows)}")
    return Worklist(collector=collector, other=other, customers=len(ids), rows=rows, total_rows=len(items))


@dataclass
class WorklistFigures:
    latencies: Latencies
    queries: int
    selector_ms: float  # median time in worklist_for of the same requests
    overdue_ms: float  # … and in the overdue_bills_by_customer call it makes
    page_rows: int


def _client(user):
    from django.test import Client

    client = Client(SERVER_NAME=LOCAL_HOST)
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def page_queries(user) -> int:
    """The statements of one worklist request of `user` (after one to warm up)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = _client(user)
    client.get(WORKLIST_PATH)
    with CaptureQueriesContext(connection) as captured:
        if client.get(WORKLIST_PATH).status_code != 200:
            raise RuntimeError(f"{WORKLIST_PATH} failed for {user}")
    return len(captured)


@contextmanager
def _timed_calls(spent: dict[str, list[float]]):
    """Time the view's `worklist_for` and the `overdue_bills_by_customer` it calls, in the requests
    themselves (the names the callers look up are wrapped, the functions are not changed)."""
    from collection import selectors, views

    def timed(name: str, function):
        def wrapper(*args, **kwargs):
            begin = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[name].append(time.perf_counter() - begin)

        return wrapper

    originals = [(views, "worklist_for"), (selectors, "overdue_bills_by_customer")]
    saved = [getattr(module, name) for module, name in originals]
    for module, name in originals:
        spent[name] = []
        setattr(module, name, timed(name, getattr(module, name)))
    try:
        yield spent
    finally:
        for (module, name), function in zip(originals, saved, strict=True):
            setattr(module, name, function)


def worklist_measure(*, user, requests: int, warm_up: int, budget: float) -> WorklistFigures:
    """GET the worklist page through Django's test Client logged in as `user`: `warm_up` requests,
    then `requests` timed ones (within `budget` seconds), then one counted with CaptureQueriesContext."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = _client(user)

    def get() -> bytes:
        response = client.get(WORKLIST_PATH)
        if response.status_code != 200:
            raise RuntimeError(f"{WORKLIST_PATH} answered {response.status_code}: {response.content[:300]!r}")
        return response.content

    for _n in range(warm_up):
        get()
    seconds: list[float] = []
    spent: dict[str, list[float]] = {}
    with _timed_calls(spent):
        started = time.perf_counter()
        deadline = started + budget
        while len(seconds) < requests and time.perf_counter() < deadline:
            begin = time.perf_counter()
            get()
            seconds.append(time.perf_counter() - begin)
        wall = time.perf_counter() - started
    with CaptureQueriesContext(connection) as captured:
        page = get()
    return WorklistFigures(
        latencies=Latencies(seconds, wall, 0),
        queries=len(captured),
        selector_ms=median(spent["worklist_for"]) * 1000,
        overdue_ms=median(spent["overdue_bills_by_customer"]) * 1000,
        page_rows=page.count(b"<tr>") - 1,  # the header row
    )


def bench_worklist(ctx: BenchContext) -> str:
    from django.utils import timezone

    from collection.services import dunning_run
    from customers.models import Customer

    day = timezone.localdate()
    total = Customer.objects.count()
    if ctx.facts.get("arrears") != (total, day):
        print(f"bench:   arrears of {total:,} customers (not timed) ...", file=sys.stderr, flush=True)
        arrears_prepare(customers=total, day=day, seed=ctx.seed)
    ctx.facts["arrears"] = None  # changed below: a later benchmark must build its own
    run = dunning_run(day=day)  # today's notices and messages, as the morning job leaves them (not timed)
    worklist = worklist_prepare(customers=min(WORKLIST_CUSTOMERS, total), day=day, seed=ctx.seed)
    load_before = os.getloadavg()[0]
    figures = worklist_measure(
        user=worklist.collector, requests=ctx.requests, warm_up=WORKLIST_WARM_UP, budget=ctx.phase_seconds
    )
    load_after = os.getloadavg()[0]
    other_customers = Customer.objects.filter(collector=worklist.other).count()
    other_queries = page_queries(worklist.other)
    latencies = figures.latencies
    p95 = latencies.p95_ms()
    kinds = ", ".join(f"{reason.lower()} {worklist.rows[reason]:,}" for reason in WORKLIST_REASONS)
    others = sum(n for reason, n in worklist.rows.items() if reason not in WORKLIST_REASONS)
    if others:
        kinds += f", other kinds {others:,}"
    return "\n\n".join(
        [
            "## 10. Collector's worklist page (`GET /collection/worklist/`)",
            f"The arrears of benchmark 9 over all {total:,} customers after the day's dunning run ({run.sent:,} "
            f"notices sent, {run.proposed - run.sent:,} proposed), with one collector (`{worklist.collector}`) "
            f"answering for {worklist.customers:,} of them (the first by id; the collector's other customers "
            "handed to the next collector). Among those: promises to pay due today and broken this week, every "
            "tenth of today's dunning messages undeliverable, guarantees expiring within 30 days and prepaid "
            f"balances near zero, so every kind of row appears: {worklist.total_rows:,} rows ({kinds}). The page "
            f"shows the first {figures.page_rows} (its default page size), biggest money at risk first.",
            "**Method.** Django's test `Client` in-process (settings `config.settings.base`, `DEBUG=0`, the whole "
            "middleware stack, session login of the collector, template rendered), the benchmark database. "
            f"{WORKLIST_WARM_UP} warm-up requests (not counted), then {latencies.count} one after another; every "
            "answer must be 200. p95 is the nearest-rank 95th percentile. The queries of one more request are "
            "counted with `CaptureQueriesContext`. The time each request spent in `worklist_for`, and in the "
            "`overdue_bills_by_customer` call it starts with, is measured in the same requests (the names the "
            "callers look up are wrapped with timers; medians). The "
            f"machine's 1-minute load average was {load_before:.1f} before the requests and {load_after:.1f} "
            f"after, on {os.cpu_count()} logical cores.",
            table(
                [
                    "collector's customers",
                    "rows",
                    "requests",
                    "median ms",
                    "p95 ms",
                    "requests/s",
                    "queries per request",
                    "of which `worklist_for` ms",
                    "of which `overdue_bills_by_customer` ms",
                    f"target p95 ≤ {TARGET_WORKLIST_P95_MS} ms",
                ],
                [
                    [
                        worklist.customers,
                        worklist.total_rows,
                        latencies.count,
                        round(latencies.median_ms(), 1),
                        round(p95, 1),
                        round(latencies.per_second(), 1),
                        figures.queries,
                        round(figures.selector_ms, 1),
                        round(figures.overdue_ms, 1),
                        "**met**" if p95 <= TARGET_WORKLIST_P95_MS else "**missed**",
                    ]
                ],
            ),
            (
                "The page's statements do not depend on how many customers or rows it has: the next "
                f"collector's page (`{worklist.other}`, {other_customers:,} customers) makes {other_queries} as well."
                if other_queries == figures.queries
                else f"The next collector's page (`{worklist.other}`, {other_customers:,} customers) makes "
                f"{other_queries}."
            )
            + " They are the session, the user and the user's groups, one statement per kind of row (the "
            "overdue bills with their balances, promises, the two kinds of notices, undelivered messages, "
            "prepaid accounts, guarantees, …) and one for the customers of all rows: no statement per row.",
        ]
    )
