import re
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from billing.backtest import DOC_SECTION, backtest, report


class Command(BaseCommand):
    help = (
        "Backtest the consumption forecast against same-day-last-week (next day) and the run-rate (month) "
        "on the stored readings; print MAPE and, with --write-docs, update docs/BENCHMARKS.md."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=56, help="evaluation days for the next-day forecast")
        parser.add_argument("--write-docs", action="store_true", help="replace the section in docs/BENCHMARKS.md")

    def handle(self, *args, days, write_docs, **options):
        result = backtest(evaluation_days=days)
        if not result.next_day.points:
            raise CommandError("no readings to backtest: load the demo data first (make demo)")
        text = report(result)
        self.stdout.write(text)
        if write_docs:
            path = Path(settings.BASE_DIR) / "docs" / "BENCHMARKS.md"
            current = path.read_text() if path.exists() else "# Benchmarks\n"
            # The numbered section, up to the next numbered one (the layout bench/run.py keeps).
            section = re.compile(rf"^## {DOC_SECTION}\. .*?(?=^## \d+\. |\Z)", re.S | re.M)
            if section.search(current):
                current = section.sub(lambda _m: text.rstrip() + "\n\n", current)
            else:
                current = current.rstrip() + "\n\n" + text
            path.write_text(current.rstrip() + "\n")
            self.stdout.write(f"updated {path.name}")
