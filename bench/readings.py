"""Benchmark: meter-reading ingestion on PostgreSQL.

readings_ingest's bulk path (COPY into a staging table, set-based validation, INSERT) against a
raw COPY of the same rows with no validation at all, and against the naive one-save()-per-row
loop. The bulk path is timed end to end from the in-memory list of dicts the API hands it, and
its time is split into parts without changing the service: its module-level helpers and
psycopg's Cursor.copy are wrapped, and every SQL statement is timed by an execute wrapper.
"""

import csv
import datetime as dt
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from io import StringIO
from pathlib import Path

from .common import BenchContext, Figure, SqlTimer, median, shares, statement_label, table

ROWS = 1_000_000
METERS = 10_000  # × 100 days; with fewer meters in the portfolio, more days each
CHUNK = 250_000  # rows per readings_ingest call (the API itself takes at most READINGS_MAX_BATCH)
CSV_ROWS = 250_000  # the CSV variant: the first days' rows as one file, one call
NAIVE_ROWS = 20_000
REPEAT_SECONDS = 200  # no new repetition of bulk + raw COPY starts after this long
HAZARD_TIMEOUT = 120  # statement timeout of the empty-statistics demonstration
TARGET_RATE = 150_000  # rows/s end to end
TARGET_COPY_FACTOR = 2.5  # at most this many times the raw COPY's time
TARGET_NAIVE_FACTOR = 10  # at least this many times the naive path's rate
REGISTERS = ("total_kwh", "critical_peak_kwh", "peak_kwh", "flat_kwh", "valley_kwh", "reactive_kvarh")
VALUES = (*REGISTERS, "max_demand_kw")
COPY_COLUMNS = ("meter_id", "read_on", *VALUES, "source", "received_at")


def _fmt(thousandths: int) -> str:
    return f"{thousandths // 1000}.{thousandths % 1000:03d}"


