"""Exports of the dashboard's tables and of the drill-down lists, as CSV and Excel: the same rows
as the page or the list, with its filters, streamed."""

import csv
import io
from decimal import Decimal as D

import openpyxl
import pytest
from django.http import FileResponse, StreamingHttpResponse
from django.urls import reverse

pytestmark = pytest.mark.django_db


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200 and isinstance(response, StreamingHttpResponse)
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def workbook(response):
    assert response.status_code == 200 and isinstance(response, FileResponse)
    assert response["Content-Type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
    return openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True)


def test_a_breakdown_exports_the_rows_of_the_page(client, manager, book):
    client.force_login(manager)
    page = client.get(reverse("dashboards:arrears")).context
    industries = next(b["groups"] for b in page["breakdowns"] if b["dimension"] == "industry")
    rows = csv_rows(client.get(reverse("dashboards:export", args=["industry", "csv"])))
    header, body = rows[0], rows[1:]
    assert header[:4] == ["Industry", "Customers", "Customers in arrears", "Arrears (overdue principal and penalty)"]
    assert [(r[0], D(r[3])) for r in body] == [(g["label"], g["arrears"]) for g in industries]
    sheet = workbook(client.get(reverse("dashboards:export", args=["industry", "xlsx"]))).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][:2] == ("Industry", "Customers") and len(values) == len(industries) + 1
    assert [(r[0], round(D(str(r[3])), 2)) for r in values[1:]] == [(g["label"], g["arrears"]) for g in industries]


def test_aging_trend_and_top_debtors_export(client, manager, book):
    client.force_login(manager)
    page = client.get(reverse("dashboards:arrears")).context
    aging = csv_rows(client.get(reverse("dashboards:export", args=["aging", "csv"])))
    assert [D(r[3]) for r in aging[1:]] == [b["amount"] for b in page["aging"]]
    trend = csv_rows(client.get(reverse("dashboards:export", args=["trend", "csv"])))
    assert len(trend) == 14  # header and 13 months
    top = csv_rows(client.get(reverse("dashboards:export", args=["top", "csv"])))
    assert [r[0] for r in top[1:]] == [p.customer.account_no for p in page["top"]] and len(top) == 5
    assert any(r[9] == "Call" for r in top[1:])  # a1's call


def test_every_table_in_one_workbook_with_the_filters(client, manager, book, regions):
    client.force_login(manager)
    response = client.get(reverse("dashboards:export", args=["all", "xlsx"]), {"region": regions["a"].pk})
    book_ = workbook(response)
    assert book_.sheetnames == ["Area", "Industry", "Credit grade", "Collector", "Settlement mode", "Aging", "Trend",
                                "Top debtors"]  # fmt: skip
    areas = list(book_["Area"].iter_rows(values_only=True))
    assert [r[0] for r in areas[1:]] == ["Area A"]
    assert client.get(reverse("dashboards:export", args=["all", "csv"])).status_code == 404
    assert client.get(reverse("dashboards:export", args=["payroll", "csv"])).status_code == 404
    assert client.get(reverse("dashboards:export", args=["region", "pdf"])).status_code == 404


def test_the_bill_drill_down_exports_its_rows_with_that_days_amounts(client, manager, book, last_month_end):
    client.force_login(manager)
    link = client.get(reverse("dashboards:arrears"), {"as_of": last_month_end.isoformat()}).context["drill"]["arrears"]
    listed = client.get(link).context
    query = link.split("?", 1)[1]
    rows = csv_rows(client.get(f"{reverse('billing:bill_export')}?{query}"))
    assert len(rows) - 1 == listed["page"].paginator.count
    assert sum(D(r[7]) + D(r[8]) for r in rows[1:]) == listed["totals"]["amount_due"]
    sheet = workbook(client.get(f"{reverse('billing:bill_export_xlsx')}?{query}")).active
    values = list(sheet.iter_rows(values_only=True))
    assert len(values) - 1 == listed["page"].paginator.count
    assert {r[0] for r in values[1:]} == {r[0] for r in rows[1:]}
    html = client.get(link).content.decode()
    assert f"{reverse('billing:bill_export_xlsx')}?" in html


def test_the_customer_drill_down_exports_its_rows_with_their_arrears(client, manager, book):
    client.force_login(manager)
    link = client.get(reverse("dashboards:arrears")).context["drill"]["in_arrears"]
    listed = client.get(link).context
    query = link.split("?", 1)[1]
    rows = csv_rows(client.get(f"{reverse('customers:export')}?{query}"))
    assert rows[0][-1].startswith("Arrears on ")
    assert len(rows) - 1 == listed["page"].paginator.count == 4
    assert sum(D(r[-1]) for r in rows[1:]) == listed["arrears_total"]
    sheet = workbook(client.get(f"{reverse('customers:export_xlsx')}?{query}")).active
    assert [r[0] for r in list(sheet.iter_rows(values_only=True))[1:]] == [r[0] for r in rows[1:]]
