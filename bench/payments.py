"""Benchmark: `POST /api/v1/payments/` (with Idempotency-Key) served by gunicorn, with concurrent clients."""

import datetime as dt
import http.client
import json
import random
import threading
import time
import uuid
from decimal import Decimal

from .api import HOST, WORKERS, gunicorn
from .common import BenchContext, Latencies, table

SEQUENTIAL_REQUESTS = 200
WARM_UP_REQUESTS = 20
OVERDUE_DAYS = 10  # the older bill fell due this many days ago: penalty accrues on it
CHANNEL = "bank_transfer"


def _post(port: int, token: str, body: dict, key: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(HOST, port, timeout=60)
    try:
        connection.request(
            "POST",
            "/api/v1/payments/",
            body=json.dumps(body),
            headers={
                "Authorization": f"Token {token}",
                "Content-Type": "application/json",
                "Accept": "application/json",
                "Idempotency-Key": key,
            },
        )
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _month(day: dt.date, back: int) -> str:
    year, month = day.year, day.month - back
    while month < 1:
        year, month = year - 1, month + 12
    return f"{year:04d}-{month:02d}"


def _prepare(count: int, seed: int) -> list[dict]:
    """`count` open customers with two open bills each, the older one overdue with its penalty accrued
    through yesterday (as the nightly job leaves it); one payment body per customer."""
    from django.db import connection
    from django.utils import timezone

    from billing.models import Bill, BillingRun, BillLine, Payment
    from billing.services.penalties import penalties_accrue
    from core.models import IdempotencyRecord
    from customers.choices import CustomerOperatingStatusChoices
    from customers.models import Customer

    tables = ", ".join(model._meta.db_table for model in (BillingRun, Bill, Payment, IdempotencyRecord))
    with connection.cursor() as cursor:  # start from no bills and no payments
        cursor.execute(f"TRUNCATE {tables} CASCADE")
    customers = list(
        Customer.objects.exclude(operating_status=CustomerOperatingStatusChoices.CLOSED)
        .order_by("id")
        .values_list("id", "account_no")[:count]
    )
    if len(customers) < count:
        raise RuntimeError(
            f"the payment benchmark needs {count:,} open customers, the portfolio has {len(customers):,}"
        )
    today = timezone.localdate()
    rng = random.Random(f"gridcollect-bench-payments:{seed}")
    bills, totals = [], {}
    for customer_id, account_no in customers:
        older = Decimal(rng.randint(1_000_000, 30_000_000)) / 100
        newer = Decimal(rng.randint(1_000_000, 30_000_000)) / 100
        totals[customer_id] = (older, newer)
        for back, total, issued, due in (
            (2, older, today - dt.timedelta(days=OVERDUE_DAYS + 15), today - dt.timedelta(days=OVERDUE_DAYS)),
            (1, newer, today - dt.timedelta(days=3), today + dt.timedelta(days=12)),
        ):
            period = _month(today, back)
            bills.append(
                Bill(
                    customer_id=customer_id,
                    period=period,
                    kind="monthly",
                    number=f"BENCH-{period.replace('-', '')}-{account_no}",
                    issued_on=issued,
                    due_on=due,
                    total=total,
                )
            )
    Bill.objects.bulk_create(bills, batch_size=5000)
    BillLine.objects.bulk_create(
        [BillLine(bill=bill, kind="energy_flat", amount=bill.total, position=0) for bill in bills], batch_size=5000
    )
    penalties_accrue(through=today - dt.timedelta(days=1))
    # Enough for the older bill with its penalty and part of the newer one: three allocations' work.
    return [
        {
            "customer": account_no,
            "amount": str(older + (newer / 2).quantize(Decimal("0.01"))),
            "channel": CHANNEL,
        }
        for (customer_id, account_no) in customers
        for older, newer in [totals[customer_id]]
    ]


def _phase(port: int, token: str, bodies: list[dict], clients: int, seconds: float, tag: str) -> Latencies:
    """`clients` threads post one payment each per body (own key, own reference) until done or out of time."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    pending = list(reversed(bodies))
    deadline = time.perf_counter() + seconds

    def client() -> None:
        while time.perf_counter() < deadline:
            with lock:
                if not pending:
                    return
                body = dict(pending.pop())
            body["external_ref"] = f"BENCH-{tag}-{uuid.uuid4().hex[:20]}"
            begin = time.perf_counter()
            try:
                status, _ = _post(port, token, body, uuid.uuid4().hex)
            except OSError:
                status = 0
            elapsed = time.perf_counter() - begin
            with lock:
                latencies.append(elapsed)
                errors[0] += status != 201

    threads = [threading.Thread(target=client, name=f"bench-payer-{n}") for n in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 60)
    return Latencies(latencies, time.perf_counter() - started, errors[0])


def bench_payment_api(ctx: BenchContext) -> str:
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    from billing.models import Payment, PaymentAllocation, PenaltyAccrual
    from billing.services.statements import reconcile

    system = User.objects.get(username="system")
    token = Token.objects.get_or_create(user=system)[0].key
    total = WARM_UP_REQUESTS + SEQUENTIAL_REQUESTS + ctx.payment_requests
    bodies = _prepare(total, ctx.seed)
    accrued_before = PenaltyAccrual.objects.count()
    warm_up = bodies[:WARM_UP_REQUESTS]
    sequential = bodies[WARM_UP_REQUESTS : WARM_UP_REQUESTS + SEQUENTIAL_REQUESTS]
    concurrent = bodies[WARM_UP_REQUESTS + SEQUENTIAL_REQUESTS :]

    with gunicorn(ctx) as port:
        warm = _phase(port, token, warm_up, 1, ctx.phase_seconds, "warm")
        if warm.errors:
            status, body = _post(port, token, dict(bodies[0], external_ref="BENCH-probe"), uuid.uuid4().hex)
            raise RuntimeError(f"warm-up payments failed ({warm.errors}); a probe answered {status}: {body[:300]!r}")
        phases = [
            ("sequential", _phase(port, token, sequential, 1, ctx.phase_seconds, "seq")),
            (
                f"{ctx.payment_clients} clients",
                _phase(port, token, concurrent, ctx.payment_clients, ctx.phase_seconds, "conc"),
            ),
        ]
    payments = Payment.objects.count()
    allocations = PaymentAllocation.objects.count()
    accrued = PenaltyAccrual.objects.count() - accrued_before
    posted = sum(result.count - result.errors for _mode, result in phases) + warm.count - warm.errors
    problems = reconcile()
    if payments != posted:
        raise RuntimeError(f"{posted:,} payments answered 201 but {payments:,} are stored")

    rows = [
        [
            mode,
            result.count,
            result.errors,
            round(result.median_ms(), 1),
            round(result.p95_ms(), 1),
            round(result.per_second(), 1),
        ]
        for mode, result in phases
    ]
    return "\n\n".join(
        [
            "## 5. Payment API (`POST /api/v1/payments/`)",
            f"{total:,} open customers of the portfolio, each with two open bills: one due {OVERDUE_DAYS} days ago "
            "with its late-payment penalty accrued through yesterday (as the nightly job leaves it), one due in "
            "12 days. Every request pays one customer (a different one each time) enough for the older bill, its "
            "penalty and half of the newer bill, so each payment accrues today's penalty, allocates penalty "
            "before principal, oldest bill first (usually three parts on two bills), refreshes the bills' status and "
            "records the idempotency answer. Bills, payments and idempotency records are emptied first (not "
            "timed).",
            f"**Method.** gunicorn with {WORKERS} sync workers serving `config.wsgi` on the loopback interface "
            "(settings `config.settings.base`, `DEBUG=0`), the benchmark database. Requests are authenticated as "
            "the demo `system` account (`Authorization: Token …`), each with its own `Idempotency-Key` and its own "
            f"`external_ref`, channel `{CHANNEL}`; a request counts as an error unless it answers 201. "
            f"{WARM_UP_REQUESTS} warm-up payments (not counted), then {SEQUENTIAL_REQUESTS} one after another, then "
            f"{ctx.payment_requests:,} shared by {ctx.payment_clients} client threads, each request on a new "
            "connection. With more clients than workers, requests queue at the server: the concurrent latencies "
            "include that wait. Latency is measured by the client; p95 is the nearest-rank 95th percentile; "
            "requests/s is requests divided by the phase's wall-clock time. The client runs on the same machine "
            f"and competes with the server for its cores. Every phase stops early after {ctx.phase_seconds:.0f} s.",
            table(["mode", "requests", "errors", "median ms", "p95 ms", "requests/s"], rows),
            f"Afterwards: {payments:,} payments stored (one per 201 answer), {allocations:,} allocations, "
            f"{accrued:,} penalty days accrued by the payments themselves; `reconcile()` found "
            f"{len(problems)} problem(s){': ' + '; '.join(problems[:3]) if problems else ''}.",
        ]
    )
