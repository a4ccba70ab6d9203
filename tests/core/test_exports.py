"""The shared export helpers: CSV streamed row by row, Excel from a write-only workbook, and
text that a spreadsheet would run as a formula arriving as text."""

import datetime as dt
import io
from decimal import Decimal as D

import openpyxl

from core.exports import Column, csv_response, export_response, sheet_of, xlsx_response

COLUMNS = [Column("Name", lambda r: r[0]), Column("Amount", lambda r: r[1]), Column("Day", lambda r: r[2])]
ROWS = [('=HYPERLINK("http://x")', D("1234.50"), dt.date(2026, 5, 31)), ("Plain 公司", D("-3.00"), None)]


def test_csv_streams_with_a_bom_and_neutralises_formulas():
    response = export_response("csv", "t", COLUMNS, iter(ROWS))
    chunks = list(response.streaming_content)
    assert len(chunks) == 4  # BOM, header, one chunk per row: nothing is built up front
    text = b"".join(chunks).decode("utf-8")
    assert text.startswith("\ufeffName,Amount,Day\r\n")
    assert "'=HYPERLINK" in text and "1234.50,2026-05-31" in text and "Plain 公司,-3.00," in text
    assert response["Content-Disposition"] == 'attachment; filename="t.csv"'


def test_excel_keeps_numbers_dates_and_text_as_text():
    response = xlsx_response("t.xlsx", [sheet_of("A sheet: [1]", COLUMNS, ROWS), sheet_of("A sheet: [1]", COLUMNS, [])])
    book = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    assert book.sheetnames == ["A sheet   1", "A sheet   1 (2)"]
    sheet = book.worksheets[0]
    assert [c.value for c in sheet[1]] == ["Name", "Amount", "Day"] and sheet["A1"].font.b
    assert sheet["A2"].value == '=HYPERLINK("http://x")' and sheet["A2"].data_type == "s"  # text, not a formula
    assert sheet["B2"].value == 1234.5 and sheet["B2"].number_format == "#,##0.00"
    assert sheet["C2"].value == dt.datetime(2026, 5, 31) and sheet["C3"].value is None


def test_csv_response_takes_lazy_headers():
    from django.utils.translation import gettext_lazy

    response = csv_response("x.csv", [gettext_lazy("Total")], [[D("1")]])
    assert b"".join(response.streaming_content).decode("utf-8-sig") == "Total\r\n1\r\n"
