"""The agreements pages: payment arrangements (list, schedule with progress, the form with its
split helper), guarantees (list, detail, recording and release) and the dunning notice page
with its delivery and approval trail — what each role sees and may do, and the figures."""

import datetime as dt
import html as html_lib
from decimal import Decimal as D

import pytest
from django.urls import reverse
from django.utils import timezone

from billing.models import Guarantee
from billing.services.payments import payment_record
from collection.models import ArrangementInstalment, DunningLevel, DunningNotice, PaymentArrangement
from collection.selectors_agreements import add_months, arrangement_progress, arrangement_split, arrangements_missed
from collection.services import arrangements_check, dunning_notice_reject, dunning_run
from customers.models import Customer
from customers.selectors import customers_visible_to
from risk.alerts import alerts_raise
from risk.models import RiskAlert
from tests.factories import ContactFactory, make_bill

pytestmark = pytest.mark.django_db

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def today() -> dt.date:
    return timezone.localdate()


def paid_on(customer, amount: str, day: dt.date, ref: str):
    # Today's money is received now: a time later today would be in the future.
    received = None if day == today() else dt.datetime(day.year, day.month, day.day, 10, tzinfo=SHANGHAI)
    return payment_record(
        customer=customer, amount=D(amount), channel="counter", external_ref=ref, received_at=received
    )


def name_of(user) -> str:
    return user.get_full_name() or user.username


def text(response) -> str:
    """The page as a reader sees it (entities such as &#x27; unescaped)."""
    return html_lib.unescape(response.content.decode())


@pytest.fixture
def signed(portfolio, area_leader):
    """An arrangement signed 40 days ago for ¥10,000.00 in four instalments of ¥2,500.00 —
    40 days ago, 10 days ago, today and in 20 days — with ¥2,500.00 paid on the first day and
    ¥1,000.00 five days ago. (Made through the ORM: a signature always happens today.)"""
    customer, start = portfolio["a1"], today() - dt.timedelta(days=40)
    arrangement = PaymentArrangement.objects.create(
        customer=customer, total=D("10000.00"), made_on=start, created_by=area_leader
    )
    for offset in (-40, -10, 0, 20):
        ArrangementInstalment.objects.create(
            arrangement=arrangement, due_on=today() + dt.timedelta(days=offset), amount=D("2500.00")
        )
    paid_on(customer, "2500.00", start, "ARR-P1")
    paid_on(customer, "1000.00", today() - dt.timedelta(days=5), "ARR-P2")
    return arrangement


@pytest.fixture
def owes_ten_thousand(portfolio):
    """Collector A's customer owes exactly ¥10,000.00 today (a bill due today: no penalty yet)."""
    make_bill(portfolio["a1"], "10000.00", today(), number="AGR-1")
    return portfolio["a1"]


# ---------------------------------------------------------------------------------------------
# Progress and missed instalments
# ---------------------------------------------------------------------------------------------
def test_progress_gives_each_instalment_its_cumulative_figures_and_state(signed):
    progress = arrangement_progress(signed, today())
    rows = [(r.number, r.amount, r.cumulative_due, r.cumulative_paid, r.state) for r in progress.rows]
    assert rows == [
        (1, D("2500.00"), D("2500.00"), D("2500.00"), "paid"),  # paid on its day
        (2, D("2500.00"), D("5000.00"), D("2500.00"), "missed"),  # 10 days ago only 2,500 of 5,000 paid
        (3, D("2500.00"), D("7500.00"), D("3500.00"), "due"),  # today; 3,500 paid so far
        (4, D("2500.00"), D("10000.00"), D("3500.00"), "upcoming"),
    ]
    assert (progress.paid, progress.remaining, progress.behind) == (D("3500.00"), D("6500.00"), D("1500.00"))
    assert progress.missed and progress.next_instalment.number == 3


