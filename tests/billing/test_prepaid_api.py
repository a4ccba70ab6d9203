"""Prepaid accounts and control commands through the API and the staff pages: scoping,
permissions, bad input as 400s naming the field, and the approval of important-user trips."""

from decimal import Decimal as D

import pytest
from django.urls import reverse

from billing.gateways import SimulatedTerminalGateway
from billing.models import ControlCommand, Payment, PrepaidEntry
from billing.services.control import control_send_due
from billing.services.prepaid import prepaid_run
from tests.billing.test_prepaid import _simulated_parts, day, prepaid_customer, usage  # noqa: F401
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def accounts(portfolio, regions, collector, other_collector):
    """Collector A's remote customer (¥1,000.00, 6 days of ¥100.00 charged → ¥400.00, 4 days
    left) and collector B's card customer; and an important user in area A."""
    mine = prepaid_customer(regions["a"], collector=collector, account_no="3200000001")
    theirs = prepaid_customer(
        regions["b"], mode="prepaid_card", collector=other_collector, account_no="3200000002", agreement=False
    )
    hospital = prepaid_customer(regions["a"], importance="class_1", collector=collector, account_no="3200000003")
    for customer in (mine, theirs, hospital):
        usage(customer, 1, 6)
    for n in range(1, 7):
        prepaid_run(day=day(n))
    return {"mine": mine, "theirs": theirs, "hospital": hospital}


def account_id(customer) -> int:
    return customer.prepaid_account.pk


def test_prepaid_accounts_are_listed_within_scope_with_balance_and_days_left(api_as, collector, accounts):
    api = api_as(collector)
    rows = api.get("/api/v1/prepaid-accounts/").json()["results"]
    assert [r["customer"] for r in rows] == ["3200000001", "3200000003"]
    row = rows[0]
    # 1000 − 6 × 100 = 400.00; average 100.00 over 1–6 March; 400 ÷ 100 = 4.0 days → warned at 7
    assert (row["balance"], row["average_daily_charge"], row["days_left"], row["state"]) == (
        "400.00",
        "100.00",
        "4.0",
        "warned_7",
    )
    assert [(e["kind"], e["day"], e["amount"]) for e in row["recent_entries"][:2]] == [
        ("daily_charge", "2026-03-06", "-100.00"),
        ("daily_charge", "2026-03-05", "-100.00"),
    ]
    assert len(row["recent_entries"]) == 7  # six charges and the opening balance
    detail = api.get(f"/api/v1/prepaid-accounts/{account_id(accounts['mine'])}/").json()
    assert detail["balance"] == "400.00"
    assert api.get(f"/api/v1/prepaid-accounts/{account_id(accounts['theirs'])}/").status_code == 404
    filtered = api.get("/api/v1/prepaid-accounts/", {"customer": "3200000003"}).json()["results"]
    assert [r["customer"] for r in filtered] == ["3200000003"]


def test_a_top_up_through_the_api_is_a_payment_and_restores_a_tripped_supply(api_as, system_user, accounts):
    customer = accounts["mine"]
    usage(customer, 7, 10)
    for n in range(7, 11):
        prepaid_run(day=day(n))  # 400 − 4 × 100 = 0.00 on 10 March: tripped
    control_send_due()
    api = api_as(system_user)
    url = f"/api/v1/prepaid-accounts/{account_id(customer)}/top-ups/"
    body = {"amount": "1500.00", "channel": "online_banking", "external_ref": "NB-7788"}
    response = api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="top-1")
    assert response.status_code == 201, response.content
    data = response.json()
    # ¥1,500.00 over an average of ¥100.00 → 15.0 days: back to normal, and the supply restored.
    assert (data["account"]["balance"], data["account"]["days_left"], data["account"]["state"]) == (
        "1500.00",
        "15.0",
        "normal",
    )
    assert (data["entry"]["kind"], data["entry"]["amount"]) == ("top_up", "1500.00")
    restore = ControlCommand.objects.get(pk=data["restore_command"])
    assert (restore.action, restore.status) == ("restore", "pending")
    replay = api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="top-1")
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    duplicate = api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="top-2")
    assert duplicate.status_code == 409 and duplicate.json()["payment"] == data["payment"]
    assert Payment.objects.filter(customer=customer).count() == 1
    assert PrepaidEntry.objects.filter(kind="top_up").count() == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"amount": "0"}, "amount"),
        ({"amount": "-5.00"}, "amount"),
        ({"amount": "10.001"}, "amount"),
        ({"amount": "ten"}, "amount"),
        ({"channel": "cheque"}, "channel"),
        ({"received_at": "2099-01-01T00:00:00+08:00"}, "received_at"),
    ],
)
def test_bad_top_ups_are_400_naming_the_field(api_as, system_user, accounts, changes, field):
    body = {"amount": "100.00", "channel": "counter", **changes}
    response = api_as(system_user).post(
        f"/api/v1/prepaid-accounts/{account_id(accounts['mine'])}/top-ups/", body, format="json"
    )
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not PrepaidEntry.objects.filter(kind="top_up").exists()


