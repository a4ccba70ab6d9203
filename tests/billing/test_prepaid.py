"""Remote prepaid control (远程费控, DESIGN.md rule 5): daily deduction, warnings at 7 and 3 days
left, trip or escalation at zero, top-ups and the automatic restore. Figures are worked by hand
in the comments."""

import datetime as dt
from decimal import Decimal as D
from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.test import override_settings

from billing.gateways import SimulatedTerminalGateway
from billing.models import ControlCommand, DailyUsage, PrepaidAccount, PrepaidEntry
from billing.services.control import control_send_due
from billing.services.payments import payment_record
from billing.services.prepaid import (
    account_figures,
    prepaid_account_open,
    prepaid_adjust,
    prepaid_run,
    prepaid_top_up_reverse,
)
from customers.models import Notification
from customers.notifications import LocmemBackend
from tests.factories import ContactFactory, CustomerFactory, MeterPointFactory

pytestmark = pytest.mark.django_db

LOCMEM = {
    "sms": "customers.notifications.LocmemBackend",
    "wechat": "customers.notifications.LocmemBackend",
    "email": "customers.notifications.LocmemBackend",
}
MARCH = dt.date(2026, 3, 1)


@pytest.fixture(autouse=True)
def _simulated_parts():
    SimulatedTerminalGateway.reset()
    LocmemBackend.reset()
    with override_settings(CONTROL_GATEWAY="billing.gateways.SimulatedTerminalGateway", NOTIFICATION_BACKENDS=LOCMEM):
        yield
    SimulatedTerminalGateway.reset()
    LocmemBackend.reset()


def day(n: int) -> dt.date:
    """Day n of March 2026 (1-based)."""
    return MARCH + dt.timedelta(days=n - 1)


def usage(customer, first: int, last: int, charge: str = "100.00") -> None:
    """DailyUsage rows for days first..last of March with the same charge each day."""
    DailyUsage.objects.bulk_create(
        DailyUsage(
            customer=customer,
            day=day(n),
            period="2026-03",
            kwh=D("150.000"),
            energy_charge=D(charge) - D("10.00"),
            basic_charge=D("6.00"),
            funds_charge=D("4.00"),
            charge=D(charge),
            mtd_kwh=D("150.000") * n,
            mtd_charge=D(charge) * n,
        )
        for n in range(first, last + 1)
    )


def prepaid_customer(
    region, *, mode="prepaid_remote", importance="normal", agreement=True, balance="1000.00", switch=True, **extra
):
    customer = CustomerFactory(
        region=region,
        settlement_mode=mode,
        importance=importance,
        remote_control_agreement=agreement,
        **extra,
    )
    MeterPointFactory(customer=customer, meter_type="remote", remote_switch=switch)
    ContactFactory(customer=customer, name="Finance", preferred_channel="sms")
    ContactFactory(customer=customer, name="Director", preferred_channel="email", email="director@example.com")
    ContactFactory(customer=customer, name="Electrician", receives_dunning=False)
    prepaid_account_open(customer=customer, opened_on=MARCH, opening_balance=D(balance))
    return customer


def state(customer) -> str:
    return PrepaidAccount.objects.get(customer=customer).state


def balance(customer) -> D:
    account = PrepaidAccount.objects.get(customer=customer)
    return account_figures([account])[account.pk].balance


def kinds(customer) -> list[str]:
    return list(Notification.objects.filter(customer=customer, contact__isnull=False).values_list("kind", flat=True))