def test_missed_arrangements_are_the_ones_the_check_breaks_and_are_scoped(
    signed, collector, other_collector, area_leader
):
    assert list(arrangements_missed(customers_visible_to(collector), today())) == [signed]
    missed = arrangements_missed(customers_visible_to(area_leader), today()).get()
    assert (missed.due_so_far, missed.paid_so_far) == (D("5000.00"), D("3500.00"))
    assert not arrangements_missed(customers_visible_to(other_collector), today()).exists()
    # Eleven days ago only the first instalment (2,500.00) was due and it was paid: nothing missed.
    assert not arrangements_missed(Customer.objects.all(), today() - dt.timedelta(days=11)).exists()
    assert arrangements_check(day=today()) == (0, 1)  # the check breaks exactly that one
    assert not arrangements_missed(Customer.objects.all(), today()).exists()  # broken is no longer active


def test_an_instalment_caught_up_after_its_date_reads_paid_late(signed):
    paid_on(signed.customer, "1500.00", today(), "ARR-P3")  # 5,000.00 now paid: the second is covered
    rows = arrangement_progress(signed, today()).rows
    second = rows[1]
    assert (second.state, second.cumulative_paid, second.paid_late) == ("paid", D("2500.00"), True)
    assert rows[2].state == "due"  # 5,000.00 paid of 7,500.00 due today
    assert not arrangements_missed(Customer.objects.all(), today()).exists()


def test_the_split_helper_adds_up_to_the_fen_and_keeps_month_ends():
    schedule = arrangement_split(D("10000.00"), 3, dt.date(2027, 1, 31))
    assert schedule == [
        (dt.date(2027, 1, 31), D("3333.33")),
        (dt.date(2027, 2, 28), D("3333.33")),
        (dt.date(2027, 3, 31), D("3333.34")),
    ]
    assert [amount for _day, amount in arrangement_split(D("100.00"), 7, dt.date(2027, 1, 1))] == [
        D("14.28"), D("14.28"), D("14.28"), D("14.28"), D("14.28"), D("14.28"), D("14.32"),
    ]  # fmt: skip
    assert add_months(dt.date(2028, 1, 31), 1) == dt.date(2028, 2, 29)  # leap year
    with pytest.raises(ValueError):
        arrangement_split(D("0.02"), 3, dt.date(2027, 1, 1))


# ---------------------------------------------------------------------------------------------
# Arrangement pages
# ---------------------------------------------------------------------------------------------
def test_the_arrangement_list_is_scoped_filtered_and_sorted(client, signed, portfolio, collector, other_collector):
    other = PaymentArrangement.objects.create(
        customer=portfolio["a2"], total=D("800.00"), made_on=today(), status="completed"
    )
    ArrangementInstalment.objects.create(arrangement=other, due_on=today(), amount=D("800.00"))
    theirs = PaymentArrangement.objects.create(customer=portfolio["b1"], total=D("50.00"), made_on=today())
    ArrangementInstalment.objects.create(arrangement=theirs, due_on=today(), amount=D("50.00"))

    url = reverse("collection:arrangement_list")
    client.force_login(collector)
    html = client.get(url).content.decode()
    assert "Steel A1" in html and "Hospital A2" in html and "Chem B1" not in html
    assert "Instalment missed" in html and "¥3,500.00" in html  # paid since signing
    missed = client.get(url, {"missed": "true"}, HTTP_HX_REQUEST="true").content.decode()
    assert "Steel A1" in missed and "Hospital A2" not in missed and "<html" not in missed
    completed = client.get(url, {"status": "completed"}).content.decode()
    assert "Hospital A2" in completed and "Steel A1" not in completed
    assert "Hospital A2" in client.get(url, {"q": "hosp"}).content.decode()
    by_total = client.get(url, {"sort": "total"}).content.decode()
    assert by_total.index("Hospital A2") < by_total.index("Steel A1")
    assert "No arrangements match these filters." in client.get(url, {"q": "nobody"}).content.decode()

    client.force_login(other_collector)
    assert client.get(reverse("collection:arrangement_detail", args=[signed.pk])).status_code == 404
    html = client.get(url).content.decode()
    assert "Chem B1" in html and "Steel A1" not in html


