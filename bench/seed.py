"""Benchmark: loading the demo portfolio with `manage.py seed_demo` on PostgreSQL and on SQLite."""

import os
import subprocess
import sys
import tempfile
import time
from io import StringIO

from .common import BenchContext, table

# Runs in a child process against a fresh SQLite file: migrate (not timed), then seed_demo (timed).
_SQLITE_SNIPPET = """
import sys, time
from io import StringIO
import django
django.setup()
from django.core.management import call_command
from bench.seed import archive_only
call_command("migrate", verbosity=0, interactive=False)
started = time.perf_counter()
call_command("seed_demo", customers=int(sys.argv[1]), seed=int(sys.argv[2]), stdout=StringIO(), **archive_only())
print(time.perf_counter() - started)
"""


def archive_only() -> dict[str, bool]:
    """`no_history=True` where seed_demo can also write months of billing history: this benchmark
    times the archive (customers, meters, contacts, visits, users) alone."""
    from django.core.management import get_commands, load_command_class

    command = load_command_class(get_commands()["seed_demo"], "seed_demo")
    options = {action.dest for action in command.create_parser("manage.py", "seed_demo")._actions}
    return {"no_history": True} if "no_history" in options else {}


def _counts() -> dict[str, int]:
    from customers.models import Contact, Customer, MeterPoint, Region, ServiceVisit

    return {
        "customers": Customer.objects.count(),
        "meter points": MeterPoint.objects.count(),
        "contacts": Contact.objects.count(),
        "service visits": ServiceVisit.objects.count(),
        "regions": Region.objects.count(),
    }


def _seed_sqlite(ctx: BenchContext) -> float:
    with tempfile.TemporaryDirectory(prefix="gridcollect-bench-") as folder:
        env = dict(os.environ, DATABASE_URL=f"sqlite:///{folder}/bench.sqlite3")
        finished = subprocess.run(
            [sys.executable, "-c", _SQLITE_SNIPPET, str(ctx.customers), str(ctx.seed)],
            cwd=ctx.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=ctx.phase_seconds * 2,  # migrate + seed
            check=True,
        )
    return float(finished.stdout.strip().splitlines()[-1])


def bench_seed_demo(ctx: BenchContext) -> str:
    from django.contrib.auth.models import User
    from django.core.management import call_command

    options = archive_only()
    started = time.perf_counter()
    call_command("seed_demo", customers=ctx.customers, seed=ctx.seed, stdout=StringIO(), **options)
    postgres_seconds = time.perf_counter() - started
    counts = _counts()
    ctx.facts["counts"] = counts
    ctx.facts["users"] = User.objects.count()
    sqlite_seconds = _seed_sqlite(ctx)

    rows = []
    for database, seconds in [("PostgreSQL", postgres_seconds), ("SQLite", sqlite_seconds)]:
        rows.append(
            [
                database,
                counts["customers"],
                counts["meter points"],
                round(seconds, 1),
                round(counts["customers"] / seconds, 1),
                round(counts["meter points"] / seconds, 1),
            ]
        )
    data = ", ".join(f"{n:,} {name}" for name, n in counts.items())
    return "\n\n".join(
        [
            "## 1. Demo portfolio load (`seed_demo`)",
            f"`manage.py seed_demo --customers {ctx.customers} --seed {ctx.seed}"
            f"{' --no-history' if options else ''}` into a freshly migrated, empty database, demo users included"
            f"{' (the archive alone: no readings, bills or payments)' if options else ''}. "
            f"It wrote {data} and {ctx.facts['users']:,} users.",
            "**Method.** Wall-clock time of the command's `handle()` in-process (Django start-up and `migrate` are "
            "not counted), one run per database. PostgreSQL: the benchmark database on the throwaway server. "
            "SQLite: a new database file on local disk, in a child process. Rates divide the same wall-clock "
            "time by the customers and by the meter points written (they are written in the same run, so they "
            "are two views of one figure, not separate measurements).",
            table(["database", "customers", "meter points", "seconds", "customers/s", "meter points/s"], rows),
        ]
    )