def test_top_ups_need_a_payment_role_and_an_account_in_scope(api_as, collector, area_leader, accounts):
    url = f"/api/v1/prepaid-accounts/{account_id(accounts['mine'])}/top-ups/"
    assert api_as(collector).post(url, {"amount": "1.00", "channel": "counter"}, format="json").status_code == 403
    other = f"/api/v1/prepaid-accounts/{account_id(accounts['theirs'])}/top-ups/"
    assert api_as(area_leader).post(other, {"amount": "1.00", "channel": "counter"}, format="json").status_code == 404
    assert api_as(area_leader).post("/api/v1/prepaid-accounts/999999/top-ups/", {}, format="json").status_code == 404


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"customer": "0000000000"}, "customer"),
        ({"customer": "3200000002"}, "customer"),  # another area's customer reads as unknown
        ({"action": "explode"}, "action"),
        ({"reason": ""}, "reason"),
        ({"meter": "NO-SUCH"}, "meter"),
    ],
)
def test_bad_command_requests_are_400_naming_the_field(api_as, area_leader, accounts, changes, field):
    body = {"customer": "3200000001", "action": "trip", "reason": "Dangerous installation", **changes}
    response = api_as(area_leader).post("/api/v1/control-commands/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not ControlCommand.objects.filter(origin="manual").exists()


def test_an_important_users_trip_through_the_api_waits_for_another_managers_approval(
    api_as, area_leader, manager, collector, system_user, accounts
):
    body = {"customer": "3200000003", "action": "trip", "reason": "12 months in arrears"}
    assert api_as(collector).post("/api/v1/control-commands/", body, format="json").status_code == 403
    created = api_as(manager).post("/api/v1/control-commands/", body, format="json")
    assert created.status_code == 201
    command = created.json()
    assert (command["status"], command["important_user"], command["requested_by"]) == (
        "awaiting_approval",
        True,
        "manager",
    )
    url = f"/api/v1/control-commands/{command['id']}/approve/"
    assert api_as(area_leader).post(url, {"reason": "ok"}, format="json").status_code == 403
    assert api_as(manager).post(url, {"reason": "ok"}, format="json").status_code == 403  # the requester
    second = UserFactory(username="manager_2", role="manager")
    missing = api_as(second).post(url, {}, format="json")
    assert missing.status_code == 400 and "reason" in missing.json()
    approved = api_as(second).post(url, {"reason": "Approval 2026-17"}, format="json")
    assert approved.status_code == 200
    assert (approved.json()["status"], approved.json()["approved_by"]) == ("pending", "manager_2")
    assert api_as(second).post(url, {"reason": "again"}, format="json").status_code == 400

    SimulatedTerminalGateway.reset(ack_mode="poll")
    control_send_due()
    ack = f"/api/v1/control-commands/{command['id']}/ack/"
    assert api_as(collector).post(ack, {}, format="json").status_code == 403
    done = api_as(system_user).post(ack, {"gateway_ref": "HE-1"}, format="json")
    assert done.status_code == 200 and done.json()["status"] == "acknowledged"
    assert api_as(system_user).post(ack, {}, format="json").json()["status"] == "acknowledged"  # idempotent


def test_a_normal_customers_manual_trip_is_pending_at_once_and_commands_are_scoped(
    api_as, area_leader, other_collector, accounts
):
    body = {"customer": "3200000001", "action": "trip", "reason": "Safety"}
    created = api_as(area_leader).post("/api/v1/control-commands/", body, format="json")
    assert created.status_code == 201 and created.json()["status"] == "pending"
    assert api_as(other_collector).get(f"/api/v1/control-commands/{created.json()['id']}/").status_code == 404
    listed = api_as(area_leader).get("/api/v1/control-commands/", {"status": "pending"}).json()["results"]
    assert [c["id"] for c in listed] == [created.json()["id"]]
    ack = api_as(area_leader).post(f"/api/v1/control-commands/{created.json()['id']}/ack/", {}, format="json")
    assert ack.status_code == 403


def test_acknowledging_a_command_never_sent_is_400(api_as, manager, accounts):
    created = api_as(manager).post(
        "/api/v1/control-commands/", {"customer": "3200000001", "action": "trip", "reason": "x"}, format="json"
    )
    response = api_as(manager).post(f"/api/v1/control-commands/{created.json()['id']}/ack/", {}, format="json")
    assert response.status_code == 400 and "status" in response.json()


# ---------------------------------------------------------------------------------------------
# Staff pages
# ---------------------------------------------------------------------------------------------
def test_the_prepaid_panel_shows_balance_days_left_entries_and_commands(client, collector, accounts):
    client.force_login(collector)
    html = client.get(reverse("billing:prepaid_panel", args=["3200000001"])).content.decode()
    assert "¥400.00" in html and "4.0" in html and "Warned: 7 days left" in html
    assert html.count("Daily charge") == 6 and "Opening balance" in html
    assert "Trip or restore" not in html  # collectors do not command
    hospital = client.get(reverse("billing:prepaid_panel", args=["3200000003"])).content.decode()
    assert "Not tripped automatically" in hospital and "Important user" in hospital
    assert client.get(reverse("billing:prepaid_panel", args=["3200000002"])).status_code == 404
    assert (
        client.get(reverse("billing:prepaid_panel", args=["3100000001"]))
        .content.decode()
        .count("Not a prepaid customer")
    )


def test_the_panel_shows_a_failed_command_with_its_error(client, manager, accounts):
    customer = accounts["mine"]
    usage(customer, 7, 10)
    for n in range(7, 11):
        prepaid_run(day=day(n))
    SimulatedTerminalGateway.fail_next(1)
    control_send_due()
    client.force_login(manager)
    html = client.get(reverse("billing:prepaid_panel", args=["3200000001"])).content.decode()
    assert "Failed, retrying" in html and "simulated terminal unreachable" in html


def test_the_command_list_puts_approvals_first_and_a_manager_approves_with_a_confirmation(
    client, area_leader, manager, collector, accounts
):
    client.force_login(collector)
    assert client.get(reverse("billing:control_commands")).status_code == 403
    client.force_login(area_leader)
    response = client.post(
        reverse("billing:control_command_request", args=["3200000001"]),
        {"action": "trip", "reason": "Safety", "confirm": "on"},
    )
    assert response.status_code == 302
    client.post(
        reverse("billing:control_command_request", args=["3200000003"]),
        {"action": "trip", "reason": "Arrears", "confirm": "on"},
    )
    waiting = ControlCommand.objects.get(customer=accounts["hospital"])
    assert waiting.status == "awaiting_approval"
    html = client.get(reverse("billing:control_commands")).content.decode()
    assert html.index("3200000003") < html.index("3200000001")  # awaiting approval first
    assert "Decide" not in html  # area leaders cannot approve
    assert client.get(reverse("billing:control_command_decide", args=[waiting.pk])).status_code == 403

    client.force_login(manager)
    url = reverse("billing:control_command_decide", args=[waiting.pk])
    assert "important user" in client.get(url).content.decode()
    unconfirmed = client.post(url, {"reason": "Approval 17", "decision": "approve"})
    assert unconfirmed.status_code == 200 and "Confirm the check" in unconfirmed.content.decode()
    waiting.refresh_from_db()
    assert waiting.status == "awaiting_approval"
    client.post(url, {"reason": "Approval 17", "decision": "approve", "confirm": "on"})
    waiting.refresh_from_db()
    assert (waiting.status, waiting.approved_by, waiting.approval_reason) == ("pending", manager, "Approval 17")


def test_a_manager_declines_a_trip_and_resends_one_that_gave_up(client, manager, area_leader, accounts):
    client.force_login(area_leader)
    client.post(
        reverse("billing:control_command_request", args=["3200000003"]),
        {"action": "trip", "reason": "Arrears", "confirm": "on"},
    )
    waiting = ControlCommand.objects.get(customer=accounts["hospital"])
    client.force_login(manager)
    client.post(reverse("billing:control_command_decide", args=[waiting.pk]), {"reason": "No", "decision": "reject"})
    waiting.refresh_from_db()
    assert waiting.status == "cancelled"

    given_up = ControlCommand.objects.create(
        customer=accounts["mine"], action="restore", origin="manual", status="gave_up", reason="r", attempts=5
    )
    html = client.get(reverse("billing:control_commands"), {"status": "gave_up"}, HTTP_HX_REQUEST="true")
    assert "Send again" in html.content.decode()
    client.post(reverse("billing:control_command_retry", args=[given_up.pk]))
    given_up.refresh_from_db()
    assert (given_up.status, given_up.attempts) == ("pending", 0)


def test_the_request_form_refuses_a_trip_without_an_agreement(client, manager, accounts):
    client.force_login(manager)
    response = client.post(
        reverse("billing:control_command_request", args=["3200000002"]),
        {"action": "trip", "reason": "x", "confirm": "on"},
    )
    assert response.status_code == 200 and "remote-control agreement" in response.content.decode()
    assert not ControlCommand.objects.filter(origin="manual").exists()


def test_prepaid_balance_is_on_the_statement_of_no_bill(api_as, system_user, accounts):
    # A top-up is not credit on bills: it is the prepaid balance (no allocation is written).
    api_as(system_user).post(
        f"/api/v1/prepaid-accounts/{account_id(accounts['mine'])}/top-ups/",
        {"amount": "50.00", "channel": "counter"},
        format="json",
    )
    payment = Payment.objects.get(customer=accounts["mine"])
    assert payment.prepaid_entry.amount == D("50.00") and not payment.allocations.exists()
