"""Responsibility: reassignment with history, and recovery figures per collector and area."""

from decimal import Decimal as D

import pytest
from django.utils import timezone

from billing.services.payments import payment_record
from collection.models import CollectionTarget, CollectorAssignment
from tests.factories import UserFactory, make_bill

pytestmark = pytest.mark.django_db


def test_a_leader_reassigns_a_customer_and_the_history_is_kept(api_as, portfolio, area_leader, collector):
    newcomer = UserFactory(username="collector_c", role="collector")
    response = api_as(area_leader).post(
        "/api/v1/customers/3100000001/reassign/", {"collector": "collector_c", "reason": "片区调整"}, format="json"
    )
    assert response.status_code == 201
    move = CollectorAssignment.objects.get()
    assert (move.previous, move.collector, move.assigned_by) == (collector, newcomer, area_leader)
    portfolio["a1"].refresh_from_db()
    assert portfolio["a1"].collector == newcomer
    assert (
        api_as(collector)
        .post("/api/v1/customers/3100000002/reassign/", {"collector": "collector_c", "reason": "x"}, format="json")
        .status_code
        == 403
    )
    # Another area's customer is not even visible to this leader.
    assert (
        api_as(area_leader)
        .post("/api/v1/customers/3100000003/reassign/", {"collector": "collector_c", "reason": "x"}, format="json")
        .status_code
        == 404
    )
    not_a_collector = api_as(area_leader).post(
        "/api/v1/customers/3100000002/reassign/", {"collector": "leader_a", "reason": "x"}, format="json"
    )
    assert not_a_collector.status_code == 400 and "collector" in not_a_collector.json()


def test_recovery_rate_and_zero_out_per_collector(api_as, portfolio, manager):
    today = timezone.localdate()
    first = today.replace(day=1)
    make_bill(portfolio["a1"], "1000.00", first, number="R-1")  # due this month
    make_bill(portfolio["a2"], "3000.00", first, number="R-2")
    make_bill(portfolio["b1"], "2000.00", first, number="R-3")
    payment_record(customer=portfolio["a1"], amount=D("1000.00"), channel="counter", external_ref="R-P1")
    payment_record(customer=portfolio["a2"], amount=D("1500.00"), channel="counter", external_ref="R-P2")
    rows = api_as(manager).get("/api/v1/responsibility/recovery/", {"month": first.strftime("%Y-%m")}).json()
    by_key = {r["label"]: r for r in rows}
    a = next(r for r in rows if r["customers"] == 2)
    # Collector A: due 1000 + 3000 = 4000. Each payment pays the penalty first: n days overdue
    # at 2‰ are 2.00 × n on the 1000 bill and 6.00 × n on the 3000 one, so the principal
    # collected is (1000 − 2n) + (1500 − 6n) = 2500 − 8n; recovery = that ÷ 4000.
    n = (today - first).days
    collected = D("2500.00") - 8 * n
    assert (a["due"], a["collected"]) == ("4000.00", f"{collected:.2f}")
    assert a["recovery_rate"] == f"{(collected / 4000 * 100).quantize(D('0.1')):.1f}"
    # Both of A's customers still owe part of their bills once they are overdue: zero-out 0 %
    # (on the 1st of a month the bills fall due today and nobody is overdue yet: 100 %).
    expected = (2, 0, "100.0") if n == 0 else (2, 2, "0.0")
    assert (a["customers"], a["in_arrears"], a["zero_out_rate"]) == expected
    assert len(by_key) == 2
    bad = api_as(manager).get("/api/v1/responsibility/recovery/", {"month": "2026-13"})
    assert bad.status_code == 400


def test_targets_set_by_a_leader_show_against_the_figures(client, api_as, portfolio, area_leader, collector, regions):
    month = timezone.localdate().replace(day=1)
    client.force_login(area_leader)
    page = client.post(
        "/collection/responsibility/targets/",
        {"month": month.strftime("%Y-%m"), "collector": collector.pk, "recovery_rate": "95.0", "zero_out_rate": "80"},
    )
    assert page.status_code == 302
    target = CollectionTarget.objects.get()
    assert (target.collector, target.recovery_rate, target.zero_out_rate) == (collector, D("95.0"), D("80.0"))
    # Saving again changes the same target; the history keeps both versions.
    client.post(
        "/collection/responsibility/targets/",
        {"month": month.strftime("%Y-%m"), "collector": collector.pk, "recovery_rate": "97.5", "zero_out_rate": "80"},
    )
    target.refresh_from_db()
    assert target.recovery_rate == D("97.5") and target.history.count() == 2
    # No bills due this month: nothing to recover, zero-out 100 % ≥ 80 % → on target.
    rows = api_as(area_leader).get("/api/v1/responsibility/recovery/").json()
    mine = next(r for r in rows if r["key"] == str(collector.pk))
    assert (mine["recovery_target"], mine["zero_out_target"], mine["on_target"]) == ("97.5", "80.0", True)
    response = client.get("/collection/responsibility/")
    assert response.status_code == 200 and "97.5%" in response.content.decode()


def test_bad_targets_are_refused_and_nothing_is_stored(client, portfolio, area_leader, collector, other_collector):
    client.force_login(area_leader)
    month = timezone.localdate().strftime("%Y-%m")
    both = client.post(
        "/collection/responsibility/targets/",
        {"month": month, "collector": collector.pk, "region": portfolio["a1"].region_id, "recovery_rate": "9",
         "zero_out_rate": "9"},
    )  # fmt: skip
    assert both.status_code == 200 and "Choose either an area or a collector." in both.content.decode()
    too_high = client.post(
        "/collection/responsibility/targets/",
        {"month": month, "collector": collector.pk, "recovery_rate": "120", "zero_out_rate": "9"},
    )
    assert too_high.status_code == 200 and "recovery_rate" in too_high.context["form"].errors
    # A collector of another area is not offered to this leader.
    elsewhere = client.post(
        "/collection/responsibility/targets/",
        {"month": month, "collector": other_collector.pk, "recovery_rate": "90", "zero_out_rate": "9"},
    )
    assert elsewhere.status_code == 200 and "collector" in elsewhere.context["form"].errors
    assert not CollectionTarget.objects.exists()
    client.force_login(collector)
    assert client.get("/collection/responsibility/targets/").status_code == 403


def test_a_collector_sees_only_their_own_row_and_a_leader_reassigns_on_the_page(
    client, portfolio, area_leader, collector
):
    client.force_login(collector)
    page = client.get("/collection/responsibility/?group=area")
    rows = page.context["rows"]
    assert page.context["group"] == "collector" and [r.key for r in rows] == [str(collector.pk)]
    assert client.get("/collection/customers/3100000001/reassign/").status_code == 403

    newcomer = UserFactory(username="collector_c", role="collector")
    client.force_login(area_leader)
    missing_reason = client.post("/collection/customers/3100000001/reassign/", {"collector": newcomer.pk})
    assert missing_reason.status_code == 200 and "reason" in missing_reason.context["form"].errors
    assert not CollectorAssignment.objects.exists()
    moved = client.post("/collection/customers/3100000001/reassign/", {"collector": newcomer.pk, "reason": "片区调整"})
    assert moved.status_code == 302
    history = client.get("/collection/customers/3100000001/reassign/").content.decode()
    assert "片区调整" in history and newcomer.get_full_name() in history
    # Another area's customer: not found for this leader.
    assert client.get("/collection/customers/3100000003/reassign/").status_code == 404
