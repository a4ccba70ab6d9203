from django.core.management.base import BaseCommand

from billing.services.control import control_send_due
from billing.services.prepaid import prepaid_run
from core.management import parse_date_option, yesterday


class Command(BaseCommand):
    help = (
        "Remote prepaid control for a day (default yesterday): deduct the day's charges from every open prepaid "
        "account, warn at 7 and 3 days left, trip or escalate at zero. Running it twice for a date changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--date", help="YYYY-MM-DD, the day to deduct (default yesterday)")
        parser.add_argument(
            "--send", action="store_true", help="Also send the due trip/restore commands now (else the sender job does)"
        )

    def handle(self, *args, date, send, **options):
        day = parse_date_option(date, "--date") or yesterday()
        result = prepaid_run(day=day)
        self.stdout.write(
            f"{day}: {result.accounts} account(s), {result.deducted} daily charge(s) written "
            f"({result.caught_up} for earlier days); warned at 7 days {result.warned_7}, at 3 days {result.warned_3}; "
            f"exhausted {result.exhausted}: {result.trips} trip(s), {result.escalations} escalation(s); "
            f"{result.notifications} message(s) queued"
        )
        if result.missing_usage:
            self.stderr.write(
                f"{len(result.missing_usage)} account(s) without statistics for {day}, not deducted: "
                + ", ".join(result.missing_usage[:50])
                + (" …" if len(result.missing_usage) > 50 else "")
            )
        if result.without_account:
            self.stderr.write(
                f"{len(result.without_account)} prepaid customer(s) without a prepaid account: "
                + ", ".join(result.without_account[:50])
                + (" …" if len(result.without_account) > 50 else "")
            )
        if send:
            sent = control_send_due()
            self.stdout.write(
                f"commands: {sent.count('sent') + sent.count('acknowledged')} sent, {sent.count('retry')} to retry, "
                f"{sent.count('gave_up')} gave up"
            )
