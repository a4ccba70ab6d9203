"""docs/BENCHMARKS.md written by the commands that measure something outside `bench/run.py`
(the forecast and scoring backtests): one numbered section replaced in place."""

import re
from pathlib import Path

from django.conf import settings


def benchmarks_section_write(number: int, text: str) -> Path:
    """Replace section `## {number}.` (up to the next numbered one, the layout bench/run.py
    keeps) with `text`, or append it; returns the file written."""
    path = Path(settings.BASE_DIR) / "docs" / "BENCHMARKS.md"
    current = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    section = re.compile(rf"^## {number}\. .*?(?=^## \d+\. |\Z)", re.S | re.M)
    if section.search(current):
        current = section.sub(lambda _m: text.rstrip() + "\n\n", current)
    else:
        current = current.rstrip() + "\n\n" + text
    path.write_text(current.rstrip() + "\n", encoding="utf-8")
    return path
