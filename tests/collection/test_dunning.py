"""The dunning ladder: reminder, demand, suspension notice after approval — once per arrears."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from billing.services.payments import payment_record
from collection.models import CollectionCase, DunningLevel, DunningNotice, DunningPolicy
from collection.services import dunning_notice_approve, dunning_run
from customers.models import Notification
from tests.factories import ContactFactory, make_bill

pytestmark = pytest.mark.django_db


@pytest.fixture
def debtor(portfolio):
    customer = portfolio["a1"]
    ContactFactory(customer=customer, name="财务 张", mobile="13900000001", preferred_channel="sms")
    ContactFactory(customer=customer, name="Nobody", mobile="13900000002", receives_dunning=False)
    make_bill(customer, "10000.00", "2026-03-01", number="DUN-1")
    return customer


def levels(customer):
    return list(DunningNotice.objects.filter(customer=customer).order_by("id").values_list("level__code", "status"))


def test_the_ladder_from_reminder_to_suspension_notice(debtor, collector, area_leader):
    dunning_run(day=dt.date(2026, 3, 1))  # due today: not overdue
    assert levels(debtor) == []
    dunning_run(day=dt.date(2026, 3, 2))
    assert levels(debtor) == [("reminder", "sent")]
    # One message per contact who receives notices: the SMS carries the short text with the
    # amount and the penalty accrued so far (none: the penalty job has not run here); the
    # notice's full text lists the bills and the payment channels.
    messages = Notification.objects.filter(kind="dunning_reminder")
    assert [m.recipient for m in messages] == ["13900000001"]
    assert "¥10,000.00" in messages[0].body and "penalty so far ¥0.00" in messages[0].body
    assert "2026-0" not in messages[0].body
    notice = DunningNotice.objects.get(customer=debtor)
    assert "2026-0" in notice.text and "online banking" in notice.text and "{" not in notice.text
    dunning_run(day=dt.date(2026, 3, 2))  # the same day again: nothing twice
    dunning_run(day=dt.date(2026, 3, 5))  # not yet 10 days
    assert levels(debtor) == [("reminder", "sent")]
    dunning_run(day=dt.date(2026, 3, 11))
    assert levels(debtor) == [("reminder", "sent"), ("demand", "sent")]
    assert CollectionCase.objects.get(customer=debtor).status == "open"  # beyond the first level
    dunning_run(day=dt.date(2026, 4, 1))  # 31 days overdue, a demand served
    assert levels(debtor)[-1] == ("suspension", "proposed")  # waits for a leader
    notice = DunningNotice.objects.get(level__code="suspension")
    with pytest.raises(PermissionDenied):
        dunning_notice_approve(notice=notice, approved_by=collector)
    dunning_notice_approve(notice=notice, approved_by=area_leader)
    assert levels(debtor)[-1] == ("suspension", "sent")
    assert Notification.objects.filter(kind="dunning_suspension").count() == 1
    dunning_run(day=dt.date(2026, 4, 2))
    assert len(levels(debtor)) == 3  # the ladder ends; nothing repeats


def test_a_payment_cancels_a_pending_notice_and_closes_the_case(debtor, area_leader):
    for day in (dt.date(2026, 3, 2), dt.date(2026, 3, 11), dt.date(2026, 4, 1)):
        dunning_run(day=day)
    notice = DunningNotice.objects.get(level__code="suspension")
    # 10000 + 31 days (2–31 March and 1 April) × 20.00 penalty = 10620.00, paid on 1 April
    paid_at = dt.datetime(2026, 4, 1, 10, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    payment_record(
        customer=debtor, amount=D("10620.00"), channel="bank_transfer", external_ref="ALL", received_at=paid_at
    )
    result = dunning_run(day=dt.date(2026, 4, 2))
    assert result.cancelled == 1 and result.cases_closed == 1
    notice.refresh_from_db()
    assert notice.status == "cancelled"
    with pytest.raises(ValidationError):
        dunning_notice_approve(notice=notice, approved_by=area_leader)


def test_one_notice_covers_all_overdue_bills(debtor):
    make_bill(debtor, "5000.00", "2026-03-05", number="DUN-2")
    dunning_run(day=dt.date(2026, 3, 6))
    notice = DunningNotice.objects.get()
    assert [b["number"] for b in notice.bills] == ["DUN-1", "DUN-2"]
    # 10000 + 5000 principal + penalty through the day (none accrued by the job yet)
    assert notice.amount_due == D("15000.00")


def test_leaders_review_proposed_notices_in_the_browser_pages(client, debtor, collector, area_leader):
    for day in (dt.date(2026, 3, 2), dt.date(2026, 3, 11), dt.date(2026, 4, 1)):
        dunning_run(day=day)
    notice = DunningNotice.objects.get(level__code="suspension")
    client.force_login(collector)
    assert client.get("/collection/notices/review/").status_code == 403
    client.force_login(area_leader)
    assert "Notice of supply suspension" in client.get("/collection/notices/review/").content.decode()
    client.post(f"/collection/notices/{notice.pk}/decide/", {"decision": "reject"})
    notice.refresh_from_db()
    assert notice.status == "rejected"
    assert "No notices wait for a decision." in client.get("/collection/notices/review/").content.decode()
    dunning_run(day=dt.date(2026, 4, 2))  # a declined level is not proposed again for these arrears
    assert DunningNotice.objects.filter(level__code="suspension").count() == 1


def test_a_collector_logs_a_call_and_a_promise_from_the_customer_page(client, debtor, collector, other_collector):
    from django.utils import timezone

    client.force_login(collector)
    panel = client.get(f"/collection/customers/{debtor.account_no}/panel/").content.decode()
    assert 'id="activity-form"' in panel and 'id="promise-form"' in panel
    client.post(f"/collection/customers/{debtor.account_no}/activities/", {"kind": "call", "outcome": "promised",
                                                                           "note": "月底前付一半"})  # fmt: skip
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    client.post(f"/collection/customers/{debtor.account_no}/promises/", {"promised_on": tomorrow, "amount": "5000"})
    panel = client.get(f"/collection/customers/{debtor.account_no}/panel/").content.decode()
    assert "月底前付一半" in panel and "¥5,000.00" in panel
    client.post(f"/collection/customers/{debtor.account_no}/promises/", {"promised_on": "2020-01-01", "amount": "1"})
    assert debtor.payment_promises.count() == 1  # a promise in the past is refused
    client.force_login(other_collector)
    assert client.get(f"/collection/customers/{debtor.account_no}/panel/").status_code == 404
    assert client.post(f"/collection/customers/{debtor.account_no}/activities/", {"kind": "call"}).status_code == 404


def test_a_segment_policy_takes_its_customers_and_the_rest_keep_the_default(debtor, portfolio):
    """A policy for grade C customers with a short ladder: a C customer is sent its demand on
    day 2; another overdue customer (no grade) gets the default reminder."""
    strict = DunningPolicy.objects.create(code="grade-c", name="C", priority=10, credit_grades="B, c")
    DunningLevel.objects.create(
        policy=strict, step=1, code="demand", days_overdue=1, subject_en="Demand", subject_zh="催费",
        template_en="{name} owes {amount}", template_zh="{name}欠费{amount}",
    )  # fmt: skip
    debtor.credit_grade = "C"
    debtor.save()
    other = portfolio["a2"]
    ContactFactory(customer=other, name="Finance", mobile="13900000003", preferred_channel="sms")
    make_bill(other, "500.00", "2026-03-01", number="DUN-2")
    dunning_run(day=dt.date(2026, 3, 2))
    assert levels(debtor) == [("demand", "sent")]
    assert levels(other) == [("reminder", "sent")]
    # An inactive policy no longer applies: the customer falls back to the default ladder,
    # whose first level it has not had yet.
    strict.active = False
    strict.save()
    dunning_run(day=dt.date(2026, 3, 3))
    assert levels(debtor) == [("demand", "sent"), ("reminder", "sent")]


def test_notice_texts_with_unknown_placeholders_are_refused():
    level = DunningLevel.objects.get(policy__code="default", step=1)
    level.short_en = "Pay {amont} now"
    with pytest.raises(ValidationError) as error:
        level.full_clean()
    assert "short_en" in error.value.message_dict and "amont" in str(error.value.message_dict["short_en"])
    level.short_en = "Pay {amount} now, penalty {penalty}"
    level.full_clean()
