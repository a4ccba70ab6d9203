"""Exports of a table as CSV or Excel, shared by the lists (customers, bills) and the dashboards.

Both stream: the CSV is written row by row into the response as the rows are read (give it
`queryset.iterator(chunk_size=...)`), and the Excel workbook is openpyxl's write-only kind, which
spills each row to a temporary file as it is appended and is then sent from that file in blocks.
So a 100,000-row export never sits in memory as a whole.
"""

import csv
import datetime as dt
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any, NamedTuple

from django.http import FileResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.utils.functional import Promise
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

FORMATS = ("csv", "xlsx")
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_CHUNK = 2000
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection): a
# customer named "=HYPERLINK(…)" must arrive as text.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MONEY_FORMAT = "#,##0.00"
DATE_FORMAT = "yyyy-mm-dd"


class Column(NamedTuple):
    """One column of an export: its heading (translated when the file is written) and how to
    read the cell from a row."""

    header: str | Promise
    value: Callable[[Any], Any]


class Sheet(NamedTuple):
    title: str | Promise
    header: Sequence[str | Promise]
    rows: Iterable[Sequence[Any]]


def rows_of(columns: Sequence[Column], objects: Iterable[Any]) -> Iterator[list[Any]]:
    for obj in objects:
        yield [column.value(obj) for column in columns]


def sheet_of(title: str | Promise, columns: Sequence[Column], objects: Iterable[Any]) -> Sheet:
    return Sheet(title, [column.header for column in columns], rows_of(columns, objects))


def _text(value: Any) -> Any:
    return str(value) if isinstance(value, Promise) else value


class _Echo:
    """csv.writer writes into this and gets the line back, so each row can be yielded."""

    def write(self, value: str) -> str:
        return value


def _csv_cell(value: Any) -> Any:
    value = _text(value)
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_response(
    filename: str, header: Sequence[str | Promise], rows: Iterable[Sequence[Any]]
) -> StreamingHttpResponse:
    def lines() -> Iterator[str]:
        writer = csv.writer(_Echo())
        yield "\ufeff"  # so Excel opens the Chinese names as UTF-8
        yield writer.writerow([_text(h) for h in header])
        for row in rows:
            yield writer.writerow([_csv_cell(value) for value in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _sheet_title(title: str | Promise, taken: set[str]) -> str:
    # Excel's rules: at most 31 characters, none of []:*?/\ , unique in the workbook.
    base = re.sub(r"[\[\]:*?/\\]", " ", str(title)).strip()[:31] or "Sheet"
    name, n = base, 2
    while name.lower() in taken:
        suffix = f" ({n})"
        name, n = base[: 31 - len(suffix)] + suffix, n + 1
    taken.add(name.lower())
    return name


def _xlsx_cell(sheet, value: Any) -> Any:
    value = _text(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, Decimal):
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = MONEY_FORMAT if value.as_tuple().exponent == -2 else "General"
        return cell
    if isinstance(value, dt.datetime):
        return WriteOnlyCell(sheet, value=value.replace(tzinfo=None))  # Excel has no time zones
    if isinstance(value, dt.date):
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = DATE_FORMAT
        return cell
    if isinstance(value, str):
        cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", value))
        cell.data_type = "s"  # never a formula, whatever it starts with
        return cell
    return value


def xlsx_response(filename: str, sheets: Iterable[Sheet]) -> FileResponse:
    workbook = Workbook(write_only=True)
    taken: set[str] = set()
    bold = Font(bold=True)
    for title, header, rows in sheets:
        sheet = workbook.create_sheet(title=_sheet_title(title, taken))
        heading = []
        for text in header:
            cell = WriteOnlyCell(sheet, value=str(text))
            cell.font = bold
            heading.append(cell)
        sheet.append(heading)
        for row in rows:
            sheet.append([_xlsx_cell(sheet, value) for value in row])
    handle = tempfile.TemporaryFile()  # noqa: SIM115 - FileResponse closes it once sent
    workbook.save(handle)
    handle.seek(0)
    return FileResponse(handle, as_attachment=True, filename=filename, content_type=XLSX_CONTENT_TYPE)


def export_response(fmt: str, name: str, columns: Sequence[Column], objects: Iterable[Any]) -> HttpResponseBase:
    """One table as `<name>.csv` or `<name>.xlsx` (a sheet called `name`)."""
    if fmt == "xlsx":
        return xlsx_response(f"{name}.xlsx", [sheet_of(name, columns, objects)])
    return csv_response(f"{name}.csv", [column.header for column in columns], rows_of(columns, objects))