def test_the_arrangement_page_shows_the_schedule_progress_signer_and_audit_trail(
    client, signed, collector, area_leader
):
    client.force_login(collector)
    response = client.get(reverse("collection:arrangement_detail", args=[signed.pk]))
    assert response.status_code == 200
    html = text(response)
    assert "¥3,500.00" in html and "¥6,500.00" in html and "¥1,500.00 behind the schedule" in html
    assert "¥7,500.00" in html and "Missed" in html and "Due today" in html and "Upcoming" in html
    assert name_of(area_leader) in html
    assert 'id="history"' in html and "Created" in html


def test_a_leader_splits_what_is_owed_into_monthly_instalments_and_signs(client, owes_ten_thousand, area_leader):
    customer = owes_ten_thousand
    panel = reverse("collection:agreements_panel", args=[customer.account_no])
    client.force_login(area_leader)
    html = client.get(panel, {"split": "3", "first": today().isoformat()}, HTTP_HX_REQUEST="true").content.decode()
    assert "¥10,000.00" in html
    assert html.count('value="3333.33"') == 2 and html.count('value="3333.34"') == 1
    assert f'value="{add_months(today(), 2).isoformat()}"' in html

    rows = {"rows": "3"}
    for index, (day, amount) in enumerate(arrangement_split(D("10000.00"), 3, today())):
        rows[f"due_on_{index}"], rows[f"amount_{index}"] = day.isoformat(), str(amount)
    response = client.post(reverse("collection:arrangement_add", args=[customer.account_no]), rows)
    assert response.status_code == 302
    arrangement = PaymentArrangement.objects.get(customer=customer)
    assert (arrangement.total, arrangement.created_by, arrangement.status) == (D("10000.00"), area_leader, "active")
    assert [i.amount for i in arrangement.instalments.all()] == [D("3333.33"), D("3333.33"), D("3333.34")]
    html = client.get(panel, HTTP_HX_REQUEST="true").content.decode()
    assert "Active" in html and "¥3,333.33" in html  # the next instalment, due today
    assert "Sign a payment arrangement" not in html  # one active arrangement at a time


def test_a_schedule_that_misses_the_amount_owed_is_refused_naming_the_field(client, owes_ten_thousand, area_leader):
    url = reverse("collection:arrangement_add", args=[owes_ten_thousand.account_no])
    client.force_login(area_leader)
    short = {"rows": "2", "due_on_0": today().isoformat(), "amount_0": "4500.00",
             "due_on_1": add_months(today(), 1).isoformat(), "amount_1": "4500.00"}  # fmt: skip
    response = client.post(url, short)
    assert response.status_code == 400
    assert "Instalments: The schedule adds up to ¥9,000.00 but the customer owes ¥10,000.00." in (
        response.content.decode()
    )
    half = {"rows": "2", "due_on_0": today().isoformat(), "amount_0": "10000.00", "due_on_1": today().isoformat()}
    html = client.post(url, half, HTTP_HX_REQUEST="true").content.decode()
    assert "Instalment 2: amount: Enter the amount of this instalment." in html
    past = {"rows": "1", "due_on_0": (today() - dt.timedelta(days=1)).isoformat(), "amount_0": "10000.00"}
    html = client.post(url, past, HTTP_HX_REQUEST="true").content.decode()
    assert "Instalments: Instalment dates run from today onwards" in html
    bad = {"rows": "1", "due_on_0": "31.02.2027", "amount_0": "ten"}
    html = client.post(url, bad).content.decode()
    assert "Instalment 1: date: Enter a valid date." in html and "Instalment 1: amount: Enter a number." in html
    assert not PaymentArrangement.objects.exists()


def test_collectors_read_agreements_but_do_not_sign_and_scope_is_404(
    client, owes_ten_thousand, collector, area_leader, portfolio
):
    customer = owes_ten_thousand
    Guarantee.objects.create(customer=customer, kind="deposit", amount=D("20000.00"), valid_from=today())
    client.force_login(collector)
    html = client.get(reverse("collection:agreements_panel", args=[customer.account_no])).content.decode()
    assert "Deposit" in html and "¥20,000.00" in html
    assert "Sign a payment arrangement" not in html and 'id="guarantee-form"' not in html
    body = {"rows": "1", "due_on_0": today().isoformat(), "amount_0": "10000.00"}
    assert client.post(reverse("collection:arrangement_add", args=[customer.account_no]), body).status_code == 403
    assert client.get(reverse("collection:agreements_panel", args=["3100000003"])).status_code == 404
    client.force_login(area_leader)  # leads area A only
    assert client.get(reverse("collection:agreements_panel", args=["3100000003"])).status_code == 404
    assert client.post(reverse("collection:arrangement_add", args=["3100000003"]), body).status_code == 404
    assert not PaymentArrangement.objects.exists()


