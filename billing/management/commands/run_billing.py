from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from billing.services.bills import billing_run_execute, billing_run_start
from core.management import parse_date_option


class Command(BaseCommand):
    help = "Bill every monthly and instalment customer for a period. Safe to run again: existing bills are kept."

    def add_arguments(self, parser):
        parser.add_argument("--period", required=True, help="YYYY-MM")
        parser.add_argument("--issue-date", help="YYYY-MM-DD (default today)")

    def handle(self, *args, period, issue_date, **options):
        try:
            run = billing_run_start(period=period, issue_date=parse_date_option(issue_date, "--issue-date"))
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        run = billing_run_execute(run_id=run.pk)
        self.stdout.write(
            f"run {run.pk} {run.period}: {run.status}, {run.bills_created} bill(s) created, "
            f"{run.already_billed} already billed, {len(run.skipped)} skipped"
        )
        for item in run.skipped[:50]:
            self.stdout.write(f"  skipped {item['account_no']}: {item['reason']}")
