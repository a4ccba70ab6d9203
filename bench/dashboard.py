"""Benchmarks 13 and 14: a province-size portfolio loaded by `seed_demo --scale`, and the managers'
dashboards on it (the arrears summary's rebuild and refresh, the page and its API under 20 users,
the bill list's CSV export), on PostgreSQL.

They run in a database of their own on the benchmark server, so the 100,000 customers neither
slow the other benchmarks nor meet their TRUNCATEs; it is dropped afterwards. The measuring
functions take their sizes as arguments, so tests/bench runs them on a tiny portfolio.
"""

import datetime as dt
import http.client
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from io import StringIO
from urllib.parse import urlsplit, urlunsplit

from .api import HOST, WORKERS, gunicorn
from .common import BenchContext, Figure, Latencies, median, table

DATABASE = "gridcollect_bench_dashboard"
TARGET_SEED_SECONDS = 15 * 60
TARGET_P95_MS = 150
TARGET_REFRESH_SECONDS = 10
TARGET_REBUILD_SECONDS = 120
TARGET_EXPORT_MB = 300
PAYMENTS_PER_DAY = 3_000
USERS = 20  # concurrent dashboard users
THINK_SECONDS = (0.5, 1.5)  # a user's pause between two requests (uniform): about one request a second each
REQUESTS_PER_USER = 30
SEQUENTIAL_REQUESTS = 100
WARM_UP_REQUESTS = 20
CACHE_DB = 2  # the Redis database of the served dashboards' cache
EXPORT_BILLS = 100_000
PAGE_PATH = "/dashboard/"
API_PATH = "/api/v1/dashboard/arrears/?group_by=region"
EXPORT_PATH = "/billing/bills/export.csv"

# Runs in a child process on the benchmark's database: the export as a manager sees it, its
# streamed body read and counted, then the process's peak memory. argv: path, "trace" or "rss".
# The peak is VmHWM (the high-water mark of this program's resident memory): ru_maxrss would
# report the benchmark's own size, which Linux carries over to a child through fork and exec.
_EXPORT_SNIPPET = """
import json, resource, sys, time, tracemalloc
import django
django.setup()
from django.contrib.auth.models import User
from django.test import Client

def high_water_kb():
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

client = Client(HTTP_HOST="127.0.0.1")
client.force_login(User.objects.get(username="manager"), backend="django.contrib.auth.backends.ModelBackend")
before = high_water_kb()
if sys.argv[2] == "trace":
    tracemalloc.start()
started = time.perf_counter()
response = client.get(sys.argv[1])
size = lines = 0
for part in response.streaming_content:
    size += len(part)
    lines += part.count(b"\\n")
seconds = time.perf_counter() - started
peak = tracemalloc.get_traced_memory()[1] if sys.argv[2] == "trace" else 0
print(json.dumps({"status": response.status_code, "streaming": response.streaming, "bytes": size, "lines": lines,
                  "seconds": seconds, "rss_before_kb": before, "rss_peak_kb": high_water_kb(), "traced_peak": peak}))
"""