def _generate(meter_nos: list[str], days: list[dt.date], seed: int) -> list[dict]:
    """Valid daily readings, day by day (as daily files arrive), every register cumulative.

    Values are strings with 3 decimals, as a CSV file or a JSON client sending exact decimals gives them."""
    rng = random.Random(f"gridcollect-bench-readings:{seed}")
    state = []
    for _ in meter_nos:
        flat = rng.randint(2_000, 400_000)  # thousandths of a register unit per day
        peak, valley = flat * rng.randint(50, 90) // 100, flat * rng.randint(60, 120) // 100
        increments = [flat // 10, peak, flat, valley]  # critical peak, peak, flat, valley
        registers = [rng.randint(0, 10**8) for _ in range(4)]
        reactive = rng.randint(0, 10**8)
        state.append((registers, increments, [reactive], rng.randint(25, 50), rng.randint(500, 50_000)))
    rows = []
    append = rows.append
    for day in days:
        read_on = day.isoformat()
        for meter_no, (registers, increments, reactive, reactive_share, demand) in zip(meter_nos, state, strict=True):
            factor = rng.randint(80, 120)
            for i in range(4):
                registers[i] += increments[i] * factor // 100
            total = sum(registers)
            reactive[0] += sum(increments) * factor // 100 * reactive_share // 100
            append(
                {
                    "meter": meter_no,
                    "read_on": read_on,
                    "total_kwh": _fmt(total),
                    "critical_peak_kwh": _fmt(registers[0]),
                    "peak_kwh": _fmt(registers[1]),
                    "flat_kwh": _fmt(registers[2]),
                    "valley_kwh": _fmt(registers[3]),
                    "reactive_kvarh": _fmt(reactive[0]),
                    "max_demand_kw": _fmt(demand * factor // 100),
                    "source": "ami",
                }
            )
    return rows


def _write_copy_file(path: Path, rows: list[dict], meter_ids: dict[str, int]) -> None:
    received = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S+00")
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            values = "\t".join(row[name] for name in VALUES)
            handle.write(f"{meter_ids[row['meter']]}\t{row['read_on']}\t{values}\t{row['source']}\t{received}\n")


def _write_csv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["meter", "read_on", *VALUES, "source"])
        writer.writeheader()
        writer.writerows(rows)


def _table_name() -> str:
    from billing.models import MeterReading

    return MeterReading._meta.db_table


def _truncate() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {_table_name()}")


def _stored() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {_table_name()}")
        return cursor.fetchone()[0]


# --- where the bulk path's time goes ----------------------------------------------------------

_STATEMENTS = [  # (text in the statement, what it does), first match wins
    ("pg_advisory_xact_lock", "SQL: advisory lock"),
    ("DROP TABLE IF EXISTS reading_stage", "SQL: drop / create the staging table"),
    ("CREATE TEMP TABLE reading_stage", "SQL: drop / create the staging table"),
    ("SET meter_id", "SQL: resolve meters, first row per (meter, date), ANALYZE"),
    ("WHERE meter_id IS NULL", "SQL: list unknown meters"),
    ("b.idx = a.first_idx", "SQL: in-batch conflicts"),
    ("WITH candidates", "SQL: monotonic check against stored neighbours (window)"),
    ("s.idx = s.first_idx", "SQL: changed or duplicate stored readings"),
]


def _reading_statement(sql: str) -> str:
    text = " ".join(sql.split())
    if text.upper().startswith("INSERT"):
        return "SQL: INSERT … SELECT into the readings table"
    for needle, label in _STATEMENTS:
        if needle in text:
            return label
    return f"SQL: {statement_label(text)} ({text[:40]}…)"


class _Probe:
    """Times the parts of readings_ingest while leaving its code as it is."""

    def __init__(self) -> None:
        self.sql = SqlTimer(_reading_statement)
        self.python: dict[str, list[float]] = {}  # helper → [seconds, calls, seconds inside a COPY]
        self.copy = [0.0, 0]
        self.commit = [0.0, 0]
        self._in_copy = False

    def _timed(self, name: str, function):
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                entry = self.python.setdefault(name, [0.0, 0, 0.0])
                elapsed = time.perf_counter() - started
                entry[0] += elapsed
                entry[1] += 1
                if self._in_copy:
                    entry[2] += elapsed

        return wrapper

    @contextmanager
    def installed(self):
        import psycopg
        from django.db import connection

        from billing.services import readings

        probe = self
        patched = []
        for name in ("_parse", "_copy_text"):
            original = getattr(readings, name, None)
            if callable(original):
                setattr(readings, name, self._timed(name, original))
                patched.append((name, original))
        original_copy = psycopg.Cursor.copy

        @contextmanager
        def timed_copy(cursor, *args, **kwargs):
            started = time.perf_counter()
            probe._in_copy = True
            try:
                with original_copy(cursor, *args, **kwargs) as copy:
                    yield copy
            finally:
                probe._in_copy = False
                probe.copy[0] += time.perf_counter() - started
                probe.copy[1] += 1

        original_commit = connection._commit

        def timed_commit():
            started = time.perf_counter()
            try:
                return original_commit()
            finally:
                probe.commit[0] += time.perf_counter() - started
                probe.commit[1] += 1

        psycopg.Cursor.copy = timed_copy
        connection._commit = timed_commit  # shadows the method on this connection object only
        try:
            with connection.execute_wrapper(self.sql):
                yield self
        finally:
            del connection._commit
            psycopg.Cursor.copy = original_copy
            for name, original in patched:
                setattr(readings, name, original)

    def parts(self, total: float) -> list[tuple[str, float, int | str]]:
        parse = self.python.get("_parse", [0.0, 0, 0.0])
        text = self.python.get("_copy_text", [0.0, 0, 0.0])
        rows: list[tuple[str, float, int | str]] = [
            ("Python: parse and check the rows (`_parse`)", parse[0], parse[1]),
            ("Python: build the COPY text (`_copy_text`)", text[0], text[1]),
            ("COPY into the staging table (transfer, text build excluded)", self.copy[0] - text[2], self.copy[1]),
        ]
        rows += sorted(
            ((name, seconds, self.sql.calls[name]) for name, seconds in self.sql.seconds.items()),
            key=lambda row: -row[1],
        )
        rows.append(
            (
                "COMMIT: the deferred foreign-key checks of the inserted rows (Django's are DEFERRABLE INITIALLY "
                "DEFERRED), dropping the staging table",
                self.commit[0],
                self.commit[1],
            )
        )
        accounted = parse[0] + (text[0] - text[2]) + self.copy[0] + self.sql.total + self.commit[0]
        rows.append(("the rest: Python between the steps, fetching results (by difference)", total - accounted, "–"))
        return rows


# --- the variants -----------------------------------------------------------------------------


@contextmanager
def _steady_statistics(timeout: float):
    """The same planner statistics at the start of every variant, and no statement running away.

    TRUNCATE leaves the readings table with no statistics (reltuples -1), like a new table. With
    autovacuum on, an ANALYZE of the freshly truncated table may or may not run before the next
    variant starts; when it does, the planner knows the table as empty and the bulk path's INSERT …
    NOT EXISTS becomes quadratic (see _bulk_after_empty_analyze). So autovacuum is off on this one
    table while the benchmark runs, and every statement on the benchmark's connection is capped.
    """
    from django.db import connection

    table_name = _table_name()
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table_name} SET (autovacuum_enabled = off)")
        cursor.execute(f"SET statement_timeout = {int(timeout * 1000)}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET statement_timeout")
            cursor.execute(f"ALTER TABLE {table_name} RESET (autovacuum_enabled)")


