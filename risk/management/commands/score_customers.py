import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from risk.alerts import alerts_raise
from risk.services import score_run


class Command(BaseCommand):
    help = "Score every customer as of a date with the published scorecard (idempotent), then raise the day's alerts."

    def add_arguments(self, parser):
        parser.add_argument("--date", help="YYYY-MM-DD (default today)")

    def handle(self, *args, date=None, **options):
        try:
            day = dt.date.fromisoformat(date) if date else timezone.localdate()
        except ValueError as exc:
            raise CommandError(f"--date: {exc}") from None
        run = score_run(as_of=day)
        raised = alerts_raise(day=day)
        self.stdout.write(f"{day}: {run.done} of {run.total} customers scored (scorecard v{run.scorecard.version}); "
                          f"{raised} alerts raised")  # fmt: skip
