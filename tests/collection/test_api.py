"""Collections API: notices with approval, activities and promises — scoped like everything else."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.utils import timezone

from billing.services.payments import payment_record
from collection.models import Activity, PromiseToPay
from collection.services import dunning_run, promises_check
from tests.factories import ContactFactory, make_bill

pytestmark = pytest.mark.django_db


@pytest.fixture
def overdue(portfolio):
    ContactFactory(customer=portfolio["a1"])
    make_bill(portfolio["a1"], "10000.00", "2026-03-01", number="API-1")
    for day in (dt.date(2026, 3, 2), dt.date(2026, 3, 11), dt.date(2026, 4, 1)):
        dunning_run(day=day)
    return portfolio["a1"]


def test_notices_are_scoped_and_a_leader_approves_one(api_as, overdue, collector, other_collector, area_leader):
    listed = api_as(collector).get("/api/v1/dunning-notices/").json()
    assert [n["level"] for n in listed["results"]] == ["suspension", "demand", "reminder"]
    assert api_as(other_collector).get("/api/v1/dunning-notices/").json()["count"] == 0
    proposed = next(n for n in listed["results"] if n["status"] == "proposed")
    assert api_as(collector).post(f"/api/v1/dunning-notices/{proposed['id']}/approve/").status_code == 403
    approved = api_as(area_leader).post(f"/api/v1/dunning-notices/{proposed['id']}/approve/")
    assert approved.status_code == 200 and approved.json()["status"] == "sent"
    assert api_as(area_leader).post(f"/api/v1/dunning-notices/{proposed['id']}/approve/").status_code == 400


def test_a_collector_logs_a_call_and_records_a_promise(api_as, overdue, collector):
    api = api_as(collector)
    call = api.post("/api/v1/activities/", {"customer": "3100000001", "kind": "call", "outcome": "promised",
                                             "note": "财务说月底前付"}, format="json")  # fmt: skip
    assert call.status_code == 201 and call.json()["by"] == "collector_a" and call.json()["case"]
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    promise = api.post("/api/v1/promises/", {"customer": "3100000001", "promised_on": tomorrow, "amount": "5000.00"},
                       format="json")  # fmt: skip
    assert promise.status_code == 201 and promise.json()["status"] == "open"
    past = api.post("/api/v1/promises/", {"customer": "3100000001", "promised_on": "2020-01-01", "amount": "1.00"},
                    format="json")  # fmt: skip
    assert past.status_code == 400 and "promised_on" in past.json()
    other = api.post("/api/v1/promises/", {"customer": "3100000003", "promised_on": tomorrow, "amount": "1.00"},
                     format="json")  # fmt: skip
    assert other.status_code == 400 and "customer" in other.json()
    assert PromiseToPay.objects.count() == 1 and Activity.objects.count() == 2  # the call and the promise note


def test_a_promise_is_kept_by_a_payment_or_broken_after_its_date(overdue, collector):
    from collection.services import promise_record

    today = timezone.localdate()
    kept = promise_record(customer=overdue, promised_on=today + dt.timedelta(days=2), amount=D("3000.00"),
                          created_by=collector)  # fmt: skip
    assert promises_check(day=today) == (0, 0)  # nothing paid yet, date not passed
    payment_record(customer=overdue, amount=D("3000.00"), channel="counter", external_ref="PROMISE-1")
    assert promises_check(day=today) == (1, 0)
    kept.refresh_from_db()
    assert kept.status == "kept"
    broken = promise_record(customer=overdue, promised_on=today, amount=D("99999.00"), created_by=collector)
    assert promises_check(day=today + dt.timedelta(days=1)) == (0, 1)
    broken.refresh_from_db()
    assert broken.status == "broken"


def test_the_worklist_puts_the_biggest_money_first_and_is_scoped(client, collector, other_collector, portfolio):
    from tests.factories import make_bill as bill

    today = timezone.localdate()
    bill(portfolio["a1"], "500.00", today - dt.timedelta(days=2), number="W-1")  # newly overdue
    bill(portfolio["a2"], "90000.00", today - dt.timedelta(days=1), number="W-2")  # newly overdue, bigger
    bill(portfolio["b1"], "70000.00", today - dt.timedelta(days=1), number="W-3")  # another collector's
    client.force_login(collector)
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == "/collection/worklist/"
    html = client.get("/collection/worklist/").content.decode()
    assert html.index("Hospital A2") < html.index("Steel A1")  # 90000 before 500
    assert "Chem B1" not in html and "Newly overdue" in html
    client.force_login(other_collector)
    assert "Steel A1" not in client.get("/collection/worklist/").content.decode()
