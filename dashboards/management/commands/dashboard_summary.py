import datetime as dt
import time

from django.core.management.base import BaseCommand, CommandError

from dashboards.summary import summary_rebuild, summary_rebuild_history, summary_refresh


class Command(BaseCommand):
    help = (
        "Build the dashboards' arrears summary: --refresh counts what changed since the last run; "
        "otherwise rebuild a date (default today) and the month-ends of the 13-month trend."
    )

    def add_arguments(self, parser):
        parser.add_argument("--date", help="YYYY-MM-DD (default today)")
        parser.add_argument("--refresh", action="store_true", help="incremental: only customers that changed")
        parser.add_argument("--force", action="store_true", help="rebuild the month-ends too, not only missing ones")

    def handle(self, *args, date=None, refresh=False, force=False, **options):
        started = time.perf_counter()
        if refresh:
            count = summary_refresh()
            self.stdout.write(f"{count} customers recomputed in {time.perf_counter() - started:.1f} s")
            return
        try:
            day = dt.date.fromisoformat(date) if date else None
        except ValueError as exc:
            raise CommandError(f"--date: {exc}") from None
        months = summary_rebuild_history(as_of=day, force=force)
        rows = summary_rebuild(as_of=day)
        self.stdout.write(
            f"{rows} summary rows; month-ends built: {', '.join(map(str, months)) or 'none'}; "
            f"{time.perf_counter() - started:.1f} s"
        )
