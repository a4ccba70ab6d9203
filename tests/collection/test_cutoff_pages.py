"""Cut-off order pages: the scoped list with its gate progress, the order with each gate item
and its evidence, the actions each role may take (and the service's message when the rules
refuse one), the customer-page panel — and the dunning run's own proposals and the 3-day
restore limit. Times are relative to now: a cut-off is always proposed for a time to come, so
an order that is due is moved into the past by updating its rows, as the clock would."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from billing.models import ControlCommand
from collection.cutoff import (
    cutoff_approve,
    cutoff_execute,
    cutoff_propose,
    cutoff_propose_due,
    cutoff_restore_due,
    cutoff_restores_overdue,
)
from collection.models import CutoffOrder, DunningNotice, PaymentArrangement
from collection.tasks import dunning_run_task
from customers.selectors import customers_visible_to
from tests.collection.cutoff_helpers import at_ten, make_due_now, pay_everything, serve_notices
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def act(client, url: str, data: dict | None = None) -> list[str]:
    """POST an action the way a browser would (following the redirect) and return the messages
    the next page shows."""
    response = client.post(url, data or {}, follow=True)
    assert response.status_code == 200
    return [str(m) for m in response.context["messages"]]


@pytest.fixture
def order(steel, collector):
    return cutoff_propose(customer=steel, planned_at=at_ten(2), reason="欠费45天", proposed_by=collector)


# ---------------------------------------------------------------------------------------------
# The list
# ---------------------------------------------------------------------------------------------
def test_the_list_is_scoped_and_shows_status_importance_gate_progress_and_planned_time(
    client, portfolio, order, hospital, collector, other_collector, area_leader, manager, system_user
):
    important = cutoff_propose(customer=hospital, planned_at=at_ten(3), reason="欠费", proposed_by=collector)
    elsewhere = CutoffOrder.objects.create(customer=portfolio["b1"], planned_at=at_ten(4), reason="B")
    url = reverse("collection:cutoff_list")

    client.force_login(collector)
    html = client.get(url).content.decode()
    assert "Steel A1" in html and "Hospital A2" in html and "Chem B1" not in html
    assert "Important user, class 1" in html and "badge-important" in html
    assert "3 of 6 met" in html  # steel: overdue, demand, suspension notice, time… not leader, re-notice, time
    assert "3 of 8 met" in html  # hospital: also a manager's approval and the power administration record
    assert at_ten(2).strftime("%Y-%m-%d %H:%M") in html and "Proposed" in html

    client.force_login(other_collector)
    html = client.get(url).content.decode()
    assert "Chem B1" in html and "Steel A1" not in html
    client.force_login(area_leader)  # area A only
    html = client.get(url).content.decode()
    assert "Steel A1" in html and "Chem B1" not in html
    client.force_login(manager)
    assert "3 orders" in client.get(url).content.decode()
    client.force_login(system_user)  # an API account has no staff pages
    assert client.get(url).status_code == 403
    assert order.pk and important.pk and elsewhere.pk


def test_the_list_filters_with_the_api_filterset_sorts_pages_with_htmx_and_has_an_empty_state(
    client, portfolio, order, hospital, collector, manager, regions
):
    cutoff_propose(customer=hospital, planned_at=at_ten(3), reason="欠费", proposed_by=collector)
    CutoffOrder.objects.create(customer=portfolio["b1"], planned_at=at_ten(9), reason="B", status="cancelled")
    url = reverse("collection:cutoff_list")
    client.force_login(manager)

    def rows(**params):
        response = client.get(url, params, HTTP_HX_REQUEST="true")
        assert response.status_code == 200 and "<html" not in response.content.decode()  # the table only
        return response.content.decode()

    assert "Hospital A2" in rows(importance="class_1") and "Steel A1" not in rows(importance="class_1")
    assert "Chem B1" in rows(status="cancelled") and "Steel A1" not in rows(status="cancelled")
    assert "Chem B1" not in rows(region=regions["a"].pk) and "Steel A1" in rows(region=regions["district_a"].pk)
    assert "Steel A1" in rows(q="3100000001") and "Hospital" not in rows(q="3100000001")
    assert "Hospital A2" in rows(q="hospital")
    window = rows(planned_after=(timezone.localdate() + dt.timedelta(days=3)).isoformat(),
                  planned_before=(timezone.localdate() + dt.timedelta(days=4)).isoformat())  # fmt: skip
    assert "Hospital A2" in window and "Steel A1" not in window and "Chem B1" not in window
    ordered = rows(sort="customer")
    assert ordered.index("Steel A1") < ordered.index("Hospital A2") < ordered.index("Chem B1")
    reverse_order = rows(sort="-customer")
    assert reverse_order.index("Chem B1") < reverse_order.index("Steel A1")
    assert "No cut-off orders match these filters." in rows(status="restored")
    page = client.get(url).content.decode()
    assert 'id="cutoff-filters"' in page and 'name="planned_after"' in page


# ---------------------------------------------------------------------------------------------
# The order
# ---------------------------------------------------------------------------------------------
def test_the_order_shows_each_gate_item_with_its_evidence_and_the_notices_served(
    client, order, collector, other_collector
):
    client.force_login(collector)
    response = client.get(reverse("collection:cutoff_detail", args=[order.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    met = {item: f'data-gate="{item}" class="gate-met' in html for item in
           ("overdue", "demand", "suspension_notice", "leader", "renotice", "time")}  # fmt: skip
    assert met == {"overdue": True, "demand": True, "suspension_notice": True, "leader": False, "renotice": False,
                   "time": False}  # fmt: skip
    assert "3 of 6 met" in html
    served = (at_ten(2) - dt.timedelta(days=5)).strftime("%Y-%m-%d %H:%M")
    assert served in html  # the suspension notice's time is the evidence
    assert "days on the planned day (bill CUT-3100000001" in html
    # The notices with each message: channel, recipient, status.
    assert "Notice of supply suspension" in html and "Formal payment demand" in html
    assert "SMS · 13900000011 · Queued" in html
    assert "will be a remote trip" in html
    assert 'id="order-history"' in html and "Created" in html
    # A collector may give the re-notice and, as the proposer, cancel — never approve or execute.
    assert 'id="renotice-form"' in html and 'id="cancel-form"' in html
    assert 'id="approve-form"' not in html and 'id="execute-link"' not in html
    client.force_login(other_collector)  # outside the scope: nothing to see, not even that it exists
    assert client.get(reverse("collection:cutoff_detail", args=[order.pk])).status_code == 404
    assert client.post(reverse("collection:cutoff_approve", args=[order.pk])).status_code == 404


def test_execution_is_refused_while_an_item_is_missing_and_the_message_names_it(client, order, area_leader):
    client.force_login(area_leader)
    detail = client.get(reverse("collection:cutoff_detail", args=[order.pk])).content.decode()
    assert 'id="approve-form"' in detail and 'id="execute-link"' in detail
    url = reverse("collection:cutoff_execute", args=[order.pk])
    page = client.get(url).content.decode()
    assert "remote trip command" in page and "never tripped remotely" in page
    assert "Approved by the area leader" in page  # listed as still missing

    unconfirmed = client.post(url, {})
    assert unconfirmed.status_code == 200 and "Confirm the check before executing the order." in (
        unconfirmed.content.decode()
    )
    [message] = act(client, url, {"confirm": "on"})
    assert "The legal gate is not passed" in message
    assert "Approved by the area leader" in message and "Re-notice 30 minutes before" in message
    order.refresh_from_db()
    assert (order.status, order.executed_at, order.trip_command_id) == ("proposed", None, None)
    assert not ControlCommand.objects.exists()


def test_a_collector_may_not_approve_or_execute_and_is_told_why(client, order, collector):
    client.force_login(collector)
    approve = act(client, reverse("collection:cutoff_approve", args=[order.pk]))
    assert approve == ["Your role may not approve this order."]
    execute = act(client, reverse("collection:cutoff_execute", args=[order.pk]), {"confirm": "on"})
    assert execute == ["Only an area leader or a manager executes a cut-off."]
    order.refresh_from_db()
    assert order.leader_approved_by is None and order.status == "proposed"


def test_with_the_gate_passed_a_normal_customer_is_tripped_remotely(client, order, area_leader):
    client.force_login(area_leader)
    approved = act(client, reverse("collection:cutoff_approve", args=[order.pk]))
    assert approved == ["Approval recorded."]
    make_due_now(order)
    shown = act(client, reverse("collection:cutoff_execute", args=[order.pk]), {"confirm": "on"})
    order.refresh_from_db()
    trip = ControlCommand.objects.get(customer=order.customer, action="trip")
    assert shown == [f"Executed: remote trip command #{trip.pk} issued."]
    assert (order.status, order.trip_command_id, trip.origin, trip.status) == ("executed", trip.pk, "cutoff", "pending")
    html = client.get(reverse("collection:cutoff_detail", args=[order.pk])).content.decode()
    assert f"remote trip command #{trip.pk}: Pending" in html and 'id="execute-link"' not in html


def test_an_important_user_is_never_tripped_remotely_but_gets_a_field_order(
    client, hospital, collector, area_leader, manager
):
    order = cutoff_propose(customer=hospital, planned_at=at_ten(2), reason="欠费", proposed_by=collector)
    client.force_login(collector)
    html = client.get(reverse("collection:cutoff_detail", args=[order.pk])).content.decode()
    assert "never tripped remotely" in html and 'id="power-admin-form"' not in html
    client.force_login(area_leader)
    assert act(client, reverse("collection:cutoff_approve", args=[order.pk])) == ["Approval recorded."]
    client.force_login(manager)
    html = client.get(reverse("collection:cutoff_detail", args=[order.pk])).content.decode()
    assert 'id="approve-form"' in html and 'id="power-admin-form"' in html and "will be a field order" in html
    assert act(client, reverse("collection:cutoff_approve", args=[order.pk])) == ["Approval recorded."]
    empty = act(client, reverse("collection:cutoff_power_admin", args=[order.pk]), {"reference": " "})
    assert empty == ["Give the reference of the record sent to the power administration."]
    recorded = act(
        client, reverse("collection:cutoff_power_admin", args=[order.pk]), {"reference": "电力管理部门备案 2026-017"}
    )
    assert recorded == ["The power administration record is on the order."]
    make_due_now(order)
    page = client.get(reverse("collection:cutoff_execute", args=[order.pk])).content.decode()
    assert "This will issue a field order" in page and "No remote command is sent." in page
    assert 'id="gate-missing"' not in page
    shown = act(client, reverse("collection:cutoff_execute", args=[order.pk]), {"confirm": "on"})
    order.refresh_from_db()
    assert shown == [f"Executed: field order FO-{order.pk:06d} issued to the field crew."]
    assert order.status == "executed" and order.trip_command_id is None
    assert not ControlCommand.objects.filter(customer=hospital, action="trip").exists()
    html = client.get(reverse("collection:cutoff_detail", args=[order.pk])).content.decode()
    assert f"field order FO-{order.pk:06d}" in html and "电力管理部门备案 2026-017" in html


def test_a_cancel_needs_a_reason_and_the_reason_stays_in_the_audit_trail(client, order, steel, collector):
    url = reverse("collection:cutoff_cancel", args=[order.pk])
    client.force_login(collector)
    refused = act(client, url, {"reason": "  "})
    assert refused == ["Give the reason for cancelling."]
    order.refresh_from_db()
    assert order.status == "proposed"
    too_long = act(client, url, {"reason": "x" * 101})
    assert too_long == ["Keep the reason to 100 characters."]
    done = act(client, url, {"reason": "客户已签还款协议"})
    assert done == ["The order is cancelled."]
    order.refresh_from_db()
    assert order.status == "cancelled"
    html = client.get(reverse("collection:cutoff_detail", args=[order.pk])).content.decode()
    assert 'id="cancel-reason">客户已签还款协议' in html
    assert "Cancelled" in html and 'id="cancel-form"' not in html and 'id="renotice-form"' not in html
    again = act(client, url, {"reason": "twice"})
    assert again == ["Only a proposed order can be cancelled."]


def test_only_the_proposer_a_leader_or_a_manager_may_cancel(client, steel, collector, area_leader):
    order = cutoff_propose(customer=steel, planned_at=at_ten(2), reason="leader's", proposed_by=area_leader)
    client.force_login(collector)  # in scope, but not the proposer
    html = client.get(reverse("collection:cutoff_detail", args=[order.pk])).content.decode()
    assert 'id="cancel-form"' not in html
    response = act(client, reverse("collection:cutoff_cancel", args=[order.pk]), {"reason": "no"})
    assert response == ["Only the proposer, an area leader or a manager may cancel this order."]
    order.refresh_from_db()
    assert order.status == "proposed"


def test_after_payment_the_restore_is_tracked_against_3_days_and_confirmed_by_a_leader(
    client, hospital, collector, area_leader, manager
):
    order = cutoff_propose(customer=hospital, planned_at=at_ten(2), reason="欠费", proposed_by=collector)
    cutoff_approve(order=order, by=area_leader)
    cutoff_approve(order=order, by=manager)
    from collection.cutoff import cutoff_record_power_admin

    cutoff_record_power_admin(order=order, reference="REC-1", by=manager)
    order = cutoff_execute(order=make_due_now(order), by=manager)
    pay_everything(hospital, "HOSP-PAID")
    assert cutoff_restore_due() == 1
    order.refresh_from_db()
    assert order.status == "restoring"  # a field order: a person confirms
    CutoffOrder.objects.filter(pk=order.pk).update(cause_cleared_at=timezone.now() - dt.timedelta(days=4))

    client.force_login(collector)
    listing = client.get(reverse("collection:cutoff_list")).content.decode()
    assert "Restore overdue" in listing
    html = client.get(reverse("collection:cutoff_detail", args=[order.pk])).content.decode()
    assert "Restore overdue" in html and 'id="restored-form"' not in html
    refused = act(client, reverse("collection:cutoff_confirm_restored", args=[order.pk]), {})
    assert refused == ["Only an area leader or a manager confirms that supply is restored."]

    client.force_login(area_leader)
    future = act(
        client,
        reverse("collection:cutoff_confirm_restored", args=[order.pk]),
        {"restored_at": (timezone.localtime() + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")},
    )
    assert future == ["The restore time cannot be in the future."]
    done = act(client, reverse("collection:cutoff_confirm_restored", args=[order.pk]), {"restored_at": ""})
    assert done == ["Supply restored: recorded."]
    order.refresh_from_db()
    assert order.status == "restored" and order.restored_at is not None
    html = client.get(reverse("collection:cutoff_detail", args=[order.pk])).content.decode()
    assert "after the 3-day limit" in html and "Supply restored" in html


# ---------------------------------------------------------------------------------------------
# The customer page's panel
# ---------------------------------------------------------------------------------------------
def test_the_customer_panel_lists_orders_and_lets_collections_staff_propose(
    client, steel, order, collector, other_collector, system_user, portfolio
):
    client.force_login(collector)
    page = client.get(reverse("customers:detail", args=["3100000001"])).content.decode()
    assert reverse("collection:cutoff_panel", args=["3100000001"]) in page  # registered as a panel
    assert "Cut-off orders" in page  # also in the menu
    panel = client.get(reverse("collection:cutoff_panel", args=["3100000001"])).content.decode()
    assert "欠费45天" in panel and "3 of 6 met" in panel and 'id="cutoff-propose-form"' in panel

    url = reverse("collection:cutoff_propose", args=["3100000001"])
    duplicate = act(client, url, {"planned_at": at_ten(3).strftime("%Y-%m-%dT%H:%M"), "reason": "again"})
    assert duplicate == ["The customer already has an open cut-off order."]
    order.delete()
    no_reason = act(client, url, {"planned_at": at_ten(3).strftime("%Y-%m-%dT%H:%M"), "reason": ""})
    assert no_reason == ["Give the reason for the cut-off."]
    past = act(client, url, {"planned_at": at_ten(-1).strftime("%Y-%m-%dT%H:%M"), "reason": "late"})
    assert past == ["A cut-off is planned for a time to come."]
    assert not CutoffOrder.objects.exists()
    proposed = client.post(url, {"planned_at": at_ten(3).strftime("%Y-%m-%dT%H:%M"), "reason": "欠费不缴"}, follow=True)
    created = CutoffOrder.objects.get()
    assert proposed.redirect_chain == [(reverse("collection:cutoff_detail", args=[created.pk]), 302)]
    assert "Cut-off order proposed; it needs the area leader&#x27;s approval." in proposed.content.decode()
    assert (created.proposed_by, created.planned_at, created.reason) == (collector, at_ten(3), "欠费不缴")

    nothing_due = act(client, reverse("collection:cutoff_propose", args=["3100000002"]),
                      {"planned_at": at_ten(3).strftime("%Y-%m-%dT%H:%M"), "reason": "x"})  # fmt: skip
    assert nothing_due == ["The customer has nothing overdue."]
    client.force_login(other_collector)
    assert client.get(reverse("collection:cutoff_panel", args=["3100000001"])).status_code == 404
    assert client.post(url, {"planned_at": at_ten(3).strftime("%Y-%m-%dT%H:%M"), "reason": "x"}).status_code == 404
    client.force_login(system_user)  # reads everything, proposes nothing
    panel = client.get(reverse("collection:cutoff_panel", args=["3100000001"])).content.decode()
    assert "欠费不缴" in panel and 'id="cutoff-propose-form"' not in panel
    assert client.post(url, {"planned_at": at_ten(3).strftime("%Y-%m-%dT%H:%M"), "reason": "x"}).status_code == 403


# ---------------------------------------------------------------------------------------------
# The dunning run's proposals and the 3-day restore limit
# ---------------------------------------------------------------------------------------------
def served_days_ago(days: int, hour: int = 9) -> dt.datetime:
    day = timezone.localdate() - dt.timedelta(days=days)
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, 0)))


@pytest.fixture
def noticed(portfolio, area_leader):
    """Steel A1 overdue with a suspension notice; the test dates when it was served."""
    customer = portfolio["a1"]
    serve_notices(customer, area_leader, suspension_sent_at=served_days_ago(3))
    return customer


def test_the_run_proposes_once_3_days_after_the_suspension_notice_for_10_the_next_morning(noticed):
    [order] = cutoff_propose_due()
    assert order.customer == noticed and order.proposed_by is None and order.status == "proposed"
    assert order.reason == "Suspension notice period has run"
    assert timezone.localtime(order.planned_at) == timezone.localtime(at_ten(1))
    assert cutoff_propose_due() == []  # the same day again: nothing twice
    assert CutoffOrder.objects.count() == 1


def test_the_run_waits_for_3_days_and_gives_up_after_7(noticed):
    notice = DunningNotice.objects.filter(customer=noticed, level__code="suspension")
    notice.update(sent_at=served_days_ago(2))
    assert cutoff_propose_due() == []  # the notice period has not run yet
    notice.update(sent_at=served_days_ago(6, hour=9))
    assert cutoff_propose_due() == []  # 10:00 tomorrow would be 7 days and an hour after it
    notice.update(sent_at=served_days_ago(8))
    assert cutoff_propose_due() == []  # spent: a new suspension notice is needed
    notice.update(sent_at=served_days_ago(6, hour=15))
    [order] = cutoff_propose_due()  # 10:00 tomorrow is still inside the 7 days
    assert order.planned_at <= notice.get().sent_at + dt.timedelta(days=7)


def test_the_run_skips_arranged_paid_and_already_ordered_customers_and_respects_a_cancel(
    noticed, collector, area_leader
):
    arrangement = PaymentArrangement.objects.create(customer=noticed, total=D("1.00"), made_on=timezone.localdate())
    assert cutoff_propose_due() == []
    arrangement.delete()
    manual = cutoff_propose(customer=noticed, planned_at=at_ten(2), reason="manual", proposed_by=collector)
    assert cutoff_propose_due() == []
    from collection.cutoff import cutoff_cancel

    cutoff_cancel(order=manual, by=area_leader, reason="negotiating")
    assert cutoff_propose_due() == []  # staff dealt with this notice: the run does not overrule them
    CutoffOrder.objects.all().delete()
    pay_everything(noticed, "PAID-BEFORE-RUN")
    assert cutoff_propose_due() == []


def test_the_daily_task_and_the_command_propose_after_the_dunning_run(noticed):
    dunning_run_task()
    assert CutoffOrder.objects.filter(customer=noticed, proposed_by=None).count() == 1
    CutoffOrder.objects.all().delete()
    from io import StringIO

    out = StringIO()
    call_command("dunning_run", stdout=out)
    assert "1 cut-off order(s) proposed" in out.getvalue()
    call_command("dunning_run", stdout=out)
    assert CutoffOrder.objects.count() == 1


def test_restores_not_confirmed_within_3_days_are_listed_per_scope(portfolio, collector, other_collector):
    now = timezone.now()

    def order(customer, status, cleared_days_ago, restored=None):
        return CutoffOrder.objects.create(
            customer=customer, planned_at=now - dt.timedelta(days=10), reason="r", status=status,
            cause_cleared_at=now - dt.timedelta(days=cleared_days_ago), restored_at=restored,
        )  # fmt: skip

    late = order(portfolio["a1"], "restoring", 4)
    order(portfolio["a2"], "restoring", 2)  # still within the limit
    order(portfolio["a2"], "restored", 5, restored=now - dt.timedelta(days=1))  # back, if late
    other = order(portfolio["b1"], "restoring", 5)
    assert list(cutoff_restores_overdue(customers_visible_to(collector), now)) == [late]
    assert list(cutoff_restores_overdue(customers_visible_to(other_collector), now)) == [other]
    manager = UserFactory(username="manager_r", role="manager")
    assert list(cutoff_restores_overdue(customers_visible_to(manager), now)) == [other, late]


def test_a_remote_restore_the_terminal_acknowledged_is_marked_restored_by_itself(order, area_leader, steel):
    cutoff_approve(order=order, by=area_leader)
    order = cutoff_execute(order=make_due_now(order), by=area_leader)
    ControlCommand.objects.filter(pk=order.trip_command_id).update(status="acknowledged", attempts=1)
    pay_everything(steel, "STEEL-PAID")
    assert cutoff_restore_due() == 1
    order.refresh_from_db()
    assert order.status == "restoring"  # the restore command has not reached the terminal yet
    restore = ControlCommand.objects.get(customer=steel, action="restore")
    acknowledged = timezone.now()
    ControlCommand.objects.filter(pk=restore.pk).update(status="acknowledged", acknowledged_at=acknowledged)
    assert cutoff_restore_due() == 0
    order.refresh_from_db()
    assert order.status == "restored" and order.restored_at == acknowledged
    assert order.history.first().history_change_reason == "Restore acknowledged by the terminal"


def test_a_trip_cancelled_before_it_was_sent_needs_no_restore(order, area_leader, steel):
    cutoff_approve(order=order, by=area_leader)
    order = cutoff_execute(order=make_due_now(order), by=area_leader)
    pay_everything(steel, "STEEL-PAID-EARLY")  # before the sender picked the trip up
    cutoff_restore_due()
    order.refresh_from_db()
    assert order.status == "restored" and order.restored_at == order.cause_cleared_at
    assert ControlCommand.objects.get(pk=order.trip_command_id).status == "cancelled"
    assert not ControlCommand.objects.filter(customer=steel, action="restore").exists()
