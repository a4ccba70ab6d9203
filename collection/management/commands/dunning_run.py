from django.core.management.base import BaseCommand

from collection.services import dunning_run
from core.management import parse_date_option


class Command(BaseCommand):
    help = (
        "Run the dunning ladder for a date (default today): propose notices, send those that need no approval, "
        "cancel proposals of customers who have paid, open and close collection cases. Safe to run twice."
    )

    def add_arguments(self, parser):
        parser.add_argument("--date", help="YYYY-MM-DD (default today)")

    def handle(self, *args, date, **options):
        result = dunning_run(day=parse_date_option(date, "--date"))
        self.stdout.write(
            f"{result.day}: {result.customers_overdue} customer(s) overdue, {result.proposed} notice(s) proposed, "
            f"{result.sent} sent, {result.cancelled} cancelled; cases {result.cases_opened} opened, "
            f"{result.cases_closed} closed"
        )