def _bulk_after_empty_analyze(rows: list[dict], timeout: float) -> float | None:
    """The bulk path once more on the slice, after an ANALYZE of the empty table (what autovacuum,
    or `vacuumdb --analyze` after a deployment, leaves): seconds, or None when cancelled by the timeout."""
    from django.db import OperationalError, connection

    from billing.services.readings import readings_ingest

    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        previous = cursor.fetchone()[0]
        cursor.execute(f"ANALYZE {_table_name()}")
        cursor.execute(f"SET statement_timeout = {int(timeout * 1000)}")
    started = time.perf_counter()
    try:
        readings_ingest(rows=rows)
        seconds: float | None = time.perf_counter() - started
    except OperationalError:  # statement timeout: psycopg's QueryCanceled
        seconds = None
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('statement_timeout', %s, false)", [previous])
    return seconds


def _bulk(rows: list[dict], chunk: int) -> tuple[float, int, _Probe]:
    from billing.services.readings import readings_ingest

    probe = _Probe()
    created = 0
    with probe.installed():
        started = time.perf_counter()
        for start in range(0, len(rows), chunk):
            created += readings_ingest(rows=rows[start : start + chunk]).created
        seconds = time.perf_counter() - started
    return seconds, created, probe


def _raw_copy(path: Path, timeout: float) -> tuple[float, str]:
    """The same rows, already resolved to meter ids, COPYed straight into the readings table."""
    url = os.environ["DATABASE_URL"]
    columns = ", ".join(COPY_COLUMNS)
    psql = shutil.which("psql")
    started = time.perf_counter()
    if psql:
        subprocess.run(
            [
                psql,
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                url,
                "-c",
                f"\\copy {_table_name()} ({columns}) FROM '{path}'",
            ],
            check=True,
            timeout=timeout,
        )
        return time.perf_counter() - started, "`psql \\copy` from a tab-separated file"
    import psycopg

    with (
        psycopg.connect(url) as connection,
        connection.cursor() as cursor,
        open(path, "rb") as handle,
        cursor.copy(f"COPY {_table_name()} ({columns}) FROM STDIN") as copy,
    ):
        while block := handle.read(1 << 20):
            copy.write(block)
    return time.perf_counter() - started, "psycopg `cursor.copy` of a tab-separated file (no psql client installed)"


