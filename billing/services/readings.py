"""Meter-reading ingestion: one validation path for the API, the CSV upload and the daily file.

A batch is all or nothing. Each row is parsed in Python (so a malformed value is reported
with its row and field), then checked against the archive and the stored readings:
unknown meter, a (meter, date) sent twice in the batch with different values, a changed
value for a stored (meter, date), a register lower than the previous reading or higher than
the next stored one (a late reading slotting in between). Identical re-sends are counted as
duplicates and skipped, so a retried batch is a no-op.

PostgreSQL: the parsed rows are COPYed into a temporary staging table and validated and
merged by set-based SQL (a few statements whatever the batch size). Elsewhere (SQLite, the
embedded default) the same checks run in Python and rows are stored with bulk_create. Both
paths return the same errors, in row order, and are exercised by the same tests.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.models import MeterPoint

from ..choices import MeterReadingSourceChoices
from ..models import MeterReading

# Registers that only ever grow (cumulative); max demand is a per-day value and may fall.
CUMULATIVE = ("total_kwh", "critical_peak_kwh", "peak_kwh", "flat_kwh", "valley_kwh", "reactive_kvarh")
VALUES = (*CUMULATIVE, "max_demand_kw")
REQUIRED = ("total_kwh", "peak_kwh", "flat_kwh", "valley_kwh", "reactive_kvarh", "max_demand_kw")
SOURCES = set(MeterReadingSourceChoices.values)
MAX_DIGITS = 13  # NUMERIC(16,3): 13 digits before the point


@dataclass
class RowError:
    row: int
    field: str
    message: str

    def as_dict(self) -> dict:
        return {"row": self.row, "field": self.field, "message": self.message}


@dataclass
class IngestResult:
    created: int = 0
    duplicates: int = 0


@dataclass
class ReadingBatchError(Exception):
    errors: list[RowError] = field(default_factory=list)

    def __str__(self) -> str:
        return "; ".join(f"row {e.row} {e.field}: {e.message}" for e in self.errors[:5])


@dataclass(slots=True)
class _Row:
    idx: int
    meter_no: str
    read_on: dt.date
    values: tuple  # in VALUES order
    source: str
    meter_id: int | None = None


def _parse_decimal(raw, name: str) -> Decimal:
    if isinstance(raw, Decimal):
        value = raw
    elif isinstance(raw, int | str):
        value = Decimal(str(raw).strip())
    elif isinstance(raw, float):
        value = Decimal(repr(raw))
    else:
        raise ValueError(_("must be a number"))
    if not value.is_finite():
        raise ValueError(_("must be a number"))
    if value < 0:
        raise ValueError(_("must not be negative"))
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -3:
        raise ValueError(_("has more than 3 decimal places"))
    if value.adjusted() >= MAX_DIGITS:
        raise ValueError(_("is too large"))
    return value


def _parse_one(idx: int, raw, today: dt.date) -> _Row | RowError:
    """One row, fully checked: the reference for every error message."""
    if not isinstance(raw, Mapping):
        return RowError(idx, "non_field_errors", _("each row must be an object"))
    meter_no = raw.get("meter")
    if meter_no in (None, ""):
        return RowError(idx, "meter", _("this field is required"))
    meter_no = str(meter_no).strip()
    if "\x00" in meter_no or len(meter_no) > 32:
        return RowError(idx, "meter", _("unknown meter %(meter)s") % {"meter": meter_no.replace("\x00", "")[:32]})
    read_on = raw.get("read_on")
    try:
        if isinstance(read_on, dt.datetime):
            raise ValueError
        if not isinstance(read_on, dt.date):
            read_on = dt.date.fromisoformat(str(read_on).strip())
    except (TypeError, ValueError):
        return RowError(idx, "read_on", _("must be a date written YYYY-MM-DD"))
    if read_on > today:
        return RowError(idx, "read_on", _("is in the future"))
    values = []
    for name in VALUES:
        raw_value = raw.get(name)
        if raw_value in (None, ""):
            if name in REQUIRED:
                return RowError(idx, name, _("this register is missing"))
            raw_value = "0"
        try:
            values.append(_parse_decimal(raw_value, name))
        except (ValueError, InvalidOperation) as exc:
            message = str(exc) if isinstance(exc, ValueError) and str(exc) else _("must be a number")
            return RowError(idx, name, message)
    source = raw.get("source") or MeterReadingSourceChoices.AMI
    source = source.strip().lower() if isinstance(source, str) else None
    if source not in SOURCES:
        return RowError(idx, "source", _("must be one of %(choices)s") % {"choices": ", ".join(sorted(SOURCES))})
    return _Row(idx, meter_no, read_on, tuple(values), source)


def _parse(rows: Iterable[Mapping], today: dt.date) -> tuple[list[_Row], list[RowError]]:
    parsed: list[_Row] = []
    errors: list[RowError] = []
    for idx, raw in enumerate(rows):
        result = _parse_one(idx, raw, today)
        (errors if isinstance(result, RowError) else parsed).append(result)
    return parsed, errors


def _first_difference(a: tuple, b: tuple) -> str | None:
    for name, x, y in zip(VALUES, a, b, strict=True):
        if x != y:
            return name
    return None


def _changed_message(name: str, stored) -> str:
    return _("differs from the reading already stored for this meter and date (%(value)s)") % {"value": stored}


def _in_batch_message(first_idx: int) -> str:
    return _("conflicts with row %(row)d for the same meter and date") % {"row": first_idx}


def _lower_message(name: str, other_date: dt.date, other_value) -> str:
    return _("is lower than the previous reading of %(date)s (%(value)s)") % {"date": other_date, "value": other_value}


def _higher_message(name: str, other_date: dt.date, other_value) -> str:
    return _("is higher than the later reading of %(date)s (%(value)s)") % {"date": other_date, "value": other_value}


def readings_ingest(
    *, rows: Iterable[Mapping], today: dt.date | None = None, bulk_sql: bool | None = None, dry_run: bool = False
) -> IngestResult:
    """Validate and store a batch of readings, all or nothing. Raises ReadingBatchError.

    `bulk_sql` chooses the path; by default COPY + SQL on PostgreSQL, Python elsewhere.
    `dry_run` validates and counts what would be stored, and stores nothing.
    """
    today = today or timezone.localdate()
    if bulk_sql is None:
        bulk_sql = connection.vendor == "postgresql"
    with transaction.atomic():
        if bulk_sql:
            staged, errors = _stage(rows, today)
            # One ingestion at a time: two concurrent batches for the same meter could each
            # pass the monotonic check against the other's absence.
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(hashtext('gridcollect.readings'))")
            result, more = _ingest_postgres(staged, bool(errors))
        else:
            parsed, errors = _parse(rows, today)
            result, more = _ingest_python(parsed, bool(errors))
        errors.extend(more)
        if dry_run:
            transaction.set_rollback(True)
        if errors:
            errors.sort(key=lambda e: (e.row, VALUES.index(e.field) if e.field in VALUES else -1))
            transaction.set_rollback(True)
            raise ReadingBatchError(errors)
    return result


# --- the Python path ------------------------------------------------------------------------


def _ingest_python(parsed: list[_Row], has_errors: bool) -> tuple[IngestResult, list[RowError]]:
    errors: list[RowError] = []
    meters = dict(MeterPoint.objects.filter(meter_no__in={r.meter_no for r in parsed}).values_list("meter_no", "id"))
    first: dict[tuple[int, dt.date], _Row] = {}
    duplicates = 0
    candidates: list[_Row] = []
    for row in parsed:
        row.meter_id = meters.get(row.meter_no)
        if row.meter_id is None:
            errors.append(RowError(row.idx, "meter", _("unknown meter %(meter)s") % {"meter": row.meter_no}))
            continue
        key = (row.meter_id, row.read_on)
        earlier = first.get(key)
        if earlier is None:
            first[key] = row
            continue
        differs = _first_difference(row.values, earlier.values)
        if differs:
            errors.append(RowError(row.idx, differs, _in_batch_message(earlier.idx)))
        else:
            duplicates += 1

    bounds: dict[int, list[dt.date]] = {}
    for meter_id, read_on in first:
        low_high = bounds.setdefault(meter_id, [read_on, read_on])
        low_high[0] = min(low_high[0], read_on)
        low_high[1] = max(low_high[1], read_on)
    existing = _existing_neighbours(bounds)
    stored = {(r[0], r[1]): r for r in existing}
    for key, row in first.items():
        found = stored.get(key)
        if found is None:
            candidates.append(row)
            continue
        differs = _first_difference(row.values, found[2])
        if differs:
            errors.append(RowError(row.idx, differs, _changed_message(differs, found[2][VALUES.index(differs)])))
        else:
            duplicates += 1

    # Merge stored neighbours and candidates per meter, in date order, and compare neighbours.
    sequence: dict[int, list[tuple[dt.date, tuple, _Row | None]]] = {}
    for meter_id, read_on, values in existing:
        sequence.setdefault(meter_id, []).append((read_on, values, None))
    for row in candidates:
        sequence.setdefault(row.meter_id, []).append((row.read_on, row.values, row))
    for items in sequence.values():
        items.sort(key=lambda item: item[0])
        for position, (_read_on, values, row) in enumerate(items):
            if row is None:
                continue
            error = None
            if position > 0:
                prev_date, prev_values, _prev = items[position - 1]
                for i, name in enumerate(CUMULATIVE):
                    if values[i] < prev_values[i]:
                        error = RowError(row.idx, name, _lower_message(name, prev_date, prev_values[i]))
                        break
            if error is None and position + 1 < len(items) and items[position + 1][2] is None:
                next_date, next_values, _next = items[position + 1]
                for i, name in enumerate(CUMULATIVE):
                    if values[i] > next_values[i]:
                        error = RowError(row.idx, name, _higher_message(name, next_date, next_values[i]))
                        break
            if error:
                errors.append(error)
    if errors or has_errors:
        return IngestResult(), errors
    MeterReading.objects.bulk_create(
        [
            MeterReading(
                meter_id=row.meter_id,
                read_on=row.read_on,
                source=row.source,
                **dict(zip(VALUES, row.values, strict=True)),
            )
            for row in candidates
        ],
        batch_size=2000,
    )
    return IngestResult(created=len(candidates), duplicates=duplicates), []


def _existing_neighbours(bounds: dict[int, list[dt.date]]) -> list[tuple[int, dt.date, tuple]]:
    """Stored readings of each meter within its batch range, plus the one just before and after."""
    found: list[tuple[int, dt.date, tuple]] = []
    fields = ("meter_id", "read_on", *VALUES)
    ids = list(bounds)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        low = min(bounds[m][0] for m in chunk)
        high = max(bounds[m][1] for m in chunk)
        for row in MeterReading.objects.filter(meter_id__in=chunk, read_on__range=(low, high)).values_list(*fields):
            meter_id, read_on = row[0], row[1]
            if bounds[meter_id][0] <= read_on <= bounds[meter_id][1]:
                found.append((meter_id, read_on, tuple(row[2:])))
        for meter_id in chunk:
            low_m, high_m = bounds[meter_id]
            before = (
                MeterReading.objects.filter(meter_id=meter_id, read_on__lt=low_m)
                .order_by("-read_on")
                .values_list(*fields)[:1]
            )
            after = (
                MeterReading.objects.filter(meter_id=meter_id, read_on__gt=high_m)
                .order_by("read_on")
                .values_list(*fields)[:1]
            )
            for row in (*before, *after):
                found.append((row[0], row[1], tuple(row[2:])))
    return found


# --- the PostgreSQL path --------------------------------------------------------------------

_STAGE_COLUMNS = ("idx", "meter_id", "read_on", *VALUES, "source", "first_idx")
_NUMBER = re.compile(r"\d{1,13}(?:\.\d{1,3})?")


def _stage(rows: Iterable[Mapping], today: dt.date) -> tuple[list[tuple], list[RowError]]:
    """Rows as text for COPY: (idx, meter number, ISO date, register strings, source).

    The common case — a dict of plain decimal strings, as a CSV file or a JSON body gives it —
    is checked with one pattern per value and passed through as text, which is what makes the
    bulk path fast. Anything else goes through `_parse_one`, so every error is the same as the
    Python path's and every accepted value is normalised the same way."""
    staged: list[tuple] = []
    errors: list[RowError] = []
    today_iso = today.isoformat()
    number = _NUMBER.fullmatch
    for idx, raw in enumerate(rows):
        if type(raw) is dict:
            meter, day = raw.get("meter"), raw.get("read_on")
            values = (
                raw.get("total_kwh"),
                raw.get("critical_peak_kwh") or "0",
                raw.get("peak_kwh"),
                raw.get("flat_kwh"),
                raw.get("valley_kwh"),
                raw.get("reactive_kvarh"),
                raw.get("max_demand_kw"),
            )
            source = raw.get("source") or "ami"
            if (
                type(meter) is str
                and meter
                and type(day) is str
                and len(day) == 10
                and day[4] == "-"
                and day[7] == "-"
                and day <= today_iso
                and type(source) is str
                and source in SOURCES
                and meter == meter.strip()
                and "\x00" not in meter
                and all(type(v) is str and number(v) for v in values)
            ):
                try:
                    dt.date.fromisoformat(day)
                except ValueError:
                    pass
                else:
                    staged.append((idx, meter, day, values, source))
                    continue
        result = _parse_one(idx, raw, today)
        if isinstance(result, RowError):
            errors.append(result)
        else:
            values = tuple(str(v) for v in result.values)
            staged.append((idx, result.meter_no, result.read_on.isoformat(), values, result.source))
    return staged, errors


