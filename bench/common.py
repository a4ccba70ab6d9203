"""What every benchmark shares: the context it runs in, timing statistics and markdown tables."""

import math
import os
import platform
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path


@dataclass
class BenchContext:
    """Settings of this run, and facts one benchmark leaves for the next (e.g. who the seeded users are)."""

    root: Path
    customers: int
    seed: int
    requests: int
    clients: int
    phase_seconds: float  # upper bound on any one measured phase, so a slow machine cannot hang the run
    runs: int = 3  # repetitions of the timed runs whose median is quoted (benchmarks 3 and 4)
    payment_requests: int = 2000  # payments posted by benchmark 5's concurrent phase
    payment_clients: int = 20
    dashboard_customers: int = 100_000  # the province-size portfolio of benchmarks 13 and 14
    facts: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Latencies:
    """Latencies in seconds of the requests in one phase, and the phase's wall-clock time."""

    seconds: list[float]
    wall: float
    errors: int

    @property
    def count(self) -> int:
        return len(self.seconds)

    def median_ms(self) -> float:
        return statistics.median(self.seconds) * 1000 if self.seconds else math.nan

    def p95_ms(self) -> float:
        if not self.seconds:
            return math.nan
        ordered = sorted(self.seconds)
        return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)] * 1000  # nearest-rank percentile

    def per_second(self) -> float:
        return self.count / self.wall if self.wall else math.nan


class Figure(str):
    """A number already formatted (e.g. `0.05`, `2.3×`): printed as it is, right-aligned."""


def table(header: list[str], rows: list[list[object]]) -> str:
    """A markdown table; numbers are right-aligned."""

    def cell(value: object) -> str:
        if isinstance(value, float):
            return f"{value:,.1f}"
        if isinstance(value, int):
            return f"{value:,}"
        return str(value)

    aligns = ["---:" if rows and isinstance(rows[0][i], int | float | Figure) else "---" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(aligns) + "|"]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def _proc_field(path: str, name: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key.strip() == name:
                    return value.strip()
    except OSError:
        return None
    return None


def machine() -> dict[str, str]:
    """The facts about the machine a reader needs to compare figures: CPU, cores, memory, Python."""
    memory_kb = _proc_field("/proc/meminfo", "MemTotal")
    memory = f"{int(memory_kb.split()[0]) / 1024 / 1024:.1f} GiB" if memory_kb else "unknown"
    return {
        "CPU": _proc_field("/proc/cpuinfo", "model name") or platform.processor() or "unknown",
        "Cores (logical)": str(os.cpu_count()),
        "Memory": memory,
        "Python": platform.python_version(),
        "Date (UTC)": datetime.now(UTC).strftime("%Y-%m-%d"),
    }


def median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


class SqlTimer:
    """Wall-clock time and count of the SQL statements Django runs, grouped by `label(sql)`.

    Install with `connection.execute_wrapper(timer)`. Only the execute call is timed (the client
    binding the parameters into the query, as Django's psycopg backend does, and the server's work):
    turning the fetched rows into Python objects happens afterwards and counts as Python time.
    """

    def __init__(self, label: Callable[[str], str] | None = None):
        self.label = label or statement_label
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            key = self.label(sql)
            self.seconds[key] = self.seconds.get(key, 0.0) + time.perf_counter() - started
            self.calls[key] = self.calls.get(key, 0) + 1

    @property
    def total(self) -> float:
        return sum(self.seconds.values())


_TABLE = re.compile(r'\b(?:FROM|INTO|UPDATE|TABLE)\s+"?([A-Za-z_][\w]*)"?', re.IGNORECASE)


def statement_label(sql: str) -> str:
    """`SELECT billing_bill`, `INSERT billing_billline`, …: the verb and the first table named."""
    text = " ".join(sql.split())
    verb = text.split(" ", 1)[0].upper() if text else "?"
    found = _TABLE.search(text)
    label = f"{verb} {found.group(1)}" if found else verb
    if verb == "SELECT" and "ROW_NUMBER()" in text.upper():
        label += " (window)"
    return label


def shares(parts: list[tuple[str, float, int | str]], total: float) -> list[list[object]]:
    """Rows of a time breakdown: part, seconds, share of the total, calls."""
    return [
        [name, Figure(f"{seconds:.2f}"), Figure(f"{100 * seconds / total:.0f} %" if total else "–"), calls]
        for name, seconds, calls in parts
    ]
