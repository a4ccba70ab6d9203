from django.core.management.base import BaseCommand

from billing.services.penalties import penalties_accrue
from core.management import parse_date_option, yesterday


class Command(BaseCommand):
    help = (
        "Accrue late-payment penalties through a date (default yesterday), catching up any missed days. "
        "Running it twice for a date adds nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--date", help="YYYY-MM-DD, the last day to accrue (default yesterday)")

    def handle(self, *args, date, **options):
        through = parse_date_option(date, "--date") or yesterday()
        written = penalties_accrue(through=through)
        self.stdout.write(f"{written} penalty day(s) accrued through {through}")
