"""Guarantees: recorded through the API with validation, warned about 30 and 7 days ahead."""

import datetime as dt

import pytest

from billing.models import Guarantee
from collection.services import guarantees_expiry_warn
from customers.models import Notification

pytestmark = pytest.mark.django_db


def _body(**changes):
    body = {"customer": "3100000001", "kind": "bank_guarantee", "amount": "500000.00", "valid_from": "2026-01-01",
            "valid_to": "2026-12-31", "issuer": "工商银行江州分行", "document_ref": "BG-2026-001"}  # fmt: skip
    body.update(changes)
    return body


def test_a_leader_records_a_guarantee_and_a_collector_only_reads(api_as, portfolio, area_leader, collector):
    created = api_as(area_leader).post("/api/v1/guarantees/", _body(), format="json")
    assert created.status_code == 201
    assert api_as(collector).get("/api/v1/guarantees/").json()["count"] == 1
    assert api_as(collector).post("/api/v1/guarantees/", _body(), format="json").status_code == 403
    backwards = api_as(area_leader).post("/api/v1/guarantees/", _body(valid_to="2025-12-31"), format="json")
    assert backwards.status_code == 400
    assert api_as(area_leader).post("/api/v1/guarantees/", _body(amount="0"), format="json").status_code == 400
    outside = api_as(area_leader).post("/api/v1/guarantees/", _body(customer="3100000003"), format="json")
    assert outside.status_code == 400 and "customer" in outside.json()
    assert Guarantee.objects.count() == 1


def test_expiry_warnings_go_out_30_and_7_days_ahead_once(portfolio, collector, area_leader):
    collector.email, area_leader.email = "collector@example.com", "leader@example.com"
    collector.save()
    area_leader.save()
    Guarantee.objects.create(customer=portfolio["a1"], kind="deposit", amount="1000.00", valid_from="2026-01-01",
                             valid_to="2026-12-31")  # fmt: skip
    assert guarantees_expiry_warn(day=dt.date(2026, 11, 30)) == 0
    assert guarantees_expiry_warn(day=dt.date(2026, 12, 1)) == 2  # 30 days ahead: collector and leader
    assert guarantees_expiry_warn(day=dt.date(2026, 12, 1)) == 0  # the same day again: nothing twice
    assert guarantees_expiry_warn(day=dt.date(2026, 12, 24)) == 2  # 7 days ahead
    assert sorted(Notification.objects.values_list("recipient", flat=True)) == [
        "collector@example.com", "collector@example.com", "leader@example.com", "leader@example.com",
    ]  # fmt: skip
