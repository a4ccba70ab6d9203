"""What every benchmark shares: the context it runs in, timing statistics and markdown tables."""

import math
import os
import platform
import statistics
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


def table(header: list[str], rows: list[list[object]]) -> str:
    """A markdown table; numbers are right-aligned."""

    def cell(value: object) -> str:
        if isinstance(value, float):
            return f"{value:,.1f}"
        if isinstance(value, int):
            return f"{value:,}"
        return str(value)

    aligns = ["---:" if rows and isinstance(rows[0][i], int | float) else "---" for i in range(len(header))]
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
