from django.core.management.base import BaseCommand

from billing.services.daily import daily_stats_compute, daily_stats_run
from billing.services.forecasts import forecasts_run
from core.management import parse_date_option, yesterday


class Command(BaseCommand):
    help = (
        "Compute each customer's daily statistics, forecast and exposure for a date (default yesterday), "
        "re-computing estimated days of the last five weeks. --since backfills a range. Safe to run twice."
    )

    def add_arguments(self, parser):
        parser.add_argument("--date", help="YYYY-MM-DD (default yesterday)")
        parser.add_argument("--since", help="YYYY-MM-DD: compute every day from this date to --date")

    def handle(self, *args, date, since, **options):
        day = parse_date_option(date, "--date") or yesterday()
        first = parse_date_option(since, "--since")
        written = daily_stats_compute(first_day=first, last_day=day) if first else daily_stats_run(day=day)
        forecasts = forecasts_run(day=day)
        self.stdout.write(f"{written} daily row(s) and {forecasts} forecast(s) for {day}")