def test_a_remote_account_warns_at_7_and_3_days_and_trips_at_zero_then_a_top_up_restores(regions):
    customer = prepaid_customer(regions["a"])
    usage(customer, 1, 10)
    states = []
    for n in range(1, 11):
        prepaid_run(day=day(n))
        states.append(state(customer))
    # ¥1,000.00 opening, ¥100.00 a day, average ¥100.00: after day n the balance is 1000 − 100n and
    # the days left are 10 − n. Day 3: 7 days → 7-day warning; day 7: 3 days → 3-day warning;
    # day 10: ¥0.00 → exhausted.
    assert states == ["normal", "normal"] + ["warned_7"] * 4 + ["warned_3"] * 3 + ["exhausted"]
    assert balance(customer) == D("0.00")
    # Two contacts receive notices (SMS and e-mail; the electrician does not): two of each, once.
    assert sorted(kinds(customer)) == ["prepaid_exhausted"] * 2 + ["prepaid_warn3"] * 2 + ["prepaid_warn7"] * 2
    warning = Notification.objects.get(customer=customer, kind="prepaid_warn7", channel="sms")
    assert "¥700.00" in warning.body and "about 7.0 days" in warning.body and "¥100.00 a day" in warning.body
    assert Notification.objects.get(customer=customer, kind="prepaid_warn7", channel="email").recipient == (
        "director@example.com"
    )
    trip = ControlCommand.objects.get(customer=customer)
    assert (trip.action, trip.origin, trip.status) == ("trip", "prepaid", "pending")
    assert "¥0.00" in trip.reason

    control_send_due()
    trip.refresh_from_db()
    assert trip.status == "acknowledged" and trip.gateway_ref == f"SIM-{trip.pk}"
    meter_no = customer.meter_points.get().meter_no
    assert SimulatedTerminalGateway.switch_state == {meter_no: "open"}

    # A ¥250.00 top-up: balance ¥250.00 over ¥100.00 a day = 2.5 days → state back to warned_3
    # (not normal: it is still under 3 days), and a restore because the trip reached the terminal.
    payment = payment_record(customer=customer, amount=D("250.00"), channel="bank_transfer", external_ref="TOP-1")
    assert payment.prepaid_entry.amount == D("250.00") and not payment.allocations.exists()
    assert (balance(customer), state(customer)) == (D("250.00"), "warned_3")
    restore = ControlCommand.objects.get(customer=customer, action="restore")
    assert (restore.status, restore.origin) == ("pending", "prepaid")
    control_send_due()
    restore.refresh_from_db()
    assert restore.status == "acknowledged"
    assert SimulatedTerminalGateway.switch_state == {meter_no: "closed"}

    # ¥1,000.00 more: ¥1,250.00 = 12.5 days → normal; no second restore (nothing is tripped).
    payment_record(customer=customer, amount=D("1000.00"), channel="mobile", external_ref="TOP-2")
    assert state(customer) == "normal"
    assert ControlCommand.objects.filter(customer=customer).count() == 2


def test_a_customer_falling_past_both_thresholds_in_one_day_gets_the_3_day_warning_only(regions):
    customer = prepaid_customer(regions["a"], balance="400.00")
    usage(customer, 1, 1, charge="150.00")
    prepaid_run(day=day(1))
    # ¥400.00 − ¥150.00 = ¥250.00 over ¥150.00 a day = 1.7 days: straight to the 3-day level.
    assert state(customer) == "warned_3"
    assert sorted(kinds(customer)) == ["prepaid_warn3", "prepaid_warn3"]


def test_running_the_job_twice_for_a_date_changes_nothing(regions):
    customer = prepaid_customer(regions["a"], balance="700.00")
    usage(customer, 1, 7)
    out = StringIO()
    call_command("prepaid_run", "--date", "2026-03-01", stdout=out, stderr=StringIO())
    # ¥700.00 − ¥100.00 = ¥600.00: 6 days → warned at 7
    assert "1 daily charge(s) written" in out.getvalue() and "warned at 7 days 1" in out.getvalue()
    snapshot = (
        list(PrepaidEntry.objects.values_list("id", "amount")),
        list(Notification.objects.values_list("id", "dedupe_key")),
        list(ControlCommand.objects.values_list("id", "status")),
        state(customer),
    )
    out = StringIO()
    call_command("prepaid_run", "--date", "2026-03-01", stdout=out, stderr=StringIO())
    assert "0 daily charge(s) written" in out.getvalue() and "warned at 7 days 0" in out.getvalue()
    assert snapshot == (
        list(PrepaidEntry.objects.values_list("id", "amount")),
        list(Notification.objects.values_list("id", "dedupe_key")),
        list(ControlCommand.objects.values_list("id", "status")),
        state(customer),
    )
    # Run to exhaustion (day 7: 700 − 700 = 0), then again: one trip, never two.
    for n in range(2, 8):
        prepaid_run(day=day(n))
    again = prepaid_run(day=day(7))
    assert (again.deducted, again.trips, again.notifications) == (0, 0, 0)
    assert ControlCommand.objects.filter(customer=customer, action="trip").count() == 1


def test_late_statistics_are_deducted_by_the_next_run_and_missing_ones_reported(regions):
    customer = prepaid_customer(regions["a"])
    other = prepaid_customer(regions["a"])
    usage(customer, 2, 3)  # day 1's statistics are late
    usage(other, 1, 2)  # day 3's statistics are missing
    result = prepaid_run(day=day(3))
    # customer: days 2 and 3 (2 earlier than day 3 counts as catch-up); other: days 1 and 2.
    assert (result.deducted, result.caught_up) == (4, 3)
    assert result.missing_usage == [other.account_no]
    usage(customer, 1, 1)
    assert prepaid_run(day=day(3)).deducted == 1  # day 1 arrived; nothing else is written again
    assert balance(customer) == D("700.00")  # 1000 − 3 × 100


