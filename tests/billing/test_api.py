"""The billing API as other systems use it: readings, bills, billing runs, payments, statements."""

import datetime as dt
import threading
from decimal import Decimal as D

import pytest
from django.db import connection, connections
from django.test import override_settings

from billing.models import Bill, CustomerTariff, MeterReading, Payment
from billing.services.statements import reconcile
from core.models import IdempotencyRecord
from tests.factories import MeterPointFactory, make_bill

pytestmark = pytest.mark.django_db


@pytest.fixture
def metered(portfolio):
    customer = portfolio["a1"]
    CustomerTariff.objects.create(customer=customer, tariff_code="LI-10KV", valid_from="2025-01-01")
    MeterPointFactory(customer=customer, meter_no="MA1", multiplier=D("100"))
    MeterPointFactory(customer=portfolio["b1"], meter_no="MB1", multiplier=D("1"))
    return customer


def reading(meter, day, total, **changes):
    row = {
        "meter": meter,
        "read_on": day,
        "total_kwh": total,
        "peak_kwh": "0",
        "flat_kwh": total,
        "valley_kwh": "0",
        "reactive_kvarh": "0",
        "max_demand_kw": "5",
    }
    row.update(changes)
    return row


def test_the_metering_system_posts_a_batch_and_a_resend_is_a_no_op(api_as, system_user, metered):
    api = api_as(system_user)
    batch = [
        reading("MA1", "2026-11-01", "100"),
        reading("MA1", "2026-11-02", "120"),
        reading("MB1", "2026-11-01", "7"),
    ]
    assert api.post("/api/v1/readings/", batch, format="json").json() == {"created": 3, "duplicates": 0}
    assert api.post("/api/v1/readings/", batch, format="json").json() == {"created": 0, "duplicates": 3}


def test_a_bad_batch_is_a_400_naming_rows_and_fields_and_stores_nothing(api_as, system_user, metered):
    batch = [
        reading("MA1", "2026-11-01", "100"),
        reading("NOPE", "2026-11-01", "1"),
        reading("MA1", "2026-11-02", "-3"),
    ]
    response = api_as(system_user).post("/api/v1/readings/", batch, format="json")
    assert response.status_code == 400
    assert [(e["row"], e["field"]) for e in response.json()["errors"]] == [(1, "meter"), (2, "total_kwh")]
    assert not MeterReading.objects.exists()


@override_settings(READINGS_MAX_BATCH=2)
def test_a_batch_over_the_size_limit_is_refused(api_as, system_user, metered):
    batch = [reading("MA1", f"2026-11-0{d}", str(d)) for d in range(1, 4)]
    response = api_as(system_user).post("/api/v1/readings/", batch, format="json")
    assert response.status_code == 400 and "at most 2" in response.json()["detail"]


def test_a_batch_must_be_a_list_and_collectors_may_not_post(api_as, system_user, collector, metered):
    assert api_as(system_user).post("/api/v1/readings/", {"meter": "MA1"}, format="json").status_code == 400
    assert api_as(collector).post("/api/v1/readings/", [], format="json").status_code == 403


def test_readings_are_listed_within_scope(api_as, system_user, collector, metered):
    api_as(system_user).post(
        "/api/v1/readings/", [reading("MA1", "2026-11-01", "1"), reading("MB1", "2026-11-01", "1")], format="json"
    )
    assert [r["meter"] for r in api_as(collector).get("/api/v1/readings/").json()["results"]] == ["MA1"]


def test_a_billing_run_is_started_and_its_progress_read(
    api_as, system_user, manager, collector, metered, django_capture_on_commit_callbacks
):
    api_as(system_user).post(
        "/api/v1/readings/",
        [
            reading("MA1", "2026-09-30", "1000", reactive_kvarh="100"),
            reading("MA1", "2026-10-31", "2000", reactive_kvarh="400"),
        ],
        format="json",
    )
    assert api_as(collector).post("/api/v1/billing-runs/", {"period": "2026-10"}, format="json").status_code == 403
    assert api_as(manager).post("/api/v1/billing-runs/", {"period": "2026-13"}, format="json").status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        started = api_as(manager).post(
            "/api/v1/billing-runs/", {"period": "2026-10", "issue_date": "2026-11-01"}, format="json"
        )
    assert started.status_code == 202
    run = api_as(manager).get(f"/api/v1/billing-runs/{started.json()['id']}/").json()
    assert (run["status"], run["progress"], run["bills_created"]) == ("done", 1.0, 1)
    bill = Bill.objects.get(customer=metered)
    # 1000 register kWh × 100 = 100000 kWh, 300 kvarh × 100 = 30000: cos φ = 0.9578 → 0.96 (−0.75 %)
    assert bill.total_kwh == D("100000.000") and bill.power_factor == D("0.96")


