from django.core.management.base import BaseCommand, CommandError

from billing.services.statements import reconcile


class Command(BaseCommand):
    help = (
        "Prove every customer's balance: the sum of the statement entries must equal what is outstanding "
        "derived from the allocations; every bill must equal the sum of its lines. Exits non-zero on a difference."
    )

    def handle(self, *args, **options):
        problems = reconcile()
        for problem in problems:
            self.stderr.write(problem)
        if problems:
            raise CommandError(f"{len(problems)} difference(s) found")
        self.stdout.write("reconciled: no differences")
