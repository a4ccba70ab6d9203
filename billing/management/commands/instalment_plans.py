from django.core.management.base import BaseCommand
from django.utils import timezone

from billing.services.instalments import instalment_issue_due
from core.management import parse_date_option


class Command(BaseCommand):
    help = (
        "Issue the instalments (分次结算) whose issue date is on or before a date (default today), each "
        "re-estimated from the latest forecast. Running it twice for a date issues nothing twice."
    )

    def add_arguments(self, parser):
        parser.add_argument("--date", help="YYYY-MM-DD, the day to issue for (default today)")

    def handle(self, *args, date, **options):
        day = parse_date_option(date, "--date") or timezone.localdate()
        result = instalment_issue_due(day=day)
        self.stdout.write(f"{len(result.created)} instalment(s) issued for {day}, {len(result.skipped)} skipped")
        for bill in result.created[:50]:
            self.stdout.write(f"  issued {bill.number}: {bill.total} due {bill.due_on}")
        for item in result.skipped[:50]:
            self.stdout.write(f"  skipped {item['number']}: {item['reason']}")