def test_bills_are_scoped_filtered_and_show_composition_and_penalty_working(api_as, collector, portfolio):
    mine = make_bill(portfolio["a1"], "1000.00", "2026-03-01", number="B-A1")
    make_bill(portfolio["b1"], "2000.00", "2026-03-01", number="B-B1")
    from billing.services.penalties import penalties_accrue

    penalties_accrue(through=dt.date(2026, 3, 3))
    api = api_as(collector)
    listed = api.get("/api/v1/bills/", {"overdue": "true"}).json()["results"]
    assert [b["number"] for b in listed] == ["B-A1"]
    assert listed[0]["penalty_due"] == "4.00"  # 2 days × 1000 × 2‰
    detail = api.get(f"/api/v1/bills/{mine.pk}/").json()
    assert [line["amount"] for line in detail["lines"]] == ["1000.00"]
    assert [(p["accrued_on"], p["amount"]) for p in detail["penalty_working"]] == [
        ("2026-03-02", "2.00"),
        ("2026-03-03", "2.00"),
    ]
    other = Bill.objects.get(number="B-B1")
    assert api.get(f"/api/v1/bills/{other.pk}/").status_code == 404
    assert api.get("/api/v1/bills/", {"status": "nonsense"}).status_code == 400


def _payment(**changes):
    body = {"customer": "3100000001", "amount": "600.00", "channel": "bank_transfer", "external_ref": "BANK-001"}
    body.update(changes)
    return body


