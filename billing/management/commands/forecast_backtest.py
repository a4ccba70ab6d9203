from django.core.management.base import BaseCommand, CommandError

from billing.backtest import DOC_SECTION, backtest, report
from core.benchmarks import benchmarks_section_write


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
            path = benchmarks_section_write(DOC_SECTION, text)
            self.stdout.write(f"updated {path.name}")
