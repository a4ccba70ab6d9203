"""Post a bank statement: one payment per row, idempotent by (channel, external reference)."""

import csv
import sys
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from billing.services.payments import DuplicatePayment, payment_record, validate_received_at
from customers.models import Customer


class Command(BaseCommand):
    help = (
        "Import payments from a CSV bank statement (columns: account_no, amount, channel, external_ref, received_at). "
        "A row whose channel and reference were posted before is skipped, so re-importing a file posts nothing twice. "
        "Each row stands alone; bad rows are listed and make the command exit non-zero."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="path of the CSV file, or - for standard input")
        parser.add_argument("--channel", default="bank_transfer", help="channel for rows that name none")

    def handle(self, *args, file, channel, **options):
        try:
            handle = sys.stdin if file == "-" else open(file, newline="", encoding="utf-8-sig")  # noqa: SIM115
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc}") from None
        posted = skipped = 0
        errors: list[str] = []
        customers: dict[str, Customer | None] = {}
        with handle:
            for line, row in enumerate(csv.DictReader(handle), start=2):
                account = (row.get("account_no") or "").strip()
                ref = (row.get("external_ref") or "").strip()
                if not ref:
                    errors.append(f"line {line}: external_ref: required, it is what makes a re-import safe")
                    continue
                if account not in customers:
                    customers[account] = Customer.objects.filter(account_no=account).first()
                customer = customers[account]
                if customer is None:
                    errors.append(f"line {line}: account_no: unknown customer {account!r}")
                    continue
                try:
                    amount = Decimal((row.get("amount") or "").strip())
                except InvalidOperation:
                    errors.append(f"line {line}: amount: {row.get('amount')!r} is not a number")
                    continue
                received_at = parse_datetime((row.get("received_at") or "").strip()) if row.get("received_at") else None
                if row.get("received_at") and received_at is None:
                    errors.append(f"line {line}: received_at: {row['received_at']!r} is not a date and time")
                    continue
                if received_at is not None and received_at.tzinfo is None:
                    received_at = timezone.make_aware(received_at)
                try:
                    validate_received_at(received_at)
                    payment_record(
                        customer=customer,
                        amount=amount,
                        channel=(row.get("channel") or channel).strip(),
                        external_ref=ref,
                        received_at=received_at or timezone.now(),
                    )
                    posted += 1
                except DuplicatePayment:
                    skipped += 1
                except ValidationError as exc:
                    for field, messages in exc.message_dict.items():
                        errors.append(f"line {line}: {field}: {' '.join(messages)}")
        for error in errors:
            self.stderr.write(error)
        self.stdout.write(f"{posted} payment(s) posted, {skipped} already posted, {len(errors)} bad row(s)")
        if errors:
            raise CommandError(f"{len(errors)} bad row(s) were not posted")