def test_a_retried_payment_with_the_same_key_is_posted_once(api_as, system_user, portfolio):
    make_bill(portfolio["a1"], "1000.00", "2026-12-20", issued_on=dt.date(2026, 11, 1))
    api = api_as(system_user)
    first = api.post("/api/v1/payments/", _payment(), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 201
    assert [(a["penalty"], a["principal"]) for a in first.json()["allocations"]] == [("0.00", "600.00")]
    again = api.post("/api/v1/payments/", _payment(), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert again.status_code == 201 and again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Payment.objects.count() == 1


def test_the_same_key_with_another_body_is_422(api_as, system_user, portfolio):
    api = api_as(system_user)
    api.post("/api/v1/payments/", _payment(), format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    response = api.post("/api/v1/payments/", _payment(amount="601.00"), format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    assert response.status_code == 422
    assert Payment.objects.count() == 1


def test_the_same_channel_reference_twice_is_409(api_as, system_user, portfolio):
    api = api_as(system_user)
    assert api.post("/api/v1/payments/", _payment(), format="json", HTTP_IDEMPOTENCY_KEY="k-3").status_code == 201
    response = api.post("/api/v1/payments/", _payment(), format="json", HTTP_IDEMPOTENCY_KEY="k-4")
    assert response.status_code == 409
    assert response.json()["payment"] == Payment.objects.get().pk


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"amount": "0"}, "amount"),
        ({"amount": "-1"}, "amount"),
        ({"amount": "1.001"}, "amount"),
        ({"amount": "lots"}, "amount"),
        ({"customer": "0000000000"}, "customer"),
        ({"customer": "3100000003"}, "customer"),  # outside the user's scope reads as unknown
        ({"channel": "cheque"}, "channel"),
        ({"received_at": "yesterday"}, "received_at"),
        ({"received_at": "2099-01-01T00:00:00+08:00"}, "received_at"),
    ],
)
def test_bad_payments_are_400_naming_the_field_and_store_nothing(api_as, area_leader, portfolio, changes, field):
    response = api_as(area_leader).post("/api/v1/payments/", _payment(**changes), format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not Payment.objects.exists()


def test_a_collector_may_not_post_payments(api_as, collector, portfolio):
    assert api_as(collector).post("/api/v1/payments/", _payment(), format="json").status_code == 403


def test_a_reversal_through_the_api(api_as, system_user, portfolio):
    bill = make_bill(portfolio["a1"], "600.00", "2026-12-20", issued_on=dt.date(2026, 11, 1))
    api = api_as(system_user)
    payment = api.post("/api/v1/payments/", _payment(), format="json").json()
    assert Bill.objects.get(pk=bill.pk).status == "paid"
    reversed_ = api.post(f"/api/v1/payments/{payment['id']}/reverse/", {"reason": "R01"}, format="json")
    assert reversed_.status_code == 200 and reversed_.json()["status"] == "reversed"
    assert Bill.objects.get(pk=bill.pk).status == "issued"
    assert api.post(f"/api/v1/payments/{payment['id']}/reverse/", {"reason": "x"}, format="json").status_code == 400


def test_the_statement_balance_is_the_sum_of_its_entries(api_as, collector, system_user, portfolio):
    make_bill(portfolio["a1"], "1000.00", "2026-12-20", issued_on=dt.date(2026, 11, 1), number="S-1")
    api_as(system_user).post("/api/v1/payments/", _payment(amount="1250.00"), format="json")
    body = api_as(collector).get("/api/v1/customers/3100000001/statement/").json()
    assert [(e["kind"], e["amount"], e["balance"]) for e in body["entries"]] == [
        ("bill", "1000.00", "1000.00"),
        ("payment", "-1250.00", "-250.00"),
    ]
    assert (body["balance"], body["credit"]) == ("-250.00", "250.00")
    assert api_as(collector).get("/api/v1/customers/3100000003/statement/").status_code == 404


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_payments_for_one_customer_never_lose_an_update(portfolio, system_user, api_as):
    bill = make_bill(portfolio["a1"], "1000.00", "2026-12-20", issued_on=dt.date(2026, 11, 1))
    barrier = threading.Barrier(6)
    answers = []

    def post(n):
        try:
            barrier.wait()
            api = api_as(system_user)
            answers.append(
                api.post("/api/v1/payments/", _payment(amount="300.00", external_ref=f"C-{n}"), format="json")
            )
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(a.status_code for a in answers) == [201] * 6
    # 6 × 300 = 1800 received against 1000 due: exactly 1000 allocated, 800 left as credit.
    allocated = sum(a.principal for a in bill.allocations.all())
    assert allocated == D("1000.00")
    assert Bill.objects.get(pk=bill.pk).status == "paid"
    assert reconcile() == []


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL concurrency")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_retries_with_one_key_post_one_payment(portfolio, system_user, api_as):
    barrier = threading.Barrier(4)
    codes = []

    def post():
        try:
            barrier.wait()
            response = api_as(system_user).post(
                "/api/v1/payments/", _payment(external_ref=""), format="json", HTTP_IDEMPOTENCY_KEY="same"
            )
            codes.append(response.status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert codes == [201] * 4
    assert Payment.objects.count() == 1 and IdempotencyRecord.objects.count() == 1


def test_a_bill_computed_elsewhere_is_imported_once(api_as, system_user, collector, portfolio):
    body = {
        "customer": "3100000001",
        "period": "2026-10",
        "external_ref": "SG186-2026-10-0001",
        "issued_on": "2026-11-01",
        "due_on": "2026-11-16",
        "lines": [
            {"kind": "energy_flat", "quantity": "1000", "unit_price": "0.65", "amount": "650.00"},
            {"kind": "funds", "amount": "29.88"},
        ],
    }
    api = api_as(system_user)
    first = api.post("/api/v1/bills/import/", body, format="json")
    assert first.status_code == 201 and first.json()["total"] == "679.88"  # 650.00 + 29.88
    again = api.post("/api/v1/bills/import/", body, format="json")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert Bill.objects.count() == 1
    bad = api.post("/api/v1/bills/import/", {**body, "external_ref": "X2", "due_on": "2026-10-01"}, format="json")
    assert bad.status_code == 400 and "due_on" in bad.json()
    assert api.post("/api/v1/bills/import/", {**body, "lines": []}, format="json").status_code == 400
    assert api_as(collector).post("/api/v1/bills/import/", body, format="json").status_code == 403


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/readings/", [{**reading("MA1", "2026-11-01", "1"), "source": ["ami"]}]),
        ("/api/v1/readings/", [{**reading("MA1", "2026-11-01", "1"), "meter": "MA\x001"}]),
        ("/api/v1/payments/", {"customer": "31\x0000001", "amount": "1.00", "channel": "counter"}),
        (
            "/api/v1/payments/",
            {"customer": "3100000001", "amount": "1.00", "channel": "counter", "received_at": "0001-01-01T00:00:00"},
        ),
    ],
)
def test_odd_input_is_a_400_not_a_500(api_as, system_user, metered, path, body):
    assert api_as(system_user).post(path, body, format="json").status_code == 400


def test_a_nul_byte_in_an_account_number_url_is_a_404(api_as, collector, portfolio):
    assert api_as(collector).get("/api/v1/customers/31%0000001/statement/").status_code == 404


def test_billing_runs_are_read_only_by_those_who_run_them(api_as, collector, manager):
    assert api_as(collector).get("/api/v1/billing-runs/").status_code == 403
    assert api_as(manager).get("/api/v1/billing-runs/").status_code == 200
    future = api_as(manager).post(
        "/api/v1/billing-runs/", {"period": "2026-10", "issue_date": "2099-01-01"}, format="json"
    )
    assert future.status_code == 400 and "issue_date" in future.json()
    early = api_as(manager).post(
        "/api/v1/billing-runs/", {"period": "2026-10", "issue_date": "2001-01-01"}, format="json"
    )
    assert early.status_code == 400
