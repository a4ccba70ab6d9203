"""Benchmark: the customer list API served by gunicorn, sequentially and with concurrent clients."""

import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote, unquote

from .common import BenchContext, Latencies, table

HOST = "127.0.0.1"  # the benchmark only ever talks to this machine's loopback interface
WORKERS = 2
WARM_UP_REQUESTS = 20
STARTUP_SECONDS = 30


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _get(port: int, path: str, token: str) -> tuple[int, bytes]:
    # A new connection per request: gunicorn's sync workers close the connection after each response.
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        connection.request("GET", path, headers={"Authorization": f"Token {token}", "Accept": "application/json"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@contextmanager
def gunicorn(ctx: BenchContext) -> Iterator[int]:
    """A gunicorn serving config.wsgi on a free loopback port, stopped (by its own pid) on exit."""
    port = _free_port()
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="config.settings.base",
        DEBUG="0",
        ALLOWED_HOSTS=HOST,
        LOG_LEVEL="WARNING",
    )
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "config.wsgi:application",
        "--workers",
        str(WORKERS),
        "--bind",
        f"{HOST}:{port}",
        "--log-level",
        "warning",
        "--timeout",
        "60",
    ]
    with tempfile.TemporaryFile(mode="w+") as log:
        process = subprocess.Popen(command, cwd=ctx.root, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + STARTUP_SECONDS
            while True:
                if process.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{log.read()[-3000:]}")
                try:
                    status, _ = _get(port, "/healthz", "")
                    if status == 200:
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn did not answer /healthz within {STARTUP_SECONDS} s")
                time.sleep(0.2)
            yield port
        finally:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def _sequential(port: int, path: str, token: str, count: int, seconds: float) -> Latencies:
    latencies: list[float] = []
    errors = 0
    started = time.perf_counter()
    deadline = started + seconds
    for _ in range(count):
        if time.perf_counter() > deadline:
            break
        begin = time.perf_counter()
        status, _ = _get(port, path, token)
        latencies.append(time.perf_counter() - begin)
        errors += status != 200
    return Latencies(latencies, time.perf_counter() - started, errors)


def _concurrent(port: int, path: str, token: str, count: int, clients: int, seconds: float) -> Latencies:
    """`clients` threads share `count` requests; throughput is over the wall-clock time of all of them."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    remaining = [count]
    deadline = time.perf_counter() + seconds

    def client() -> None:
        while time.perf_counter() < deadline:
            with lock:
                if remaining[0] <= 0:
                    return
                remaining[0] -= 1
            begin = time.perf_counter()
            try:
                status, _ = _get(port, path, token)
            except OSError:
                status = 0
            elapsed = time.perf_counter() - begin
            with lock:
                latencies.append(elapsed)
                errors[0] += status != 200

    threads = [threading.Thread(target=client, name=f"bench-client-{n}") for n in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 60)
    return Latencies(latencies, time.perf_counter() - started, errors[0])


def bench_customer_list_api(ctx: BenchContext) -> str:
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    from customers.models import Customer

    manager = User.objects.get(username="manager")
    collector = User.objects.filter(groups__name="collector").order_by("username").first()
    manager_token = Token.objects.get_or_create(user=manager)[0].key
    collector_token = Token.objects.get_or_create(user=collector)[0].key
    middle = max(1, Customer.objects.count() // 50 // 2)  # a deep page: OFFSET costs grow with it
    queries = [
        ("all customers, first page", "manager", manager_token, "/api/v1/customers/?page_size=50"),
        (
            "industry=steel & q=钢",
            "manager",
            manager_token,
            f"/api/v1/customers/?industry=steel&q={quote('钢')}&page_size=50",
        ),
        (
            f"all customers, middle page ({middle})",
            "manager",
            manager_token,
            f"/api/v1/customers/?page={middle}&page_size=50",
        ),
        (
            "a collector's own customers",
            collector.username,
            collector_token,
            "/api/v1/customers/?page_size=50",
        ),
    ]
    rows = []
    with gunicorn(ctx) as port:
        for label, username, token, path in queries:
            status, body = _get(port, path, token)
            if status != 200:
                raise RuntimeError(f"GET {path} as {username} answered {status}: {body[:300]!r}")
            matched = json.loads(body)["count"]
            for _ in range(WARM_UP_REQUESTS):  # reach both workers, fill connection and query caches
                _get(port, path, token)
            phases = [
                ("sequential", _sequential(port, path, token, ctx.requests, ctx.phase_seconds)),
                (
                    f"{ctx.clients} clients",
                    _concurrent(port, path, token, ctx.requests, ctx.clients, ctx.phase_seconds),
                ),
            ]
            for mode, result in phases:
                rows.append(
                    [
                        f"`{unquote(path)}`<br>{label}",
                        username,
                        matched,
                        mode,
                        result.count,
                        result.errors,
                        round(result.median_ms(), 1),
                        round(result.p95_ms(), 1),
                        round(result.per_second(), 1),
                    ]
                )
    total = Customer.objects.count()
    return "\n\n".join(
        [
            "## 2. Customer list API (`GET /api/v1/customers/`)",
            f"The list endpoint over the {total:,} customers loaded by benchmark 1, 50 rows a page, "
            "authenticated with `Authorization: Token …` as the demo manager (sees everything) and as one "
            "demo collector (sees only the customers assigned to them).",
            f"**Method.** gunicorn with {WORKERS} sync workers serving `config.wsgi` on the loopback interface "
            "(settings `config.settings.base`, `DEBUG=0`), the same PostgreSQL database. Per query: "
            f"{WARM_UP_REQUESTS} warm-up requests (not counted), then {ctx.requests} requests one after another, "
            f"then {ctx.requests} requests shared by {ctx.clients} client threads. Each request opens a new HTTP "
            "connection (the sync worker closes it after every response) and reads the whole body. Latency is "
            "measured by the client; p95 is the nearest-rank 95th percentile; requests/s is requests divided by "
            "the wall-clock time of the phase. The client runs on the same machine and competes with the server "
            "for its cores. Every phase stops early if it runs over "
            f"{ctx.phase_seconds:.0f} s (the requests column shows how many were made).",
            table(
                ["query", "user", "rows matched", "mode", "requests", "errors", "median ms", "p95 ms", "requests/s"],
                rows,
            ),
        ]
    )
