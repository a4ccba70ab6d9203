"""The customer list's drill-down filters: in arrears (or clear) on a date with each customer's
arrears that day and their total, the grade and collector filters, and the list's exports."""

import datetime as dt
import io
from decimal import Decimal as D

import openpyxl
import pytest
from django.urls import reverse
from django.utils import timezone

from billing.services.payments import payment_record
from tests.factories import CustomerFactory, make_bill

pytestmark = pytest.mark.django_db


@pytest.fixture
def arrears(portfolio):
    """a1 owes 4,000 due 20 days ago (no penalty run); a2 owed 1,000 due 10 days ago and paid it
    today (its payment accrued its penalty first); b1 owes nothing."""
    today = timezone.localdate()
    make_bill(portfolio["a1"], "4000.00", today - dt.timedelta(days=20), number="C-1")
    make_bill(portfolio["a2"], "1000.00", today - dt.timedelta(days=10), number="C-2")
    payment_record(customer=portfolio["a2"], amount=D("2000.00"), channel="counter", external_ref="C-P1")
    return today


def listed(client, **params):
    response = client.get(reverse("customers:list"), params, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    context = response.context
    return [c.account_no for c in context["page"].object_list], context["arrears_total"]


def test_in_arrears_on_a_day_lists_the_customers_owing_then_with_their_total(client, manager, arrears):
    client.force_login(manager)
    yesterday = (arrears - dt.timedelta(days=1)).isoformat()
    accounts, total = listed(client, in_arrears_on=yesterday)
    # Yesterday a2 had not paid: its 1,000 and the penalty its payment accrued through then.
    assert accounts == ["3100000001", "3100000002"] and total > D("5000.00")
    assert listed(client, in_arrears_on=arrears.isoformat()) == (["3100000001"], D("4000.00"))
    assert listed(client, clear_on=arrears.isoformat()) == (["3100000002", "3100000003"], None)
    html = client.get(reverse("customers:list"), {"in_arrears_on": arrears.isoformat()}).content.decode()
    assert 'id="arrears-total"' in html and f"Arrears on {arrears.isoformat()}" in html
    assert f'<input type="hidden" name="in_arrears_on" value="{arrears.isoformat()}">' in html


def test_grade_and_collector_filters(client, manager, collector, portfolio, regions):
    CustomerFactory(account_no="3100000009", region=regions["a"], collector=None, credit_grade="B")
    portfolio["a1"].credit_grade = "C"
    portfolio["a1"].save()
    client.force_login(manager)
    assert listed(client, grade="C")[0] == ["3100000001"]
    assert listed(client, grade=["C", "B"])[0] == ["3100000001", "3100000009"]
    assert listed(client, grade="none")[0] == ["3100000002", "3100000003"]
    assert listed(client, collector="none")[0] == ["3100000009"]
    assert listed(client, collector=collector.pk)[0] == ["3100000001", "3100000002"]
    html = client.get(reverse("customers:list"), {"collector": "none"}).content.decode()
    assert "no collector" in html  # the drill-down filter is named above the table
    assert client.get(reverse("customers:list"), {"collector": "x"}).context["filterset"].errors


def test_the_api_takes_the_same_filters(api_as, manager, arrears):
    api = api_as(manager)
    response = api.get("/api/v1/customers/", {"in_arrears_on": arrears.isoformat()})
    assert [c["account_no"] for c in response.json()["results"]] == ["3100000001"]
    assert api.get("/api/v1/customers/", {"in_arrears_on": "someday"}).status_code == 400
    assert api.get("/api/v1/customers/", {"clear_on": "9999-12-31"}).status_code == 200


def test_the_list_exports_as_excel_with_the_same_rows(client, manager, arrears):
    client.force_login(manager)
    response = client.get(reverse("customers:export_xlsx"), {"in_arrears_on": arrears.isoformat()})
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "Account number" and rows[0][-1] == f"Arrears on {arrears.isoformat()}"
    assert [r[0] for r in rows[1:]] == ["3100000001"]