def test_the_customer_page_loads_the_agreements_panel_and_the_menu_lists_the_pages(
    client, owes_ten_thousand, collector
):
    client.force_login(collector)
    html = client.get(reverse("customers:detail", args=[owes_ten_thousand.account_no])).content.decode()
    assert reverse("collection:agreements_panel", args=[owes_ten_thousand.account_no]) in html
    assert reverse("collection:arrangement_list") in html and reverse("collection:guarantee_list") in html


# ---------------------------------------------------------------------------------------------
# Guarantees
# ---------------------------------------------------------------------------------------------
def _guarantee_body(**changes):
    body = {"kind": "bank_guarantee", "amount": "500000.00", "valid_from": "2026-01-01", "valid_to": "2026-12-31",
            "issuer": "工商银行江州分行", "document_ref": "BG-2026-001"}  # fmt: skip
    body.update(changes)
    return body


def test_a_leader_records_a_guarantee_on_the_panel_and_bad_dates_are_refused(client, portfolio, area_leader, manager):
    url = reverse("collection:guarantee_add", args=["3100000001"])
    client.force_login(area_leader)
    backwards = client.post(url, _guarantee_body(valid_to="2025-12-31"))
    assert backwards.status_code == 400
    assert "The end date is before the start date (2026-01-01)." in backwards.content.decode()
    zero = client.post(url, _guarantee_body(amount="0"), HTTP_HX_REQUEST="true")
    assert zero.status_code == 200 and "Ensure this value is greater than or equal to 0.01." in zero.content.decode()
    assert not Guarantee.objects.exists()

    html = client.post(url, _guarantee_body(), HTTP_HX_REQUEST="true").content.decode()
    assert "Guarantee recorded." in html and "工商银行江州分行" in html and "¥500,000.00" in html
    guarantee = Guarantee.objects.get()
    assert guarantee.history.get().history_user == area_leader
    client.force_login(manager)
    assert client.post(reverse("collection:guarantee_add", args=["3100000003"]), _guarantee_body()).status_code == 302


@pytest.fixture
def guarantees(portfolio):
    """A bank guarantee ending in 10 days and a released deposit (collector A's customers);
    a letter of credit of collector B's customer ending in 100 days."""
    return {
        "ending": Guarantee.objects.create(
            customer=portfolio["a1"], kind="bank_guarantee", amount=D("300000.00"),
            valid_from=today() - dt.timedelta(days=355), valid_to=today() + dt.timedelta(days=10),
            issuer="建设银行", document_ref="BG-9",
        ),
        "released": Guarantee.objects.create(
            customer=portfolio["a2"], kind="deposit", amount=D("50000.00"), valid_from=today() - dt.timedelta(days=90),
            released_on=today() - dt.timedelta(days=1),
        ),
        "theirs": Guarantee.objects.create(
            customer=portfolio["b1"], kind="letter_of_credit", amount=D("80000.00"), valid_from=today(),
            valid_to=today() + dt.timedelta(days=100),
        ),
    }  # fmt: skip


