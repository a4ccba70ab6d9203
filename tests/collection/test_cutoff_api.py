"""The cut-off orders API: scoped like everything else (another area's order is a 404), each
step for the roles that may take it (403 otherwise), the gate items on every order, and the
rules' refusals as 400s that name the field or the missing gate items — with nothing saved."""

import datetime as dt

import pytest
from django.utils import timezone

from billing.models import ControlCommand
from collection.cutoff import cutoff_approve, cutoff_propose, cutoff_record_power_admin, cutoff_restore_due
from collection.models import CutoffOrder
from tests.collection.cutoff_helpers import at_ten, make_due_now, pay_everything

pytestmark = pytest.mark.django_db
BASE = "/api/v1/cutoff-orders/"


@pytest.fixture
def order(steel, collector):
    return cutoff_propose(customer=steel, planned_at=at_ten(2), reason="欠费45天", proposed_by=collector)


def test_orders_are_scoped_and_carry_their_gate(api_as, order, portfolio, collector, other_collector, manager):
    elsewhere = CutoffOrder.objects.create(customer=portfolio["b1"], planned_at=at_ten(5), reason="B")
    mine = api_as(collector).get(BASE).json()
    assert [row["customer"] for row in mine["results"]] == ["3100000001"]
    row = mine["results"][0]
    assert (row["status"], row["gate_met"], row["gate_total"], row["important_user"]) == ("proposed", 3, 6, False)
    assert row["proposed_by"] == "collector_a" and row["execution"] is None and row["restore_overdue"] is False
    assert api_as(manager).get(BASE).json()["count"] == 2
    assert api_as(other_collector).get(f"{BASE}{order.pk}/").status_code == 404
    assert api_as(collector).get(f"{BASE}{elsewhere.pk}/").status_code == 404

    detail = api_as(collector).get(f"{BASE}{order.pk}/").json()
    gate = {item["key"]: item for item in detail["gate"]}
    assert list(gate) == ["overdue", "demand", "suspension_notice", "leader", "renotice", "time"]
    assert gate["suspension_notice"]["met"] is True and gate["suspension_notice"]["evidence"]
    assert gate["leader"] == {"key": "leader", "label": "Approved by the area leader", "met": False, "evidence": ""}


def test_the_list_filters_with_the_same_filterset_as_the_page(api_as, order, hospital, collector, regions):
    cutoff_propose(customer=hospital, planned_at=at_ten(3), reason="欠费", proposed_by=collector)
    api = api_as(collector)

    def accounts(**params):
        response = api.get(BASE, params)
        assert response.status_code == 200, response.json()
        return [row["customer"] for row in response.json()["results"]]

    assert accounts(importance="class_1") == ["3100000002"]
    assert accounts(q="steel") == ["3100000001"]
    assert accounts(status="cancelled") == []
    assert accounts(region=regions["a"].pk, ordering="planned_at") == ["3100000001", "3100000002"]
    assert accounts(planned_after=(timezone.localdate() + dt.timedelta(days=3)).isoformat()) == ["3100000002"]
    assert api.get(BASE, {"status": "bogus"}).status_code == 400
    assert "planned_before" in api.get(BASE, {"planned_before": "soon"}).json()
    assert api.get(BASE, {"region": regions["b"].pk}).status_code == 400  # not one of the collector's areas


def test_a_collector_proposes_and_bad_input_is_a_400_naming_the_field(api_as, steel, portfolio, collector):
    api = api_as(collector)
    body = {"customer": "3100000001", "planned_at": at_ten(2).isoformat(), "reason": "欠费不缴"}
    for field, value in [
        ("reason", ""),
        ("reason", {"text": "not a string"}),
        ("reason", "x" * 301),
        ("planned_at", "next week"),
        ("planned_at", "0001-01-01T00:00:00"),
        ("planned_at", at_ten(-1).isoformat()),  # a time gone by
        ("customer", "3100000003"),  # another collector's customer: unknown here
        ("customer", "3100000002"),  # nothing overdue
        ("customer", ["3100000001"]),
    ]:
        response = api.post(BASE, {**body, field: value}, format="json")
        assert response.status_code == 400 and field in response.json(), (field, value, response.content)
    assert not CutoffOrder.objects.exists()
    created = api.post(BASE, body, format="json")
    assert created.status_code == 201
    assert created.json()["status"] == "proposed" and created.json()["proposed_by"] == "collector_a"
    assert len(created.json()["gate"]) == 6
    again = api.post(BASE, body, format="json")
    assert again.status_code == 400 and "customer" in again.json()  # one open order per customer
    assert CutoffOrder.objects.count() == 1


def test_a_system_account_reads_but_never_writes(api_as, order, system_user):
    api = api_as(system_user)
    assert api.get(f"{BASE}{order.pk}/").status_code == 200
    body = {"customer": "3100000001", "planned_at": at_ten(3).isoformat(), "reason": "x"}
    assert api.post(BASE, body, format="json").status_code == 403
    assert api.post(f"{BASE}{order.pk}/approve/").status_code == 403


def test_execution_is_refused_with_the_missing_items_and_nothing_changes(api_as, order, collector, area_leader):
    assert api_as(collector).post(f"{BASE}{order.pk}/execute/").status_code == 403
    refused = api_as(area_leader).post(f"{BASE}{order.pk}/execute/")
    assert refused.status_code == 400
    assert refused.json()["missing"] == ["leader", "renotice", "time"]
    assert "Approved by the area leader" in refused.json()["non_field_errors"][0]
    order.refresh_from_db()
    assert order.status == "proposed" and order.executed_at is None
    assert not ControlCommand.objects.exists()