# ---------------------------------------------------------------------------------------------
# The database of its own
# ---------------------------------------------------------------------------------------------
@contextmanager
def own_database(name: str = DATABASE) -> Iterator[None]:
    """Point Django's default connection (and DATABASE_URL, which gunicorn and child processes
    read) at a new, migrated database `name` on the same server; drop it afterwards."""
    import psycopg
    from django.core.management import call_command
    from django.db import connections

    server_url = os.environ["DATABASE_URL"]
    own_url = urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))

    def recreate(drop_only: bool = False) -> None:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            if not drop_only:
                admin.execute(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0")

    connection = connections["default"]
    original = connection.settings_dict["NAME"]
    recreate()
    connection.close()
    connection.settings_dict["NAME"] = name
    os.environ["DATABASE_URL"] = own_url
    try:
        call_command("migrate", verbosity=0, interactive=False)
        yield
    finally:
        connection.close()
        connection.settings_dict["NAME"] = original
        os.environ["DATABASE_URL"] = server_url
        recreate(drop_only=True)


# ---------------------------------------------------------------------------------------------
# Benchmark 13: the load
# ---------------------------------------------------------------------------------------------
@dataclass
class SeedFigures:
    seconds: float
    archive_seconds: float | None
    phases: dict[str, float]
    counts: dict[str, int]
    behaviours: Counter
    grades: Counter
    output: str


_PHASES = re.compile(r"^Phases: (.*)$", re.MULTILINE)
_ARCHIVE = re.compile(r"users created in ([\d.]+) s")


def seed_measure(*, customers: int, seed: int) -> SeedFigures:
    """`manage.py seed_demo --scale <customers>` in-process, timed, and what it wrote."""
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db.models import Count

    from billing.models import Bill, BillLine, Forecast, MeterReading, Payment, PaymentAllocation, PenaltyAccrual
    from customers.models import Customer, Region

    out = StringIO()
    started = time.perf_counter()
    call_command("seed_demo", scale=customers, seed=seed, stdout=out)
    seconds = time.perf_counter() - started
    text = out.getvalue()
    phases = {}
    if found := _PHASES.search(text):
        phases = {name: float(value) for name, value in re.findall(r"(.+?) ([\d.]+) s(?:, |$)", found.group(1))}
    archive = _ARCHIVE.search(text)
    counts = {
        "customers": Customer.objects.count(),
        "areas": Region.objects.filter(kind="area").count(),
        "collectors": User.objects.filter(groups__name="collector").count(),
        "area leaders": User.objects.filter(groups__name="area_leader").count(),
        "bills": Bill.objects.count(),
        "bill lines": BillLine.objects.count(),
        "payments": Payment.objects.count(),
        "allocations": PaymentAllocation.objects.count(),
        "penalty days": PenaltyAccrual.objects.count(),
        "customers read": MeterReading.objects.values("meter__customer").distinct().count(),
        "readings": MeterReading.objects.count(),
        "forecasts": Forecast.objects.count(),
    }
    grades = Counter(
        dict(
            Customer.objects.order_by()
            .values_list("credit_grade")
            .annotate(n=Count("id"))
            .values_list("credit_grade", "n")
        )
    )
    behaviours = Counter()
    if found := re.search(r"Payment behaviour of the [\d,]+ billed customers: (.*)$", text, re.MULTILINE):
        for part in found.group(1).split(", "):
            name, _, value = part.rpartition(" ")
            behaviours[name] = int(value)
    return SeedFigures(seconds, float(archive.group(1)) if archive else None, phases, counts, behaviours, grades, text)


# ---------------------------------------------------------------------------------------------
# Benchmark 14: the summary, live figures, the page and API, the export
# ---------------------------------------------------------------------------------------------
@dataclass
class SummaryFigures:
    rebuild: list[float] = field(default_factory=list)
    rebuild_rows: int = 0
    history: float = 0.0
    history_days: dict[dt.date, float] = field(default_factory=dict)
    imports: list[float] = field(default_factory=list)  # seconds of each day's payment import (not the target)
    imported: list[int] = field(default_factory=list)
    refresh: list[float] = field(default_factory=list)
    refreshed: list[int] = field(default_factory=list)  # customers recomputed by each refresh
    live: list[float] = field(default_factory=list)  # positions over every customer, grouped
    live_matches: bool | None = None
    mismatches: list[str] = field(default_factory=list)


def summary_measure(*, runs: int, payments: int, seed: int, budget: float, history: bool = True) -> SummaryFigures:
    """The full rebuild for today (`runs` times), the 13 month-ends once, `runs` days of payments each
    followed by a refresh, and the live computation the summary stands for, checked against it."""
    from django.db.models import Sum
    from django.utils import timezone

    from billing.demo_scale import demo_payments_import
    from customers.models import Customer
    from dashboards import summary as summary_module
    from dashboards.models import MEASURES, ArrearsSummary

    figures = SummaryFigures()
    deadline = time.perf_counter() + budget
    for _ in range(runs):
        started = time.perf_counter()
        figures.rebuild_rows = summary_module.summary_rebuild()
        figures.rebuild.append(time.perf_counter() - started)
        if time.perf_counter() > deadline:
            break
    if history:
        rebuild = summary_module.summary_rebuild

        def timed(*, as_of=None, keep_positions=None):
            begin = time.perf_counter()
            try:
                return rebuild(as_of=as_of, keep_positions=keep_positions)
            finally:
                figures.history_days[as_of] = time.perf_counter() - begin

        summary_module.summary_rebuild = timed
        try:
            started = time.perf_counter()
            summary_module.summary_rebuild_history(force=True)
            figures.history = time.perf_counter() - started
        finally:
            summary_module.summary_rebuild = rebuild
    for run in range(runs):
        started = time.perf_counter()
        imported = demo_payments_import(count=payments, seed=seed + run)
        figures.imports.append(time.perf_counter() - started)
        figures.imported.append(imported.payments)
        started = time.perf_counter()
        figures.refreshed.append(summary_module.summary_refresh())
        figures.refresh.append(time.perf_counter() - started)
        if time.perf_counter() > deadline:
            break
    today = timezone.localdate()
    for _ in range(runs):
        started = time.perf_counter()
        grouped = summary_module.group(summary_module.positions(Customer.objects.all(), today).values())
        by_region: dict = {}
        for key, values in grouped.items():
            into = by_region.setdefault(key[0], dict.fromkeys(MEASURES, 0))
            for name in MEASURES:
                into[name] += values[name]
        figures.live.append(time.perf_counter() - started)
        if time.perf_counter() > deadline:
            break
    stored = ArrearsSummary.objects.filter(as_of=today).aggregate(**{name: Sum(name) for name in MEASURES})
    live_totals = {name: sum(values[name] for values in by_region.values()) for name in MEASURES}
    figures.mismatches = [
        f"{name}: summary {stored[name]} ≠ live {live_totals[name]}"
        for name in MEASURES
        if (stored[name] or 0) != live_totals[name]
    ]
    figures.live_matches = not figures.mismatches
    return figures


@dataclass
class QueryFigures:
    """The dashboard in-process, without an HTTP server: the summary reads behind it, and the page
    and the API through Django's test client, computed (the cache cleared first, SQL counted) and
    answered from the cache; medians."""

    totals_ms: float
    breakdown_ms: float
    collector_ms: float
    summary_rows: int
    rollup_rows: int
    page_ms: float
    page_queries: int
    page_sql_ms: float
    page_cached_ms: float
    api_ms: float
    api_queries: int
    api_sql_ms: float
    api_cached_ms: float


@contextmanager
def _environment(**values: str) -> Iterator[None]:
    """Environment variables set for the block (a child process started in it inherits them)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update({name: value for name, value in values.items() if value})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def inprocess_measure(*, calls: int) -> QueryFigures:
    from django.contrib.auth.models import User
    from django.core.cache import cache
    from django.db import connection
    from django.http import QueryDict
    from django.test import Client, RequestFactory
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from dashboards import selectors

    manager = User.objects.get(username="manager")
    request = RequestFactory().get("/")
    request.user = manager
    filterset = selectors.dashboard_filterset(QueryDict(), request)
    assert filterset.is_valid() and filterset.as_of_date == timezone.localdate()
    totals, breakdown, by_collector = [], [], []
    for _ in range(calls):
        started = time.perf_counter()
        selectors.figures(filterset.rows())
        totals.append(time.perf_counter() - started)
        started = time.perf_counter()
        selectors.breakdown(filterset, "region")
        breakdown.append(time.perf_counter() - started)
        started = time.perf_counter()
        selectors.breakdown(filterset, "collector")
        by_collector.append(time.perf_counter() - started)
    page_headers, api_headers = manager_credentials()[0]
    client = Client(HTTP_HOST="127.0.0.1")
    client.cookies.load(page_headers["Cookie"])
    measured = []
    targets = [(PAGE_PATH, {}), (API_PATH, {"HTTP_AUTHORIZATION": api_headers["Authorization"]})]
    for path, extra in targets:
        computed, sql, queries, cached = [], [], 0, []
        for _ in range(max(1, calls // 4)):
            cache.clear()
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                response = client.get(path, **extra)
                computed.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise RuntimeError(f"GET {path} in-process answered {response.status_code}")
            sql.append(sum(float(q["time"]) for q in captured.captured_queries))
            queries = len(captured.captured_queries)
            started = time.perf_counter()
            client.get(path, **extra)
            cached.append(time.perf_counter() - started)
        measured += [median(computed) * 1000, queries, median(sql) * 1000, median(cached) * 1000]
    return QueryFigures(median(totals) * 1000, median(breakdown) * 1000, median(by_collector) * 1000,
                        filterset.qs.count(), filterset.rows().count(), *measured)  # fmt: skip


def _fetch(port: int, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    # A new connection per request, as bench.api: gunicorn's sync workers close it after each response.
    connection = http.client.HTTPConnection(HOST, port, timeout=60)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def load(
    fetch: Callable[[int], tuple[int, bytes]],
    *,
    clients: int,
    requests: int,
    think: tuple[float, float] | None,
    seconds: float,
    seed: int = 0,
) -> Latencies:
    """`clients` threads make `requests` requests between them, `fetch(client number)` each; with
    `think`, each waits a random time in that range before each of its requests (a user reading the
    page), else none (as many requests as the server takes). Latency is one request's, the pauses
    are not counted."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    remaining = [requests]
    deadline = time.perf_counter() + seconds

    def client(number: int) -> None:
        rng = random.Random(f"{seed}:{number}")
        while time.perf_counter() < deadline:
            with lock:
                if remaining[0] <= 0:
                    return
                remaining[0] -= 1
            if think:
                time.sleep(rng.uniform(*think))
            begin = time.perf_counter()
            try:
                status, _body = fetch(number)
            except OSError:
                status = 0
            elapsed = time.perf_counter() - begin
            with lock:
                latencies.append(elapsed)
                errors[0] += status != 200

    threads = [threading.Thread(target=client, args=(n,), name=f"bench-user-{n}") for n in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 60)
    return Latencies(latencies, time.perf_counter() - started, errors[0])


@dataclass
class HttpFigures:
    page_bytes: int
    api_groups: int
    phases: list[tuple[str, str, Latencies]]  # (what, mode, latencies)


def manager_credentials(count: int = 1) -> list[tuple[dict[str, str], dict[str, str]]]:
    """Headers for the page (a session cookie) and for the API (a token) of `count` managers: the
    demo manager and, beyond it, bench managers made for the purpose (each has its own session and
    token, so each has its own cached answers, as real people would)."""
    from django.conf import settings
    from django.contrib.auth.models import Group, User
    from django.test import Client
    from rest_framework.authtoken.models import Token

    from core.roles import Role

    managers = [User.objects.get(username="manager")]
    group = Group.objects.get(name=Role.MANAGER)
    for n in range(1, count):
        user, _ = User.objects.get_or_create(username=f"bench-manager-{n:02d}", defaults={"is_staff": True})
        user.groups.add(group)
        managers.append(user)
    out = []
    for manager in managers:
        client = Client()
        client.force_login(manager, backend="django.contrib.auth.backends.ModelBackend")
        cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
        token = Token.objects.get_or_create(user=manager)[0].key
        out.append(({"Cookie": cookie}, {"Authorization": f"Token {token}", "Accept": "application/json"}))
    return out


def filter_queries(count: int, seed: int) -> list[str]:
    """`count` different questions a dashboard user might ask: one to three of area, industry,
    importance and settlement mode, on one of the summary's dates — drawn without repeats, so each
    is computed once."""
    from customers.choices import CustomerImportanceChoices, CustomerIndustryChoices, CustomerSettlementModeChoices
    from customers.models import Region
    from dashboards.models import SummaryDate

    dimensions = {
        "region": [str(pk) for pk in Region.objects.filter(kind="area").values_list("pk", flat=True)],
        "industry": list(CustomerIndustryChoices.values),
        "importance": list(CustomerImportanceChoices.values),
        "settlement_mode": list(CustomerSettlementModeChoices.values),
    }
    dates = [d.isoformat() for d in SummaryDate.objects.values_list("as_of", flat=True)]
    rng = random.Random(seed)
    seen: set[str] = set()
    while len(seen) < count:
        names = rng.sample(sorted(dimensions), rng.randint(1, 3))
        query = {name: rng.choice(dimensions[name]) for name in sorted(names)}
        query["as_of"] = rng.choice(dates)
        seen.add("&".join(f"{k}={v}" for k, v in sorted(query.items())))
    out = sorted(seen)
    rng.shuffle(out)
    return out


def http_measure(ctx: BenchContext, *, requests_per_user: int = REQUESTS_PER_USER) -> HttpFigures:
    """Per URL: one user after another; 20 users (each their own session and token) reading it,
    answered from the shared cache; the same users each asking with filters of their own (every
    answer computed); 20 clients with no pause; then, on a server with the cache off, the whole
    province computed for every request (the worst case)."""
    credentials = manager_credentials(USERS)
    computed_requests = USERS * requests_per_user // 3
    questions = {
        what: iter(filter_queries(computed_requests, seed=ctx.seed + n)) for n, what in enumerate(("page", "API"))
    }
    phases = []
    # As production (config.settings.production): one cache in Redis for both workers, in a
    # database of its own so that clearing it leaves the broker's alone.
    broker = os.environ.get("CELERY_BROKER_URL", "")
    cache_url = f"{broker.rsplit('/', 1)[0]}/{CACHE_DB}" if broker else ""
    with _environment(CACHE_URL=cache_url), gunicorn(ctx) as port:
        page_headers, api_headers = credentials[0]
        status, page = _fetch(port, PAGE_PATH, page_headers)
        if status != 200:
            raise RuntimeError(f"GET {PAGE_PATH} as the manager answered {status}: {page[:300]!r}")
        status, body = _fetch(port, API_PATH, api_headers)
        if status != 200:
            raise RuntimeError(f"GET {API_PATH} as the manager answered {status}: {body[:300]!r}")
        groups = len(json.loads(body).get("groups", []))
        for what, path, which in (("page", PAGE_PATH, 0), ("API", API_PATH, 1)):
            separator = "&" if "?" in path else "?"
            asked = questions[what]
            lock = threading.Lock()

            def cached(number: int, path=path, which=which) -> tuple[int, bytes]:
                return _fetch(port, path, credentials[number][which])

            def filtered(number: int, path=path, which=which, separator=separator, asked=asked, lock=lock):
                with lock:
                    query = next(asked)
                return _fetch(port, f"{path}{separator}{query}", credentials[number][which])

            for _ in range(WARM_UP_REQUESTS):  # both workers: their connections, code and first answers
                cached(0)
            budget = ctx.phase_seconds
            phases += [
                (what, "one user, sequential",
                 load(cached, clients=1, requests=SEQUENTIAL_REQUESTS, think=None, seconds=budget)),
                (what, f"{USERS} users",
                 load(cached, clients=USERS, requests=USERS * requests_per_user, think=THINK_SECONDS,
                      seconds=budget, seed=ctx.seed)),
                (what, f"{USERS} users, each filtering (every answer computed)",
                 load(filtered, clients=USERS, requests=computed_requests, think=THINK_SECONDS,
                      seconds=budget, seed=ctx.seed)),
                (what, f"{USERS} clients, no pause",
                 load(cached, clients=USERS, requests=USERS * requests_per_user, think=None, seconds=budget)),
            ]  # fmt: skip
    # The worst case: no cache at all, so every request computes the whole province's answer.
    with _environment(DASHBOARD_CACHE_SECONDS="0"), gunicorn(ctx) as port:
        for what, path, which in (("page", PAGE_PATH, 0), ("API", API_PATH, 1)):

            def uncached(number: int, path=path, which=which) -> tuple[int, bytes]:
                return _fetch(port, path, credentials[number][which])

            for _ in range(WARM_UP_REQUESTS):
                uncached(0)
            phases.append(
                (what, f"{USERS} users, cache off (the whole province computed every time)",
                 load(uncached, clients=USERS, requests=computed_requests, think=THINK_SECONDS,
                      seconds=ctx.phase_seconds, seed=ctx.seed))
            )  # fmt: skip
    return HttpFigures(len(page), groups, phases)


@dataclass
class ExportFigures:
    path: str
    bills: int
    status: int
    streaming: bool
    rows: int
    megabytes: float
    seconds: float
    rss_before_mb: float
    rss_peak_mb: float
    traced_peak_mb: float


def export_filter(target: int) -> tuple[str, int]:
    """A bill-list filter matching about `target` bills: the latest due dates, back until there are enough."""
    from django.db.models import Count

    from billing.models import Bill

    total, since = 0, None
    for due_on, n in Bill.objects.order_by("-due_on").values_list("due_on").annotate(n=Count("id")):
        total, since = total + n, due_on
        if total >= target:
            break
    return (f"?due_after={since.isoformat()}" if since else ""), total


def export_measure(ctx: BenchContext, *, target: int = EXPORT_BILLS, timeout: float | None = None) -> ExportFigures:
    """The bill list's CSV export of about `target` bills, in a child process (so its peak memory is
    the export's, not the benchmark's): once for time and peak RSS, once under tracemalloc."""
    query, bills = export_filter(target)
    path = EXPORT_PATH + query
    results = {}
    for mode in ("rss", "trace"):
        finished = subprocess.run(
            [sys.executable, "-c", _EXPORT_SNIPPET, path, mode],
            cwd=ctx.root,
            env=dict(os.environ),
            capture_output=True,
            text=True,
            timeout=timeout or ctx.phase_seconds * 4,
            check=True,
        )
        results[mode] = json.loads(finished.stdout.strip().splitlines()[-1])
    plain, traced = results["rss"], results["trace"]
    return ExportFigures(
        path=path,
        bills=bills,
        status=plain["status"],
        streaming=plain["streaming"],
        rows=plain["lines"] - 1,  # the header line
        megabytes=plain["bytes"] / 1e6,
        seconds=plain["seconds"],
        rss_before_mb=plain["rss_before_kb"] / 1024,
        rss_peak_mb=plain["rss_peak_kb"] / 1024,
        traced_peak_mb=traced["traced_peak"] / 1e6,
    )


# ---------------------------------------------------------------------------------------------
# The sections
# ---------------------------------------------------------------------------------------------
def _verdict(met: bool) -> str:
    return "**met**" if met else "**missed**"


def _seed_section(ctx: BenchContext, seed: SeedFigures) -> str:
    from billing.demo_scale import READ_EVERY, RECONCILED_SAMPLE

    counts = seed.counts
    phases = [[name, Figure(f"{seconds:.1f}")] for name, seconds in seed.phases.items()]
    if seed.archive_seconds is not None:
        phases.insert(0, ["archive: customers, meters, contacts, visits, users (bulk_create)",
                          Figure(f"{seed.archive_seconds:.1f}")])  # fmt: skip
    grades = ", ".join(f"{grade or 'none (closed accounts)'} {n:,}" for grade, n in sorted(seed.grades.items()))
    behaviours = ", ".join(f"{name} {n:,}" for name, n in seed.behaviours.most_common())
    return "\n\n".join(
        [
            "## 13. Province-size portfolio (`seed_demo --scale`)",
            f"`manage.py seed_demo --scale {ctx.dashboard_customers} --seed {ctx.seed}` into a freshly migrated, "
            "empty database of its own on the benchmark server (benchmark 14 uses it too). The archive is "
            "customers.demo's with every district and area of its pool and a collector per 300 customers; the "
            "13 months of history are billing.demo_scale's: bills through the real bill arithmetic on usage "
            f"drawn from each customer's load shape (daily readings, and bills read from them, for one customer "
            f"in {READ_EVERY}), payments by billing.demo's behaviours allocated oldest bill first and penalty before "
            "principal, one penalty row per bill and overdue day as the nightly job writes them, credit grades "
            "from the behaviour. Written with COPY while the next block of customers is worked out, the "
            "foreign keys of the five bulk tables dropped for the load and added back (checked in one pass). "
            f"The money services are bypassed; the seed checks a sample of {RECONCILED_SAMPLE:,} customers with "
            "`reconcile()` before it commits. Bank returns, adjustment notes, waivers and instalment bills are "
            "not generated at this scale.",
            f"It wrote {counts['customers']:,} customers in {counts['areas']} areas with {counts['collectors']:,} "
            f"collectors and {counts['area leaders']} area leaders; {counts['bills']:,} bills "
            f"({counts['bill lines']:,} lines), {counts['payments']:,} payments ({counts['allocations']:,} "
            f"allocations), {counts['penalty days']:,} penalty days; {counts['readings']:,} readings of "
            f"{counts['customers read']:,} customers and {counts['forecasts']:,} forecasts. Payment behaviour of "
            f"the billed customers: {behaviours}. Credit grades: {grades}.",
            "**Method.** Wall-clock time of the command in-process (Django start-up and `migrate` not counted), "
            "one run; the phases are the command's own timings.",
            table(["phase", "seconds"], phases + [["**total**", Figure(f"**{seed.seconds:.1f}**")]]),
            table(
                ["target (from the issue)", "needed", "measured", ""],
                [
                    [
                        f"{ctx.dashboard_customers:,} customers seeded",
                        Figure(f"< {TARGET_SEED_SECONDS / 60:.0f} min"),
                        Figure(f"{seed.seconds / 60:.1f} min"),
                        _verdict(seed.seconds < TARGET_SEED_SECONDS),
                    ]
                ],
            ),  # fmt: skip
        ]
    )


def _ms(value: float) -> Figure:
    return Figure(f"{value:,.1f}")


def _dashboard_section(
    ctx: BenchContext, summary: SummaryFigures, queries: QueryFigures, web: HttpFigures, export: ExportFigures
) -> str:
    history_days = sorted(summary.history_days.values())
    rebuild = median(summary.rebuild)
    refresh = median(summary.refresh)
    live = median(summary.live)
    rows_summary = [
        ["full rebuild for today (`summary_rebuild`)", len(summary.rebuild), Figure(f"{rebuild:.1f}"),
         Figure(f"{min(summary.rebuild):.1f}–{max(summary.rebuild):.1f}"), f"{summary.rebuild_rows:,} summary rows"],
        ["13 month-ends (`summary_rebuild_history(force=True)`)", 1, Figure(f"{summary.history:.1f}"), Figure("–"),
         f"per date: median {median(history_days):.1f} s, longest {max(history_days, default=0):.1f} s"],
        [f"refresh after a day's {PAYMENTS_PER_DAY:,} payments (`summary_refresh`)", len(summary.refresh),
         Figure(f"{refresh:.1f}"), Figure(f"{min(summary.refresh):.1f}–{max(summary.refresh):.1f}"),
         f"{median(summary.refreshed):,.0f} customers recomputed; the import took {median(summary.imports):.1f} s"],
        ["live: `positions()` of every customer, grouped (what a request would compute without the summary)",
         len(summary.live), Figure(f"{live:.1f}"), Figure(f"{min(summary.live):.1f}–{max(summary.live):.1f}"),
         "same totals as the summary" if summary.live_matches else "; ".join(summary.mismatches[:3])],
    ]  # fmt: skip
    latency_rows = []
    for what, mode, result in web.phases:
        path = PAGE_PATH if what == "page" else API_PATH
        latency_rows.append([f"`{path}`", mode, result.count, result.errors, _ms(result.median_ms()),
                             _ms(result.p95_ms()), round(result.per_second(), 1)])  # fmt: skip
    by_mode = {(what, mode): result for what, mode, result in web.phases}
    targets = []
    for what in ("page", "API"):
        p95 = by_mode[(what, f"{USERS} users")].p95_ms()
        targets.append([f"{what} p95, {USERS} concurrent users", Figure(f"≤ {TARGET_P95_MS} ms"),
                        Figure(f"{p95:,.0f} ms"), _verdict(p95 <= TARGET_P95_MS)])  # fmt: skip
    beyond = []
    for mode, label in (
        (f"{USERS} users, each filtering (every answer computed)", "each filtering: every answer computed"),
        (f"{USERS} users, cache off (the whole province computed every time)", "cache off: the province every time"),
    ):
        row = [label]
        for what in ("page", "API"):
            p95 = by_mode[(what, mode)].p95_ms()
            row.append(Figure(f"{p95:,.0f} ms" + ("" if p95 <= TARGET_P95_MS else f" (over {TARGET_P95_MS})")))
        beyond.append(row)
    targets += [
        ["refresh after a day's payments", Figure(f"≤ {TARGET_REFRESH_SECONDS} s"), Figure(f"{refresh:.1f} s"),
         _verdict(refresh <= TARGET_REFRESH_SECONDS)],
        ["full rebuild for today", Figure(f"≤ {TARGET_REBUILD_SECONDS} s"), Figure(f"{rebuild:.1f} s"),
         _verdict(rebuild <= TARGET_REBUILD_SECONDS)],
        [f"CSV export of {export.rows:,} bills, peak memory", Figure(f"< {TARGET_EXPORT_MB} MB"),
         Figure(f"{export.rss_peak_mb:.0f} MB"), _verdict(export.rss_peak_mb < TARGET_EXPORT_MB)],
    ]  # fmt: skip
    api_p95 = by_mode[("API", f"{USERS} users")].p95_ms()
    api_computed_p95 = by_mode[("API", f"{USERS} users, each filtering (every answer computed)")].p95_ms()
    worst = {what: by_mode[(what, f"{USERS} users, cache off (the whole province computed every time)")]
             for what in ("page", "API")}  # fmt: skip
    return "\n\n".join(
        [
            "## 14. Managers' dashboards on the province (`/dashboard/`, `/api/v1/dashboard/arrears/`)",
            f"The {ctx.dashboard_customers:,}-customer portfolio of benchmark 13, its arrears summary built as the "
            f"nightly job builds it: {summary.rebuild_rows:,} summary rows for today (one per combination of area, "
            "industry, grade, collector, settlement mode and importance) and their rollups by coarser grains "
            "(the area with any one or two of the other dimensions, and everything but the collector), 13 "
            "month-ends for the trend.",
            "**Summary and the live figures.** In-process, wall-clock. The full rebuild ran "
            f"{len(summary.rebuild)} time(s), then the 13 month-ends once (today's included); then "
            f"{len(summary.refresh)} day(s) of {PAYMENTS_PER_DAY:,} payments from customers with something open, each "
            "imported as the seed writes them (`billing.demo_scale.demo_payments_import`: the day's penalty accrued "
            "by `penalties_accrue`, payments and allocations written in bulk, bill statuses refreshed) and followed "
            "by `summary_refresh()`. Last, the same figures computed live from the bills, without the summary "
            "(`dashboards.summary.positions` over every customer, grouped by the dimensions and by area, as the "
            "API's `group_by=region` would need), checked against the summary's totals.",
            table(["what", "runs", "median s", "min–max s", ""], rows_summary),
            "**The page and the API.** gunicorn with "
            f"{WORKERS} sync workers serving `config.wsgi` on the loopback interface (settings "
            "`config.settings.base`, `DEBUG=0`, `CACHE_URL` set so that both workers share one cache in Redis, as "
            "`config.settings.production` does), this database. Answers are cached by scope, filters and language "
            "until the summary next changes, and shared by the users of one scope (every manager); the page's "
            "cached part is everything but the header (refresh button, CSRF token, user menu) and the live "
            f"cut-off orders. The users are {USERS} managers, each with a session and a token of their own. Per "
            f"URL: {WARM_UP_REQUESTS} warm-up requests; {SEQUENTIAL_REQUESTS} requests of one user one after "
            f"another; {USERS} users (threads) making {REQUESTS_PER_USER} requests each with a pause of "
            f"{THINK_SECONDS[0]}–{THINK_SECONDS[1]} s before each (people reading a dashboard; the pauses are not "
            "in the latency), served from the cache; the same users making "
            f"{REQUESTS_PER_USER // 3} requests each, every one with filters of its own (one to three of area, "
            "industry, importance and settlement mode, on one of the summary's dates, never the same twice), so "
            f"every answer is computed; {USERS} clients with no pause at all (the most the server takes; requests "
            f"queue for the {WORKERS} workers); and, on a second server with the cache off "
            "(`DASHBOARD_CACHE_SECONDS=0`), the 20 users asking for the whole province, computed every time — the "
            "worst case, which no real morning reaches: after a refresh, the first request of each scope "
            "computes and the others are served from the cache. A new connection per request; latency measured "
            "by the client, which runs on the same machine and shares its 2 cores with the server and PostgreSQL; "
            f"p95 is the nearest-rank 95th percentile. The page is {web.page_bytes:,} bytes; the API answers "
            f"{web.api_groups} groups.",
            table(["URL", "mode", "requests", "errors", "median ms", "p95 ms", "requests/s"], latency_rows),
            "**Where a request's time goes** (in-process, Django's test client, no HTTP server; medians). "
            f"Computed (the cache cleared first), the page takes {queries.page_ms:,.0f} ms, "
            f"{queries.page_sql_ms:,.0f} ms of it in {queries.page_queries} SQL queries, the rest in Python "
            "(drill-down links, the template); from the cache "
            f"{queries.page_cached_ms:,.1f} ms. The API computed takes {queries.api_ms:,.0f} ms, "
            f"{queries.api_sql_ms:,.0f} ms of it in {queries.api_queries} queries; from the cache "
            f"{queries.api_cached_ms:,.1f} ms. The date's summary has {queries.summary_rows:,} rows (one per "
            "combination of the six dimensions: "
            f"{ctx.dashboard_customers / max(queries.summary_rows, 1):.1f} customers a row); a request sums the "
            "smallest rollup grain that holds what it filters, groups and is scoped by — the province's totals "
            f"{queries.rollup_rows:,} rows by area ({queries.totals_ms:.1f} ms), the by-area breakdown "
            f"{queries.breakdown_ms:.1f} ms, the by-collector one (area × collector) "
            f"{queries.collector_ms:.1f} ms.",
            f"Side by side: the API's figures from the summary answer in {api_p95:,.0f} ms (p95, {USERS} users, "
            f"cached), {api_computed_p95:,.0f} ms (p95, each filtering, every answer computed) and "
            f"{worst['API'].p95_ms():,.0f} ms (p95, cache off, the whole province every time), HTTP included; "
            f"computed live from the bills without the summary they take {live:,.1f} s in-process, before any "
            f"HTTP. With the cache off the page's p95 is {worst['page'].p95_ms():,.0f} ms: "
            f"{queries.page_ms:,.0f} ms of work a request, {USERS} users and the load generator on 2 cores.",
            "**CSV export.** The bill list's export link (`core.exports`, streamed) as the manager, filtered to "
            f"`{export.path.split('?', 1)[-1]}`, the latest due dates back to about {EXPORT_BILLS:,} bills "
            f"({export.bills:,} match), in a child process through Django's test client reading the streamed body: "
            f"{export.rows:,} rows, {export.megabytes:.1f} MB in {export.seconds:.1f} s (HTTP {export.status}"
            f"{', streamed' if export.streaming else ', not streamed'}). Peak resident memory of the process "
            f"(VmHWM): {export.rss_peak_mb:.0f} MB, of which {export.rss_before_mb:.0f} MB were there before the "
            f"request (Python, Django, the login); the peak of Python allocations during the export, in a second "
            f"run under `tracemalloc`: {export.traced_peak_mb:.1f} MB.",
            table(["target (from the issue)", "needed", "measured", ""], targets),
            f"Beyond the target, the same {USERS} users when nothing comes from the cache (p95; the issue sets no "
            f"figure for these). A computed page is {queries.page_ms:,.0f} ms of work (mostly Python: drill-down "
            f"links and the template), a computed API answer {queries.api_ms:,.0f} ms; {USERS} users at once share "
            "the 2 cores with PostgreSQL and the load generator. In use a summary change makes the first request "
            "of each scope compute once, and a filtering user computes their own answer once.",
            table(["when", "page p95", "API p95"], beyond),
        ]
    )


def bench_dashboard(ctx: BenchContext) -> str:
    with own_database():
        print(f"bench:   seeding {ctx.dashboard_customers:,} customers ...", file=sys.stderr, flush=True)
        seed = seed_measure(customers=ctx.dashboard_customers, seed=ctx.seed)
        print(f"bench:   seeded in {seed.seconds:.0f} s; summary ...", file=sys.stderr, flush=True)
        summary = summary_measure(runs=ctx.runs, payments=PAYMENTS_PER_DAY, seed=ctx.seed, budget=ctx.phase_seconds * 6)
        queries = inprocess_measure(calls=20)
        print("bench:   page and API ...", file=sys.stderr, flush=True)
        web = http_measure(ctx)
        print("bench:   export ...", file=sys.stderr, flush=True)
        export = export_measure(ctx)
    return _seed_section(ctx, seed) + "\n\n" + _dashboard_section(ctx, summary, queries, web, export)