def _ingest_postgres(staged: list[tuple], has_errors: bool) -> tuple[IngestResult, list[RowError]]:
    errors: list[RowError] = []
    table = MeterReading._meta.db_table
    meters = dict(MeterPoint.objects.filter(meter_no__in={row[1] for row in staged}).values_list("meter_no", "id"))
    # The meter and the first row of each (meter, date) are resolved here, while the COPY text is
    # written, instead of by UPDATEs that would rewrite every staged row.
    first: dict[tuple[int, str], int] = {}
    buffer = io.StringIO()
    write = buffer.write
    for idx, meter_no, day, values, source in staged:
        meter_id = meters.get(meter_no)
        if meter_id is None:
            errors.append(RowError(idx, "meter", _("unknown meter %(meter)s") % {"meter": meter_no}))
            continue
        first_idx = first.setdefault((meter_id, day), idx)
        write(f"{idx}\t{meter_id}\t{day}\t{chr(9).join(values)}\t{source}\t{first_idx}\n")
    with connection.cursor() as cursor:
        # Dropped first as well: inside an outer transaction (a savepoint) ON COMMIT has not run yet.
        cursor.execute("DROP TABLE IF EXISTS reading_stage")
        cursor.execute(
            """
            CREATE TEMP TABLE reading_stage (
                idx integer, meter_id bigint, read_on date,
                total_kwh numeric(16,3), critical_peak_kwh numeric(16,3), peak_kwh numeric(16,3),
                flat_kwh numeric(16,3), valley_kwh numeric(16,3), reactive_kvarh numeric(16,3),
                max_demand_kw numeric(12,3), source text, first_idx integer, stored boolean NOT NULL DEFAULT false
            ) ON COMMIT DROP
            """
        )
        data = buffer.getvalue().encode()
        with cursor.cursor.copy(f"COPY reading_stage ({', '.join(_STAGE_COLUMNS)}) FROM STDIN") as copy:
            for start in range(0, len(data), 8 << 20):
                copy.write(data[start : start + (8 << 20)])
        cursor.execute("ANALYZE reading_stage")

        differs_sql = " ".join(f"WHEN a.{n} IS DISTINCT FROM b.{n} THEN '{n}'" for n in VALUES)
        cursor.execute(
            f"""
            SELECT a.idx, CASE {differs_sql} END AS field, b.idx
              FROM reading_stage a JOIN reading_stage b ON b.idx = a.first_idx
             WHERE a.idx <> a.first_idx
            """
        )
        in_batch_duplicates = 0
        for idx, field_name, first_idx in cursor.fetchall():
            if field_name:
                errors.append(RowError(idx, field_name, _in_batch_message(first_idx)))
            else:
                in_batch_duplicates += 1

        stored_columns = ", ".join(f"r.{n}" for n in VALUES)
        cursor.execute(
            f"""
            SELECT s.idx, CASE {differs_sql.replace("a.", "s.").replace("b.", "r.")} END, {stored_columns}
              FROM reading_stage s JOIN {table} r ON r.meter_id = s.meter_id AND r.read_on = s.read_on
             WHERE s.idx = s.first_idx
            """
        )
        stored_duplicates = 0
        stored_rows: list[int] = []
        for idx, field_name, *stored in cursor.fetchall():
            stored_rows.append(idx)
            if field_name:
                errors.append(RowError(idx, field_name, _changed_message(field_name, stored[VALUES.index(field_name)])))
            else:
                stored_duplicates += 1
        if stored_rows:
            # Flagged once here, so the checks and the INSERT below need no anti-join on the
            # readings table (which the planner may run as a scan per row on a fresh table).
            cursor.execute("UPDATE reading_stage SET stored = true WHERE idx = ANY(%s)", [stored_rows])

        # Candidates: first rows not already stored. Neighbours: stored readings of the same
        # meters inside each meter's batch range, and the one just before and just after it.
        cumulative = ", ".join(CUMULATIVE)
        lag_checks = " ".join(
            f"WHEN {n} < lag({n}) OVER w THEN '{n}|' || (lag(read_on) OVER w)::text || '|' || (lag({n}) OVER w)::text"
            for n in CUMULATIVE
        )
        lead_checks = " ".join(
            f"WHEN {n} > lead({n}) OVER w "
            f"THEN '{n}|' || (lead(read_on) OVER w)::text || '|' || (lead({n}) OVER w)::text"
            for n in CUMULATIVE
        )
        cursor.execute(
            f"""
            WITH candidates AS (
                SELECT s.idx, s.meter_id, s.read_on, {", ".join("s." + n for n in CUMULATIVE)}
                  FROM reading_stage s
                 WHERE s.idx = s.first_idx AND NOT s.stored
            ),
            bounds AS (
                SELECT meter_id, min(read_on) AS low, max(read_on) AS high FROM candidates GROUP BY meter_id
            ),
            neighbours AS (
                SELECT NULL::integer AS idx, r.meter_id, r.read_on, {", ".join("r." + n for n in CUMULATIVE)}
                  FROM bounds b JOIN {table} r ON r.meter_id = b.meter_id AND r.read_on BETWEEN b.low AND b.high
                UNION ALL
                SELECT NULL, p.meter_id, p.read_on, {", ".join("p." + n for n in CUMULATIVE)}
                  FROM bounds b CROSS JOIN LATERAL (
                      SELECT * FROM {table} r WHERE r.meter_id = b.meter_id AND r.read_on < b.low
                      ORDER BY r.read_on DESC LIMIT 1) p
                UNION ALL
                SELECT NULL, n.meter_id, n.read_on, {", ".join("n." + n for n in CUMULATIVE)}
                  FROM bounds b CROSS JOIN LATERAL (
                      SELECT * FROM {table} r WHERE r.meter_id = b.meter_id AND r.read_on > b.high
                      ORDER BY r.read_on LIMIT 1) n
            ),
            merged AS (
                SELECT idx, meter_id, read_on, {cumulative} FROM candidates
                UNION ALL
                SELECT idx, meter_id, read_on, {cumulative} FROM neighbours
            ),
            checked AS (
                SELECT idx,
                       CASE {lag_checks} END AS lower_than_previous,
                       CASE WHEN lead(idx) OVER w IS NULL AND lead(read_on) OVER w IS NOT NULL THEN
                           CASE {lead_checks} END END AS higher_than_next
                  FROM merged
                WINDOW w AS (PARTITION BY meter_id ORDER BY read_on)
            )
            SELECT idx, lower_than_previous, higher_than_next FROM checked
             WHERE idx IS NOT NULL AND (lower_than_previous IS NOT NULL OR higher_than_next IS NOT NULL)
            """
        )
        for idx, lower, higher in cursor.fetchall():
            name, other_date, other_value = (lower or higher).split("|")
            other_date = dt.date.fromisoformat(other_date)
            make = _lower_message if lower else _higher_message
            errors.append(RowError(idx, name, make(name, other_date, Decimal(other_value))))

        if errors or has_errors:
            return IngestResult(), errors
        columns = ", ".join(("meter_id", "read_on", *VALUES, "source"))
        cursor.execute(
            f"""
            INSERT INTO {table} ({columns}, received_at)
            SELECT {columns}, %s FROM reading_stage s
             WHERE s.idx = s.first_idx AND NOT s.stored
             ORDER BY s.meter_id, s.read_on
            """,
            [timezone.now()],
        )
        created = cursor.rowcount
    return IngestResult(created=created, duplicates=in_batch_duplicates + stored_duplicates), []