def test_the_guarantee_list_filters_by_kind_state_expiry_area_and_search(
    client, guarantees, collector, manager, regions
):
    url = reverse("collection:guarantee_list")
    client.force_login(collector)
    html = client.get(url).content.decode()
    assert "Steel A1" in html and "Hospital A2" in html and "Chem B1" not in html
    assert "Ends in 10 days" in html and "Released" in html
    assert "Hospital A2" not in client.get(url, {"kind": "bank_guarantee"}).content.decode()
    expiring = client.get(url, {"expiring_within": "30"}, HTTP_HX_REQUEST="true").content.decode()
    assert "Steel A1" in expiring and "Hospital A2" not in expiring
    released = client.get(url, {"state": "released"}).content.decode()
    assert "Hospital A2" in released and "Steel A1" not in released
    active = client.get(url, {"state": "active"}).content.decode()
    assert "Steel A1" in active and "Hospital A2" not in active
    assert "Steel A1" in client.get(url, {"q": "建设"}).content.decode()
    assert "No guarantees match these filters." in client.get(url, {"q": "nobody"}).content.decode()
    assert client.get(reverse("collection:guarantee_detail", args=[guarantees["theirs"].pk])).status_code == 404

    client.force_login(manager)
    area_b = client.get(url, {"region": regions["district_b"].pk}).content.decode()
    assert "Chem B1" in area_b and "Steel A1" not in area_b
    within_120 = client.get(url, {"expiring_within": "120"}).content.decode()
    assert "Chem B1" in within_120 and "Steel A1" in within_120


def test_a_leader_releases_a_guarantee_once_with_a_confirmation_and_it_is_audited(
    client, guarantees, area_leader, collector
):
    guarantee = guarantees["ending"]
    detail = reverse("collection:guarantee_detail", args=[guarantee.pk])
    release = reverse("collection:guarantee_release", args=[guarantee.pk])
    body = {"released_on": today().isoformat(), "reason": "Arrears paid in full", "confirm": "on"}

    client.force_login(collector)
    assert 'id="release-form"' not in client.get(detail).content.decode()
    assert client.post(release, body).status_code == 403

    client.force_login(area_leader)
    assert 'id="release-form"' in client.get(detail).content.decode()
    unconfirmed = client.post(release, {**body, "confirm": ""})
    assert unconfirmed.status_code == 400 and "Confirm the release." in unconfirmed.content.decode()
    future = client.post(release, {**body, "released_on": (today() + dt.timedelta(days=1)).isoformat()})
    assert "A release cannot be dated in the future." in future.content.decode()
    early = client.post(release, {**body, "released_on": (today() - dt.timedelta(days=400)).isoformat()})
    assert "A release cannot be dated before the guarantee starts" in early.content.decode()
    guarantee.refresh_from_db()
    assert guarantee.released_on is None

    assert client.post(release, body).status_code == 302
    guarantee.refresh_from_db()
    assert guarantee.released_on == today()
    html = text(client.get(detail))
    assert "Arrears paid in full" in html and name_of(area_leader) in html and 'id="release-form"' not in html
    again = client.post(release, body)
    assert again.status_code == 400 and "already released" in again.content.decode()


def test_a_leader_cancels_an_arrangement_with_a_reason_and_dunning_resumes(client, signed, area_leader, collector):
    detail = reverse("collection:arrangement_detail", args=[signed.pk])
    cancel = reverse("collection:arrangement_cancel", args=[signed.pk])
    body = {"reason": "Re-signed on new terms", "confirm": "on"}

    client.force_login(collector)
    assert 'id="cancel-form"' not in client.get(detail).content.decode()
    assert client.post(cancel, body).status_code == 403

    client.force_login(area_leader)
    assert 'id="cancel-form"' in client.get(detail).content.decode()
    unconfirmed = client.post(cancel, {**body, "confirm": ""})
    assert unconfirmed.status_code == 400 and "Confirm the cancellation." in unconfirmed.content.decode()
    blank = client.post(cancel, {**body, "reason": "  "})
    assert blank.status_code == 400 and "This field is required." in blank.content.decode()
    signed.refresh_from_db()
    assert signed.status == "active"

    assert client.post(cancel, body).status_code == 302
    signed.refresh_from_db()
    assert (signed.status, signed.resolved_on) == ("cancelled", today())
    html = text(client.get(detail))
    assert "Re-signed on new terms" in html and name_of(area_leader) in html and 'id="cancel-form"' not in html
    again = client.post(cancel, body)
    assert again.status_code == 400 and "Only an active arrangement can be cancelled" in text(again)
    # No longer holding dunning back: the customer's overdue bill gets its reminder.
    make_bill(signed.customer, "800.00", today() - dt.timedelta(days=3), number="AGR-CANCEL-1")
    dunning_run(day=today())
    assert DunningNotice.objects.filter(customer=signed.customer).exists()
    # Cancelled is neither kept nor broken. Behind its schedule (5,000 due by 10 days ago, 3,500
    # paid) an active one would now be broken by the daily check and raise an alert; this one is not.
    assert arrangements_check(day=today()) == (0, 0)
    signed.refresh_from_db()
    assert signed.status == "cancelled"
    alerts_raise(day=today())
    assert not RiskAlert.objects.filter(customer=signed.customer, kind="broken_arrangement").exists()


