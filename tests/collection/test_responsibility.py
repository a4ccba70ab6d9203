"""Responsibility: reassignment with history, and recovery figures per collector and area."""

from decimal import Decimal as D

import pytest
from django.utils import timezone

from billing.services.payments import payment_record
from collection.models import CollectorAssignment
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
