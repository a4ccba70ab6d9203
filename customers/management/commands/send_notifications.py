from django.core.management.base import BaseCommand

from customers.notifications import notifications_send_due


class Command(BaseCommand):
    help = (
        "Send the queued notifications that are due (SMS, WeChat, e-mail), after failing, for a person to check, "
        "those a stopped worker left half-sent. Running it twice sends nothing twice."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--time-budget", type=float, default=50.0, help="Stop starting new batches after this many seconds"
        )

    def handle(self, *args, time_budget, **options):
        result = notifications_send_due(time_budget=time_budget)
        self.stdout.write(
            f"{result.count('sent')} sent, {result.count('retry')} to retry, {result.count('failed')} failed, "
            f"{result.reaped} stuck message(s) failed for a person to check"
        )