def test_an_important_user_at_zero_is_not_tripped_but_escalated_to_leaders_and_managers(regions, area_leader, manager):
    district_leader = area_leader.__class__.objects.create(username="district_a_head", email="head@example.com")
    regions["district_a"].leader = district_leader
    regions["district_a"].save()
    area_leader.email, manager.email = "leader@example.com", "manager@example.com"
    area_leader.save()
    manager.save()
    hospital = prepaid_customer(regions["a"], importance="class_1", balance="100.00")
    usage(hospital, 1, 1)
    result = prepaid_run(day=day(1))
    # ¥100.00 − ¥100.00 = ¥0.00: exhausted, but an important user is never tripped automatically.
    assert (result.exhausted, result.trips, result.escalations) == (1, 0, 1)
    command = ControlCommand.objects.get(customer=hospital)
    assert (command.action, command.status, command.origin) == ("trip", "escalated", "prepaid")
    assert "Important user" in command.reason
    staff = Notification.objects.filter(customer=hospital, kind="control_escalation")
    assert sorted(staff.values_list("recipient", flat=True)) == [
        "head@example.com",
        "leader@example.com",
        "manager@example.com",
    ]
    assert all(n.channel == "email" and n.staff_id for n in staff)
    assert "¥0.00" in staff.first().body
    # The sender never touches an escalated command.
    control_send_due()
    assert SimulatedTerminalGateway.received == []
    assert not ControlCommand.objects.filter(customer=hospital, status__in=["pending", "sent", "acknowledged"]).exists()
    # The customer is told; the contact message does not promise a remote trip.
    assert sorted(kinds(hospital)) == ["prepaid_exhausted"] * 2
    assert "switched off remotely" not in Notification.objects.filter(kind="prepaid_exhausted").first().body


def test_a_customer_without_an_agreement_is_escalated(regions, manager):
    manager.email = "manager@example.com"
    manager.save()
    customer = prepaid_customer(regions["b"], agreement=False, balance="50.00")
    usage(customer, 1, 1)
    prepaid_run(day=day(1))  # 50 − 100 = −¥50.00
    command = ControlCommand.objects.get(customer=customer)
    assert command.status == "escalated" and "remote-control agreement" in command.reason
    assert list(Notification.objects.filter(kind="control_escalation").values_list("recipient", "staff__username")) == [
        ("manager@example.com", "manager")
    ]
    assert balance(customer) == D("-50.00")


def test_a_customer_without_a_remote_switch_is_escalated(regions):
    customer = prepaid_customer(regions["a"], switch=False, balance="10.00")
    usage(customer, 1, 1)
    prepaid_run(day=day(1))
    assert ControlCommand.objects.get(customer=customer).status == "escalated"


def test_a_card_customer_is_warned_the_same_way_and_never_commanded(regions):
    customer = prepaid_customer(regions["a"], mode="prepaid_card", agreement=False, balance="500.00")
    usage(customer, 1, 5)
    for n in range(1, 6):
        prepaid_run(day=day(n))
    # 500 − 100n: day 1 → 4 days (warned at 7), day 2 → 3 days (warned at 3), day 5 → ¥0.00
    assert state(customer) == "exhausted"
    assert sorted(kinds(customer)) == ["prepaid_exhausted"] * 2 + ["prepaid_warn3"] * 2 + ["prepaid_warn7"] * 2
    assert not ControlCommand.objects.filter(customer=customer).exists()
    # A card purchase is a top-up through the prepaid-card channel.
    payment_record(customer=customer, amount=D("800.00"), channel="prepaid_card", external_ref="CARD-0001")
    assert (balance(customer), state(customer)) == (D("800.00"), "normal")  # 8 days
    assert not ControlCommand.objects.filter(customer=customer).exists()


def test_a_customer_without_history_is_not_warned_but_still_exhausted_at_zero(regions):
    customer = prepaid_customer(regions["a"], balance="0.00")
    result = prepaid_run(day=day(1))
    assert result.missing_usage == [customer.account_no]
    # No statistics → no average → no days-left warning; the balance ¥0.00 is still zero.
    assert state(customer) == "exhausted"
    assert ControlCommand.objects.get(customer=customer).status == "pending"


