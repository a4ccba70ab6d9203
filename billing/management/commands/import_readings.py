"""Load the metering system's daily reading file (CSV with a header row)."""

import csv
import sys

from django.core.management.base import BaseCommand, CommandError

from billing.services.readings import ReadingBatchError, readings_ingest


class Command(BaseCommand):
    help = (
        "Import meter readings from a CSV file (columns: meter, read_on, total_kwh, critical_peak_kwh, peak_kwh, "
        "flat_kwh, valley_kwh, reactive_kvarh, max_demand_kw, source). All or nothing: any bad row rejects the "
        "file and every bad row is listed. Re-importing the same file stores nothing new."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="path of the CSV file, or - for standard input")
        parser.add_argument("--dry-run", action="store_true", help="validate and report, store nothing")
        parser.add_argument("--max-errors", type=int, default=50, help="how many bad rows to print")

    def handle(self, *args, file, dry_run, max_errors, **options):
        try:
            handle = sys.stdin if file == "-" else open(file, newline="", encoding="utf-8-sig")  # noqa: SIM115
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc}") from None
        with handle:
            try:
                result = readings_ingest(rows=csv.DictReader(handle), dry_run=dry_run)
            except ReadingBatchError as exc:
                for error in exc.errors[:max_errors]:
                    # Line numbers count the header as line 1, as a spreadsheet shows them.
                    self.stderr.write(f"line {error.row + 2}: {error.field}: {error.message}")
                if len(exc.errors) > max_errors:
                    self.stderr.write(f"... and {len(exc.errors) - max_errors} more")
                raise CommandError(f"{len(exc.errors)} bad row(s): nothing was stored") from None
        verb = "would be stored" if dry_run else "stored"
        self.stdout.write(f"{result.created} reading(s) {verb}, {result.duplicates} duplicate(s) skipped")
