"""Staff CSV uploads of readings: check first and show every row's problem, store on confirm."""

import csv
import io

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import ReadingUpload
from .readings import ReadingBatchError, readings_ingest

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
REQUIRED_COLUMNS = {
    "meter",
    "read_on",
    "total_kwh",
    "peak_kwh",
    "flat_kwh",
    "valley_kwh",
    "reactive_kvarh",
    "max_demand_kw",
}


def _rows(content: str):
    reader = csv.DictReader(io.StringIO(content))
    missing = REQUIRED_COLUMNS - set(reader.fieldnames or [])
    if missing:
        raise ValidationError(
            {"file": _("The file lacks the column(s) %(columns)s.") % {"columns": ", ".join(sorted(missing))}}
        )
    return reader


def _run(upload: ReadingUpload, *, dry_run: bool) -> ReadingUpload:
    try:
        result = readings_ingest(rows=_rows(upload.content), dry_run=dry_run)
    except ReadingBatchError as exc:
        upload.status = ReadingUpload.Status.REJECTED
        # Line numbers as a spreadsheet shows them: the header is line 1.
        upload.errors = [{"line": e.row + 2, "field": e.field, "message": e.message} for e in exc.errors[:500]]
        upload.new_readings = upload.duplicates = 0
        return upload
    upload.errors = []
    upload.new_readings, upload.duplicates = result.created, result.duplicates
    return upload


def reading_upload_check(*, file_name: str, data: bytes, uploaded_by: User) -> ReadingUpload:
    if len(data) > MAX_UPLOAD_BYTES:
        raise ValidationError({"file": _("The file is larger than 20 MB; use the import command for the daily file.")})
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError({"file": _("The file is not UTF-8 text (save it as CSV UTF-8).")}) from None
    rows = max(content.count("\n") - 1, 0) + (0 if content.endswith("\n") or not content else 1)
    upload = ReadingUpload(file_name=file_name[:200], content=content, uploaded_by=uploaded_by, rows=rows)
    _run(upload, dry_run=True)
    if upload.status != ReadingUpload.Status.REJECTED:
        upload.status = ReadingUpload.Status.VALIDATED
    upload.save()
    return upload


@transaction.atomic
def reading_upload_confirm(*, upload: ReadingUpload) -> ReadingUpload:
    """Store a checked upload. Checked again, because readings may have arrived meanwhile."""
    upload = ReadingUpload.objects.select_for_update().get(pk=upload.pk)
    if upload.status != ReadingUpload.Status.VALIDATED:
        raise ValidationError(_("Only a checked upload that is not yet stored can be stored."))
    _run(upload, dry_run=False)
    if upload.status != ReadingUpload.Status.REJECTED:
        upload.status = ReadingUpload.Status.IMPORTED
        upload.imported_at = timezone.now()
    upload.save()
    return upload
