"""Payment arrangements: a schedule that covers the arrears, dunning suspended while kept."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from billing.services.payments import payment_record
from collection.models import DunningNotice, PaymentArrangement
from collection.services import arrangement_create, arrangements_check, dunning_run
from tests.factories import make_bill

pytestmark = pytest.mark.django_db


@pytest.fixture
def owing(portfolio):
    today = timezone.localdate()
    # Due today: nothing overdue yet, so the amount owed is exactly the bill (no penalty).
    make_bill(portfolio["a1"], "9000.00", today, number="ARR-1")
    return portfolio["a1"], today


def test_the_schedule_must_cover_the_arrears(owing, area_leader, collector):
    customer, today = owing
    with pytest.raises(ValidationError) as info:
        short = [(today, D("4000.00")), (today + dt.timedelta(days=30), D("4000.00"))]
        arrangement_create(customer=customer, schedule=short, created_by=area_leader)
    assert "9,000.00" in str(info.value)  # 8000 scheduled against 9000 owed
    with pytest.raises(ValidationError):
        arrangement_create(
            customer=customer, schedule=[(today - dt.timedelta(days=1), D("9000.00"))], created_by=area_leader
        )
    with pytest.raises(PermissionDenied):
        arrangement_create(customer=customer, schedule=[(today, D("9000.00"))], created_by=collector)
    assert not PaymentArrangement.objects.exists()


def test_a_kept_arrangement_suspends_dunning_and_a_broken_one_resumes_it(owing, area_leader):
    customer, today = owing
    schedule = [
        (today, D("3000.00")),
        (today + dt.timedelta(days=10), D("3000.00")),
        (today + dt.timedelta(days=20), D("3000.00")),
    ]
    arrangement = arrangement_create(customer=customer, schedule=schedule, created_by=area_leader)
    payment_record(customer=customer, amount=D("3000.00"), channel="counter", external_ref="ARR-P1")
    later = today + dt.timedelta(days=5)
    assert arrangements_check(day=later) == (0, 0)  # 3000 paid, 3000 due by then: kept
    dunning_run(day=later)
    assert not DunningNotice.objects.exists()  # overdue, but the arrangement holds dunning back
    assert arrangements_check(day=today + dt.timedelta(days=11)) == (0, 1)  # 6000 due by day 10, 3000 paid
    arrangement.refresh_from_db()
    assert arrangement.status == "broken"
    dunning_run(day=today + dt.timedelta(days=11))
    assert DunningNotice.objects.filter(customer=customer).exists()  # dunning resumes


def test_arrangements_through_the_api(api_as, owing, area_leader, collector):
    customer, today = owing
    body = {"customer": customer.account_no, "instalments": [
        {"due_on": today.isoformat(), "amount": "4500.00"},
        {"due_on": (today + dt.timedelta(days=30)).isoformat(), "amount": "4500.00"},
    ]}  # fmt: skip
    assert api_as(collector).post("/api/v1/arrangements/", body, format="json").status_code == 403
    short = {**body, "instalments": body["instalments"][:1]}
    response = api_as(area_leader).post("/api/v1/arrangements/", short, format="json")
    assert response.status_code == 400 and "instalments" in response.json()
    created = api_as(area_leader).post("/api/v1/arrangements/", body, format="json")
    assert created.status_code == 201 and created.json()["total"] == "9000.00"
    assert api_as(collector).get("/api/v1/arrangements/").json()["count"] == 1


def test_the_api_filters_arrangements_that_missed_an_instalment(api_as, portfolio, regions, area_leader, manager):
    from collection.models import ArrangementInstalment

    today = timezone.localdate()
    behind = PaymentArrangement.objects.create(
        customer=portfolio["a1"], total=D("2000.00"), made_on=today - dt.timedelta(days=20)
    )
    ArrangementInstalment.objects.create(arrangement=behind, due_on=today - dt.timedelta(days=1), amount=D("1000.00"))
    ArrangementInstalment.objects.create(arrangement=behind, due_on=today + dt.timedelta(days=9), amount=D("1000.00"))
    on_time = PaymentArrangement.objects.create(customer=portfolio["b1"], total=D("500.00"), made_on=today)
    ArrangementInstalment.objects.create(arrangement=on_time, due_on=today, amount=D("500.00"))
    api = api_as(manager)
    assert [a["id"] for a in api.get("/api/v1/arrangements/", {"missed": "true"}).json()["results"]] == [behind.pk]
    assert [a["id"] for a in api.get("/api/v1/arrangements/", {"missed": "false"}).json()["results"]] == [on_time.pk]
    in_b = api.get("/api/v1/arrangements/", {"region": regions["b"].pk}).json()["results"]
    assert [a["customer"] for a in in_b] == ["3100000003"]
    assert api.get("/api/v1/arrangements/", {"status": "active", "q": "steel"}).json()["count"] == 1
    # An area leader cannot filter by a region outside their own.
    assert api_as(area_leader).get("/api/v1/arrangements/", {"region": regions["b"].pk}).status_code == 400