def test_approve_renotice_and_execute_trip_a_normal_customer_remotely(api_as, order, collector, area_leader):
    assert api_as(collector).post(f"{BASE}{order.pk}/approve/").status_code == 403
    approved = api_as(area_leader).post(f"{BASE}{order.pk}/approve/")
    assert approved.status_code == 200 and approved.json()["leader_approved_by"] == "leader_a"
    assert api_as(area_leader).post(f"{BASE}{order.pk}/approve/").status_code == 400  # already approved
    early = api_as(collector).post(f"{BASE}{order.pk}/renotice/")  # two days before: too early
    assert early.status_code == 400 and "30 minutes" in early.json()["non_field_errors"][0]
    make_due_now(order)
    executed = api_as(area_leader).post(f"{BASE}{order.pk}/execute/")
    assert executed.status_code == 200, executed.json()
    data = executed.json()
    assert (data["status"], data["execution"], data["gate_met"]) == ("executed", "remote_trip", None)
    trip = ControlCommand.objects.get(pk=data["trip_command_id"])
    assert (trip.action, trip.origin) == ("trip", "cutoff")
    assert api_as(area_leader).post(f"{BASE}{order.pk}/execute/").status_code == 400  # not twice


def test_an_important_user_needs_two_people_and_the_record_and_gets_a_field_order(
    api_as, hospital, collector, area_leader, manager
):
    order = cutoff_propose(customer=hospital, planned_at=at_ten(2), reason="欠费", proposed_by=collector)
    url = f"{BASE}{order.pk}/"
    assert api_as(area_leader).post(f"{url}approve/").status_code == 200
    gate = {i["key"]: i["met"] for i in api_as(manager).get(url).json()["gate"]}
    assert gate["manager"] is False and gate["power_admin"] is False
    assert api_as(collector).post(f"{url}power-admin/", {"reference": "R-1"}, format="json").status_code == 403
    long = api_as(manager).post(f"{url}power-admin/", {"reference": "R" * 101}, format="json")
    assert long.status_code == 400 and "reference" in long.json()
    assert api_as(manager).post(f"{url}power-admin/", {}, format="json").json().keys() == {"reference"}
    recorded = api_as(manager).post(f"{url}power-admin/", {"reference": "备案 2026-018"}, format="json")
    assert recorded.status_code == 200 and recorded.json()["power_admin_reference"] == "备案 2026-018"
    assert api_as(manager).post(f"{url}approve/").json()["manager_approved_by"] == "manager"
    make_due_now(order)
    executed = api_as(manager).post(f"{url}execute/")
    assert executed.status_code == 200
    assert (executed.json()["execution"], executed.json()["field_order"]) == ("field_order", f"FO-{order.pk:06d}")
    assert executed.json()["trip_command_id"] is None
    assert not ControlCommand.objects.filter(customer=hospital).exists()


def test_the_power_administration_record_is_for_important_users_only(api_as, order, manager):
    response = api_as(manager).post(f"{BASE}{order.pk}/power-admin/", {"reference": "R-1"}, format="json")
    assert response.status_code == 400
    order.refresh_from_db()
    assert order.power_admin_reference == ""


def test_cancel_needs_a_reason_and_only_a_proposed_order(api_as, order, collector, other_collector):
    url = f"{BASE}{order.pk}/cancel/"
    assert api_as(other_collector).post(url, {"reason": "x"}, format="json").status_code == 404
    for bad in ({}, {"reason": ""}, {"reason": "x" * 101}, {"reason": None}):
        response = api_as(collector).post(url, bad, format="json")
        assert response.status_code == 400 and "reason" in response.json(), (bad, response.content)
    cancelled = api_as(collector).post(url, {"reason": "客户已付款"}, format="json")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert order.history.first().history_change_reason == "客户已付款"
    assert api_as(collector).post(url, {"reason": "again"}, format="json").status_code == 400


def test_confirm_restored_after_the_restore_was_issued(api_as, hospital, collector, area_leader, manager):
    order = cutoff_propose(customer=hospital, planned_at=at_ten(2), reason="欠费", proposed_by=collector)
    cutoff_approve(order=order, by=area_leader)
    cutoff_approve(order=order, by=manager)
    cutoff_record_power_admin(order=order, reference="R-2", by=manager)
    url = f"{BASE}{order.pk}/confirm-restored/"
    not_yet = api_as(area_leader).post(url, {}, format="json")
    assert not_yet.status_code == 400 and "status" in not_yet.json()
    api_as(manager).post(f"{BASE}{order.pk}/execute/")  # planned in two days: refused
    order = make_due_now(order)
    assert api_as(manager).post(f"{BASE}{order.pk}/execute/").status_code == 200
    pay_everything(hospital, "API-HOSP-PAID")
    cutoff_restore_due()
    row = api_as(collector).get(f"{BASE}{order.pk}/").json()
    assert row["status"] == "restoring" and row["restore_due_by"] and row["restore_overdue"] is False
    assert api_as(collector).post(url, {}, format="json").status_code == 403
    future = (timezone.now() + dt.timedelta(days=1)).isoformat()
    for bad in ({"restored_at": future}, {"restored_at": "yesterday"}, {"restored_at": "9999-12-31T23:59:59-12:00"}):
        response = api_as(area_leader).post(url, bad, format="json")
        assert response.status_code == 400 and "restored_at" in response.json(), (bad, response.content)
    confirmed = api_as(area_leader).post(url, {}, format="json")
    assert confirmed.status_code == 200
    assert confirmed.json()["status"] == "restored" and confirmed.json()["restored_at"]
    assert api_as(collector).get(BASE, {"status": "restored"}).json()["count"] == 1
    assert api_as(collector).get(BASE, {"restore_overdue": "true"}).json()["count"] == 0