def test_a_top_up_before_the_trip_was_sent_cancels_it_and_needs_no_restore(regions):
    customer = prepaid_customer(regions["a"], balance="100.00")
    usage(customer, 1, 1)
    prepaid_run(day=day(1))
    trip = ControlCommand.objects.get(customer=customer)
    assert trip.status == "pending"
    payment_record(customer=customer, amount=D("2000.00"), channel="counter")
    trip.refresh_from_db()
    assert trip.status == "cancelled"
    assert not ControlCommand.objects.filter(action="restore").exists()
    control_send_due()
    assert SimulatedTerminalGateway.received == []  # the terminal never heard of it


def test_a_top_up_that_leaves_the_balance_at_or_below_zero_restores_nothing(regions):
    customer = prepaid_customer(regions["a"], balance="100.00")
    usage(customer, 1, 2)
    prepaid_run(day=day(1))
    control_send_due()
    prepaid_run(day=day(2))  # −¥100.00
    payment_record(customer=customer, amount=D("100.00"), channel="counter")  # back to ¥0.00
    assert state(customer) == "exhausted"
    assert not ControlCommand.objects.filter(action="restore").exists()
    payment_record(customer=customer, amount=D("0.01"), channel="counter")  # ¥0.01 > 0
    assert ControlCommand.objects.filter(action="restore").count() == 1


def test_a_closed_account_and_a_non_prepaid_customer_are_not_deducted(regions):
    closed = prepaid_customer(regions["a"], operating_status="closed")
    monthly = CustomerFactory(region=regions["a"])
    usage(closed, 1, 1)
    usage(monthly, 1, 1)
    result = prepaid_run(day=day(1))
    assert (result.accounts, result.deducted) == (0, 0)


def test_a_prepaid_customer_without_an_account_is_reported(regions):
    customer = CustomerFactory(region=regions["a"], settlement_mode="prepaid_remote")
    assert prepaid_run(day=day(1)).without_account == [customer.account_no]


def test_a_returned_top_up_is_taken_off_again_and_adjustments_need_a_manager(regions, manager, area_leader):
    customer = prepaid_customer(regions["a"], balance="100.00")
    payment = payment_record(customer=customer, amount=D("300.00"), channel="bank_transfer", external_ref="R-1")
    assert balance(customer) == D("400.00")
    prepaid_top_up_reverse(payment=payment)
    assert balance(customer) == D("100.00")  # 100 + 300 − 300
    account = PrepaidAccount.objects.get(customer=customer)
    with pytest.raises(PermissionDenied):
        prepaid_adjust(account=account, amount=D("10.00"), reason="goodwill", adjusted_by=area_leader)
    with pytest.raises(ValidationError):
        prepaid_adjust(account=account, amount=D("10.005"), reason="goodwill", adjusted_by=manager)
    prepaid_adjust(account=account, amount=D("-25.50"), reason="meter fault correction", adjusted_by=manager)
    assert balance(customer) == D("74.50")


def test_a_recomputed_day_is_corrected_on_the_prepaid_balance(db):
    import datetime as _dt
    from decimal import Decimal as _D

    from billing.models import DailyUsage as _Usage
    from billing.models import PrepaidEntry as _Entry
    from billing.services.prepaid import balances, prepaid_account_open, prepaid_run
    from tests.factories import CustomerFactory as _Customer

    customer = _Customer(settlement_mode="prepaid_card")
    account = prepaid_account_open(customer=customer, opened_on=_dt.date(2026, 10, 1), opening_balance=_D("10000.00"))
    zero = _D("0")
    usage = _Usage.objects.create(
        customer=customer, day="2026-10-10", period="2026-10", kwh=_D("5000"), energy_charge=_D("3200.00"),
        basic_charge=zero, funds_charge=zero, charge=_D("3200.00"), mtd_kwh=_D("5000"), mtd_charge=_D("3200.00"),
        estimated=True,
    )  # fmt: skip
    prepaid_run(day=_dt.date(2026, 10, 10))
    assert balances([account.pk])[account.pk] == _D("6800.00")  # 10000 − the estimated 3200
    _Usage.objects.filter(pk=usage.pk).update(charge=_D("800.00"), estimated=False)  # the late reading
    prepaid_run(day=_dt.date(2026, 10, 11))
    # The day really cost 800: an adjustment of +2400 puts the balance at 10000 − 800 = 9200.
    assert balances([account.pk])[account.pk] == _D("9200.00")
    prepaid_run(day=_dt.date(2026, 10, 11))
    assert _Entry.objects.filter(account=account, kind="adjustment").count() == 2  # opening + one correction
