from django.core.management.base import BaseCommand

from collection.cutoff import cutoff_propose_due
from collection.services import dunning_run
from core.management import parse_date_option


class Command(BaseCommand):
    help = (
        "Run the dunning ladder for a date (default today): propose notices, send those that need no approval, "
        "cancel proposals of customers who have paid, open and close collection cases, and propose cut-off orders "
        "where a suspension notice period has run. Safe to run twice."
    )

    def add_arguments(self, parser):
        parser.add_argument("--date", help="YYYY-MM-DD (default today)")

    def handle(self, *args, date, **options):
        day = parse_date_option(date, "--date")
        result = dunning_run(day=day)
        cutoffs = cutoff_propose_due(day=result.day)
        self.stdout.write(
            f"{result.day}: {result.customers_overdue} customer(s) overdue, {result.proposed} notice(s) proposed, "
            f"{result.sent} sent, {result.cancelled} cancelled; cases {result.cases_opened} opened, "
            f"{result.cases_closed} closed; {len(cutoffs)} cut-off order(s) proposed"
        )