def test_the_api_cancels_for_leaders_only_and_names_what_is_wrong(api_as, signed, area_leader, collector):
    url = f"/api/v1/arrangements/{signed.pk}/cancel/"
    assert api_as(collector).post(url, {"reason": "x"}, format="json").status_code == 403
    leader = api_as(area_leader)
    missing = leader.post(url, {}, format="json")
    assert missing.status_code == 400 and "reason" in missing.json()
    response = leader.post(url, {"reason": "Paid by the guarantor"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    again = leader.post(url, {"reason": "Paid by the guarantor"}, format="json")
    assert again.status_code == 400 and "status" in again.json()
    assert signed.history.first().history_change_reason == "Paid by the guarantor"


# ---------------------------------------------------------------------------------------------
# Dunning notice page
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def reminded(portfolio):
    customer = portfolio["a1"]
    ContactFactory(customer=customer, name="财务 张", mobile="13900000001", preferred_channel="sms")
    make_bill(customer, "10000.00", "2026-03-01", number="DUN-1")
    dunning_run(day=dt.date(2026, 3, 2))
    return DunningNotice.objects.get(customer=customer)


def test_the_notice_page_shows_a_message_queued_for_retry(client, reminded, collector, other_collector):
    message = reminded.notifications.get()
    retry_at = timezone.now() + dt.timedelta(minutes=4)
    message.status, message.attempts, message.last_error, message.next_attempt_at = (
        "queued", 2, "SMS gateway timeout", retry_at
    )  # fmt: skip
    message.save()
    client.force_login(collector)
    response = client.get(reverse("collection:notice_detail", args=[reminded.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Payment reminder" in html and "DUN-1" in html and "¥10,000.00" in html
    assert "Failed, retrying" in html and "SMS gateway timeout" in html and "13900000001" in html
    assert timezone.localtime(retry_at).strftime("%Y-%m-%d %H:%M") in html
    assert "Sent without approval: this level needs none." in html and 'id="history"' in html
    panel = client.get(reverse("collection:customer_panel", args=[reminded.customer.account_no])).content.decode()
    assert reverse("collection:notice_detail", args=[reminded.pk]) in panel
    client.force_login(other_collector)
    assert client.get(reverse("collection:notice_detail", args=[reminded.pk])).status_code == 404


def test_the_notice_page_shows_who_declined_a_proposal_and_when(client, reminded, area_leader):
    suspension = DunningNotice.objects.create(
        customer=reminded.customer, level=DunningLevel.objects.get(policy__code="default", code="suspension"),
        episode_bill=reminded.episode_bill, status="proposed", proposed_on=dt.date(2026, 4, 1), overdue_days=31,
        amount_due=D("10620.00"), bills=reminded.bills, text="停电通知",
    )  # fmt: skip
    client.force_login(area_leader)
    url = reverse("collection:notice_detail", args=[suspension.pk])
    assert "Waiting for a leader's decision." in text(client.get(url))
    assert url in client.get(reverse("collection:notice_review")).content.decode()
    dunning_notice_reject(notice=suspension, rejected_by=area_leader)
    suspension.refresh_from_db()
    html = text(client.get(url))
    when = timezone.localtime(suspension.decided_at).strftime("%Y-%m-%d %H:%M")
    assert f"Declined by {name_of(area_leader)} on {when}." in html
    assert "No messages: the notice has not been sent." in html
