"""Billing pages as staff see them, in English and Chinese."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from billing.models import MeterReading, Payment, ReadingUpload
from billing.services.penalties import penalties_accrue
from tests.factories import MeterPointFactory, make_bill

pytestmark = pytest.mark.django_db


@pytest.fixture
def overdue_bill(portfolio):
    bill = make_bill(portfolio["a1"], "10000.00", "2025-12-20", number="B-2025-11")
    penalties_accrue(through=dt.date(2026, 1, 2))
    return bill


def test_the_bill_page_shows_composition_and_the_penalty_day_by_day(client, collector, overdue_bill):
    client.force_login(collector)
    html = client.get(reverse("billing:bill_detail", args=[overdue_bill.pk])).content.decode()
    # 21–31 Dec at 2‰ of 10000 = 20.00 a day; 1–2 Jan carried across the year end at 3‰ = 30.00 a day
    assert "¥10,000.00" in html
    assert "2‰" in html and "3‰" in html
    assert "¥280.00" in html  # 11 × 20 + 2 × 30 = 280.00 penalty due
    assert "Late-payment penalty, day by day" in html


def test_the_bill_page_in_chinese(client, collector, overdue_bill):
    client.force_login(collector)
    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    html = client.get(reverse("billing:bill_detail", args=[overdue_bill.pk])).content.decode()
    assert "违约金" in html and "电费构成" in html


def test_a_bill_outside_the_scope_is_404(client, other_collector, overdue_bill):
    client.force_login(other_collector)
    assert client.get(reverse("billing:bill_detail", args=[overdue_bill.pk])).status_code == 404
    assert client.get(reverse("billing:statement", args=["3100000001"])).status_code == 404


def test_the_bill_list_filters_overdue_and_exports_the_same_rows(client, manager, overdue_bill, portfolio):
    make_bill(portfolio["b1"], "50.00", "2099-01-01", issued_on=dt.date(2026, 11, 1), number="B-FUTURE")
    client.force_login(manager)
    html = client.get(reverse("billing:bill_list"), {"overdue": "true"}, HTTP_HX_REQUEST="true").content.decode()
    assert "B-2025-11" in html and "B-FUTURE" not in html
    body = b"".join(client.get(reverse("billing:bill_export"), {"overdue": "true"}).streaming_content).decode(
        "utf-8-sig"
    )
    assert "B-2025-11" in body and "B-FUTURE" not in body


def test_a_manager_waives_part_of_a_penalty_with_a_reason(client, manager, collector, overdue_bill):
    client.force_login(collector)
    assert (
        client.post(reverse("billing:bill_waive", args=[overdue_bill.pk]), {"amount": "80", "reason": "x"}).status_code
        == 403
    )
    client.force_login(manager)
    client.post(reverse("billing:bill_waive", args=[overdue_bill.pk]), {"amount": "80.00", "reason": "bank outage"})
    assert overdue_bill.penalty_waivers.get().amount == D("80.00")
    html = client.get(reverse("billing:bill_detail", args=[overdue_bill.pk])).content.decode()
    assert "¥200.00" in html  # 280 − 80


def test_recording_a_payment_through_the_form(client, area_leader, portfolio, overdue_bill):
    client.force_login(area_leader)
    response = client.post(
        reverse("billing:payment_create"),
        {"customer": "3100000001", "amount": "1000.00", "channel": "counter", "external_ref": "RCPT-1"},
    )
    assert response.status_code == 302
    assert Payment.objects.get().recorded_by == area_leader
    again = client.post(
        reverse("billing:payment_create"),
        {"customer": "3100000001", "amount": "1000.00", "channel": "counter", "external_ref": "RCPT-1"},
    )
    assert again.status_code == 200 and "external_ref" in again.context["form"].errors
    assert Payment.objects.count() == 1
    outside = client.post(
        reverse("billing:payment_create"), {"customer": "3100000003", "amount": "1", "channel": "counter"}
    )
    assert "customer" in outside.context["form"].errors


def test_a_collector_cannot_record_payments_or_start_runs(client, collector, portfolio):
    client.force_login(collector)
    assert client.get(reverse("billing:payment_create")).status_code == 403
    assert client.get(reverse("billing:runs")).status_code == 403
    assert client.get(reverse("billing:reading_upload")).status_code == 403


def test_the_statement_page_balances(client, collector, portfolio):
    make_bill(portfolio["a1"], "300.00", "2099-01-01", issued_on=dt.date(2026, 11, 1), number="ST-1")
    client.force_login(collector)
    html = client.get(reverse("billing:statement", args=["3100000001"])).content.decode()
    assert "¥300.00" in html and "ST-1" in html


def test_the_customer_page_loads_the_billing_panel(client, collector, portfolio):
    make_bill(portfolio["a1"], "300.00", "2099-01-01", issued_on=dt.date(2026, 11, 1), number="PANEL-1")
    client.force_login(collector)
    page = client.get(reverse("customers:detail", args=["3100000001"])).content.decode()
    panel_url = reverse("billing:customer_panel", args=["3100000001"])
    assert f'hx-get="{panel_url}"' in page
    panel = client.get(panel_url).content.decode()
    assert "¥300.00" in panel
    assert client.get(reverse("billing:customer_panel", args=["3100000003"])).status_code == 404


CSV_HEADER = "meter,read_on,total_kwh,peak_kwh,flat_kwh,valley_kwh,reactive_kvarh,max_demand_kw\n"


def test_a_csv_upload_is_checked_row_by_row_before_anything_is_stored(client, manager, portfolio):
    MeterPointFactory(customer=portfolio["a1"], meter_no="CSV-1")
    client.force_login(manager)
    bad = (
        CSV_HEADER
        + "CSV-1,2026-11-01,100,30,40,30,50,5\nCSV-1,2026-11-02,90,30,40,30,50,5\nNOPE,2026-11-02,1,0,1,0,0,1\n"
    )
    response = client.post(reverse("billing:reading_upload"), {"file": SimpleUploadedFile("r.csv", bad.encode())})
    upload = response.context["upload"]
    assert upload.status == "rejected"
    assert [(e["line"], e["field"]) for e in upload.errors] == [(3, "total_kwh"), (4, "meter")]
    assert not MeterReading.objects.exists()

    good = CSV_HEADER + "CSV-1,2026-11-01,100,30,40,30,50,5\nCSV-1,2026-11-02,120,36,48,36,60,5\n"
    response = client.post(reverse("billing:reading_upload"), {"file": SimpleUploadedFile("r.csv", good.encode())})
    upload = response.context["upload"]
    assert (upload.status, upload.new_readings) == ("validated", 2)
    assert not MeterReading.objects.exists()  # checked, not stored
    client.post(reverse("billing:reading_upload_store", args=[upload.pk]))
    assert MeterReading.objects.count() == 2
    assert ReadingUpload.objects.get(pk=upload.pk).status == "imported"


def test_an_upload_without_the_columns_says_which_are_missing(client, manager, portfolio):
    client.force_login(manager)
    response = client.post(
        reverse("billing:reading_upload"), {"file": SimpleUploadedFile("r.csv", b"meter,read_on\nX,2026-01-01\n")}
    )
    assert "total_kwh" in str(response.context["form"].errors)


def test_a_manager_starts_a_billing_run_from_the_page(client, manager, django_capture_on_commit_callbacks):
    client.force_login(manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("billing:runs"), {"period": "2026-10"})
    assert response.status_code == 302
    html = client.get(reverse("billing:runs"), HTTP_HX_REQUEST="true").content.decode()
    assert "2026-10" in html
    assert client.post(reverse("billing:runs"), {"period": "2026-13"}).status_code == 200


def test_navigation_depends_on_the_role(client, collector, manager):
    client.force_login(collector)
    html = client.get(reverse("customers:list")).content.decode()
    assert reverse("billing:bill_list") in html and reverse("billing:runs") not in html
    client.force_login(manager)
    assert reverse("billing:runs") in client.get(reverse("customers:list")).content.decode()