def _csv_command(path: Path) -> float:
    from django.core.management import call_command

    started = time.perf_counter()
    call_command("import_readings", str(path), stdout=StringIO())
    return time.perf_counter() - started


def _naive(rows: list[dict], meter_ids: dict[str, int], seconds: float) -> tuple[int, float]:
    from billing.models import MeterReading

    done = 0
    started = time.perf_counter()
    deadline = started + seconds
    for row in rows:
        if time.perf_counter() > deadline:
            break
        MeterReading(
            meter_id=meter_ids[row["meter"]],
            read_on=row["read_on"],
            total_kwh=row["total_kwh"],
            critical_peak_kwh=row["critical_peak_kwh"],
            peak_kwh=row["peak_kwh"],
            flat_kwh=row["flat_kwh"],
            valley_kwh=row["valley_kwh"],
            reactive_kvarh=row["reactive_kvarh"],
            max_demand_kw=row["max_demand_kw"],
            source=row["source"],
        ).save()
        done += 1
    return done, time.perf_counter() - started


def _check(expected: int, what: str) -> None:
    stored = _stored()
    if stored != expected:
        raise RuntimeError(f"{what} left {stored:,} readings in the table, expected {expected:,}")


def bench_readings_ingest(ctx: BenchContext) -> str:
    from django.utils import timezone

    from customers.models import MeterPoint

    meters = list(MeterPoint.objects.order_by("id").values_list("meter_no", "id")[:METERS])
    if not meters:
        raise RuntimeError("the readings benchmark needs the demo portfolio's meters")
    meter_ids = dict(meters)
    day_count = -(-ROWS // len(meters))
    last = timezone.localdate() - dt.timedelta(days=1)
    days = [last - dt.timedelta(days=day_count - 1 - n) for n in range(day_count)]
    rows = _generate([no for no, _id in meters], days, ctx.seed)[:ROWS]
    total_rows = len(rows)

    bulk_runs: list[tuple[float, _Probe]] = []
    copy_runs: list[float] = []
    copy_method = ""
    with tempfile.TemporaryDirectory(prefix="gridcollect-bench-") as folder, _steady_statistics(ctx.phase_seconds):
        copy_file, csv_file = Path(folder) / "readings.tsv", Path(folder) / "readings.csv"
        _write_copy_file(copy_file, rows, meter_ids)
        _write_csv(csv_file, rows[:CSV_ROWS])
        budget_end = time.perf_counter() + REPEAT_SECONDS
        for run in range(ctx.runs):
            if run and time.perf_counter() > budget_end:
                break
            _truncate()
            seconds, created, probe = _bulk(rows, CHUNK)
            if created != total_rows:
                raise RuntimeError(f"the bulk path stored {created:,} of {total_rows:,} readings")
            _check(total_rows, "the bulk path")
            bulk_runs.append((seconds, probe))
            _truncate()
            seconds, copy_method = _raw_copy(copy_file, ctx.phase_seconds)
            _check(total_rows, "the raw COPY")
            copy_runs.append(seconds)
            print(
                f"bench:   readings run {run + 1}: bulk {bulk_runs[-1][0]:.1f} s, raw COPY {copy_runs[-1]:.1f} s",
                file=sys.stderr,
                flush=True,
            )
        _truncate()
        csv_seconds = _csv_command(csv_file)
        _check(CSV_ROWS, "import_readings")
        _truncate()
        naive_done, naive_seconds = _naive(rows[:NAIVE_ROWS], meter_ids, ctx.phase_seconds)
        _check(naive_done, "the naive loop")
        _truncate()
        slice_seconds, _created, _probe = _bulk(rows[:NAIVE_ROWS], NAIVE_ROWS)
        _check(NAIVE_ROWS, "the bulk path on the slice")
        _truncate()
        hazard_seconds = _bulk_after_empty_analyze(rows[:NAIVE_ROWS], HAZARD_TIMEOUT)
        _truncate()
    del rows
    print(
        f"bench:   readings: CSV command {csv_seconds:.1f} s, naive {naive_done:,} rows in {naive_seconds:.1f} s, "
        f"bulk on {NAIVE_ROWS:,} rows {slice_seconds:.1f} s (after ANALYZE of the empty table: "
        f"{'cancelled' if hazard_seconds is None else f'{hazard_seconds:.1f} s'})",
        file=sys.stderr,
        flush=True,
    )

    bulk_seconds = median([s for s, _p in bulk_runs])
    copy_seconds = median(copy_runs)
    bulk_rate = total_rows / bulk_seconds
    copy_rate = total_rows / copy_seconds
    naive_rate = naive_done / naive_seconds
    copy_factor = bulk_seconds / copy_seconds
    naive_factor = bulk_rate / naive_rate
    runs = len(bulk_runs)
    chunks = -(-total_rows // CHUNK)
    raw_label = "`psql \\copy`" if copy_method.startswith("`psql") else "psycopg COPY"

    def spread(values: list[float]) -> Figure:
        return Figure(f"{min(values):.1f}–{max(values):.1f}" if len(values) > 1 else f"{values[0]:.1f}")

    def row(path: str, rows: int, count: int, seconds: float, seconds_range: Figure, note: str) -> list[object]:
        return [
            path,
            rows,
            count,
            round(seconds, 1),
            seconds_range,
            round(rows / seconds),
            Figure(f"{(seconds / rows) / (copy_seconds / total_rows):.2f}×"),
            note,
        ]

    results = table(
        ["path", "rows", "runs", "median s", "min–max s", "rows/s", "time per row vs raw COPY", ""],
        [
            row(
                f"**`readings_ingest` bulk path**, {chunks} calls of {CHUNK:,} rows from a list of dicts",
                total_rows,
                runs,
                bulk_seconds,
                spread([s for s, _p in bulk_runs]),
                "end to end",
            ),
            row(
                f"`manage.py import_readings` on a CSV file of the first {CSV_ROWS:,} rows",
                CSV_ROWS,
                1,
                csv_seconds,
                spread([csv_seconds]),
                "one call, CSV parsing included",
            ),
            row(
                f"raw COPY ({raw_label}) straight into the readings table",
                total_rows,
                len(copy_runs),
                copy_seconds,
                spread(copy_runs),
                "no validation, meter ids resolved beforehand",
            ),
            row(
                f"`readings_ingest` bulk path, one call on the first {NAIVE_ROWS:,} rows",
                NAIVE_ROWS,
                1,
                slice_seconds,
                spread([slice_seconds]),
                "the naive path's slice",
            ),
            row(
                "naive `MeterReading(...).save()` per row, autocommit",
                naive_done,
                1,
                naive_seconds,
                spread([naive_seconds]),
                f"the first {naive_done:,} rows; the rate is the extrapolation",
            ),
        ],
    )

    def verdict(ok: bool) -> str:
        return "**met**" if ok else "**missed**"

    targets = table(
        ["target (from the issue)", "needed", "measured", ""],
        [
            [
                "bulk path rows/s, end to end",
                Figure(f"≥ {TARGET_RATE:,}"),
                Figure(f"{bulk_rate:,.0f}"),
                verdict(bulk_rate >= TARGET_RATE),
            ],
            [
                "bulk path time ÷ raw COPY time (same rows)",
                Figure(f"≤ {TARGET_COPY_FACTOR}×"),
                Figure(f"{copy_factor:.2f}×"),
                verdict(copy_factor <= TARGET_COPY_FACTOR),
            ],
            [
                "bulk path rate ÷ naive rate",
                Figure(f"≥ {TARGET_NAIVE_FACTOR}×"),
                Figure(f"{naive_factor:.1f}×"),
                verdict(naive_factor >= TARGET_NAIVE_FACTOR),
            ],
        ],
    )
    median_run = sorted(bulk_runs, key=lambda run: run[0])[(len(bulk_runs) - 1) // 2]
    breakdown = table(
        ["part of the bulk path", "seconds", "share", "calls"],
        shares(median_run[1].parts(median_run[0]), median_run[0]),
    )
    if hazard_seconds is None:
        hazard = f"did not finish: cancelled by a {HAZARD_TIMEOUT} s statement timeout"
    else:
        hazard = f"took {hazard_seconds:.1f} s ({hazard_seconds / slice_seconds:.0f}× the {slice_seconds:.1f} s above)"
    return "\n\n".join(
        [
            "## 3. Meter-reading ingestion (`readings_ingest`, PostgreSQL)",
            f"{total_rows:,} valid daily readings: {len(meters):,} of the portfolio's meters × {day_count} days "
            f"({days[0]} to {days[-1]}), every register cumulative and growing, values as strings with 3 decimals "
            "(as a CSV file or a JSON client sending exact decimals gives them), ordered day by day as the daily "
            "files arrive. The database holds the demo portfolio of benchmark 1 and no readings: the readings "
            "table is emptied (TRUNCATE) before every variant, so each one writes the same rows into the same "
            "empty table with the same indexes (primary key, unique (meter, date), meter).",
            "**Method.** *Bulk path*: `readings_ingest(rows=…)` in-process on PostgreSQL (its COPY + SQL path), "
            f"timed from the list of dicts to the last commit, in {chunks} calls of {CHUNK:,} rows ({chunks} "
            "transactions; each later call validates against the readings the earlier ones stored). Everything "
            "the service does is inside the time: parsing and checking each row in Python, the COPY into the "
            "staging table, the validation SQL and the INSERT. *CSV*: `manage.py import_readings <file>` "
            f"in-process on the first {CSV_ROWS:,} of the same rows written as a CSV file (the size of one bulk "
            "call): one call, reading and parsing the CSV included. "
            f"*Raw COPY*: {copy_method} holding the same rows with the meter ids already resolved, "
            "straight into the readings table: no validation, no staging table (its client start-up included; "
            f"writing the file is not timed). *Naive*: the first {NAIVE_ROWS:,} rows, one "
            "`MeterReading(...).save()` each in autocommit mode, meter ids looked up in advance, no validation; "
            f"its rate is extrapolated. Bulk and raw COPY ran {runs} time(s) each, alternately, and the table "
            "quotes the median; the CSV command, the slice and the naive loop ran once. Every variant's row count "
            "is checked afterwards. Autovacuum is off on the readings table while this benchmark runs, so every "
            "variant starts with the same planner statistics (none, as TRUNCATE leaves them); see the last "
            "paragraph for why.",
            results,
            targets,
            *(
                [
                    f"On this machine even the raw COPY, with no validation at all, writes {copy_rate:,.0f} rows/s: "
                    f"the {TARGET_RATE:,} rows/s target is out of reach here whatever the bulk path does, and the "
                    "ratio to the raw COPY, measured in the same run, is the figure to judge it by."
                ]
                if copy_rate < TARGET_RATE
                else []
            ),
            "**Where the bulk path's time goes** (its median run, summed over the calls). Measured without "
            "changing the service: its parsing and COPY-text helpers and psycopg's `Cursor.copy` are wrapped with "
            "timers, the connection's commit is timed, and every SQL statement is timed by a Django execute wrapper "
            "(the execute call only; turning fetched rows into Python objects counts as the rest).",
            breakdown,
            f"**Planner-statistics hazard.** The same {NAIVE_ROWS:,}-row call, after an `ANALYZE` of the empty "
            f"readings table (what autovacuum can leave after a TRUNCATE, or `vacuumdb --analyze` on a new "
            f"deployment), {hazard}. With statistics saying the table is empty, the INSERT's "
            "`NOT EXISTS (SELECT 1 FROM <readings table> …)` is planned as a nested loop over a sequential scan of "
            "the table being inserted into, which rescans every row the statement has already written: the time "
            "grows with the square of the batch (a 250,000-row call would take many minutes).",
        ]
    )
