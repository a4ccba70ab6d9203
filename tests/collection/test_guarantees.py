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


def _held(customer, **changes):
    from django.utils import timezone

    today = timezone.localdate()
    fields = {"customer": customer, "kind": "bank_guarantee", "amount": "300000.00",
              "valid_from": today - dt.timedelta(days=30), "valid_to": today + dt.timedelta(days=335)}  # fmt: skip
    fields.update(changes)
    return Guarantee.objects.create(**fields)


def test_a_release_is_dated_within_the_guarantee_once_by_a_leader_and_audited(portfolio, area_leader, collector):
    from django.core.exceptions import PermissionDenied, ValidationError
    from django.utils import timezone

    from collection.services import guarantee_release

    today = timezone.localdate()
    guarantee = _held(portfolio["a1"])
    with pytest.raises(PermissionDenied):
        guarantee_release(guarantee=guarantee, by=collector, released_on=today, reason="Paid")
    for day, reason, field in [
        (today + dt.timedelta(days=1), "Paid", "released_on"),  # in the future
        (today - dt.timedelta(days=31), "Paid", "released_on"),  # before it started
        (today, "   ", "reason"),
        (today, "x" * 101, "reason"),  # the audit trail keeps 100 characters
    ]:
        with pytest.raises(ValidationError) as error:
            guarantee_release(guarantee=guarantee, by=area_leader, released_on=day, reason=reason)
        assert list(error.value.message_dict) == [field]
    guarantee.refresh_from_db()
    assert guarantee.released_on is None

    guarantee_release(guarantee=guarantee, by=area_leader, released_on=today - dt.timedelta(days=30), reason="Paid")
    guarantee.refresh_from_db()
    assert guarantee.released_on == today - dt.timedelta(days=30)  # its first day is allowed
    latest = guarantee.history.first()
    assert (latest.history_user, latest.history_change_reason) == (area_leader, "Paid")
    with pytest.raises(ValidationError) as error:
        guarantee_release(guarantee=guarantee, by=area_leader, released_on=today, reason="Again")
    assert "already released" in str(error.value)


def test_the_api_releases_through_the_rules_and_filters_like_the_page(api_as, portfolio, area_leader, collector):
    from django.utils import timezone

    today = timezone.localdate()
    ending = _held(portfolio["a1"], valid_to=today + dt.timedelta(days=10))
    _held(portfolio["a2"], kind="deposit", valid_to=None)
    url = f"/api/v1/guarantees/{ending.pk}/"
    # released_on is read-only: a PATCH cannot release (or un-release) around the rules.
    patched = api_as(area_leader).patch(url, {"released_on": today.isoformat()}, format="json")
    assert patched.status_code == 200 and patched.json()["released_on"] is None
    body = {"released_on": today.isoformat(), "reason": "Replaced by BG-10"}
    assert api_as(collector).post(f"{url}release/", body, format="json").status_code == 403
    future = {**body, "released_on": (today + dt.timedelta(days=1)).isoformat()}
    response = api_as(area_leader).post(f"{url}release/", future, format="json")
    assert response.status_code == 400 and "released_on" in response.json()
    released = api_as(area_leader).post(f"{url}release/", body, format="json")
    assert released.status_code == 200 and released.json()["released_on"] == today.isoformat()
    assert api_as(area_leader).post(f"{url}release/", body, format="json").status_code == 400

    api = api_as(collector)
    assert [g["kind"] for g in api.get("/api/v1/guarantees/", {"state": "active"}).json()["results"]] == ["deposit"]
    assert [g["id"] for g in api.get("/api/v1/guarantees/", {"state": "released"}).json()["results"]] == [ending.pk]
    assert api.get("/api/v1/guarantees/", {"expiring_within": "30"}).json()["count"] == 0  # released: not expiring
    assert api.get("/api/v1/guarantees/", {"q": "Hospital"}).json()["count"] == 1
    assert api.get("/api/v1/guarantees/", {"expiring_within": "-1"}).status_code == 400
