"""Instalment settlement (分次结算, DESIGN.md rule 6), with the arithmetic written out.

The steelworks below uses the readings of test_services_bills.py: October 2026 (readings
30 Sep → 31 Oct, 31 days) costs 329,208.58 in full. Three instalments split the period into
thirds: due 30 Sep + ⌊31 × k ÷ 3⌋ days = 10, 20 and 31 Oct, each issued 5 days before
(5, 15 and 26 Oct). Statutory penalty 2‰ a day from the day after the due date.
"""

import datetime as dt
from decimal import Decimal as D
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.urls import reverse

from billing.models import Bill, CustomerTariff, Forecast, InstalmentChange, MeterReading, PaymentAllocation
from billing.selectors import bills_with_balances, customer_credit
from billing.services.bills import billing_run_execute, billing_run_start
from billing.services.instalments import (
    InstalmentSlot,
    instalment_issue_due,
    instalment_plan,
    instalment_schedule,
    instalment_terms_change,
    period_containing,
)
from billing.services.payments import payment_record
from billing.services.penalties import penalties_accrue
from billing.services.statements import account_summary, reconcile
from billing.tasks import instalments_issue_task
from tests.factories import CustomerFactory, MeterPointFactory

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
FULL_OCTOBER = D("329208.58")


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def reading(meter, on, total, cp, peak, flat, valley, reactive, demand="10"):
    return MeterReading.objects.create(
        meter=meter,
        read_on=on,
        total_kwh=D(total),
        critical_peak_kwh=D(cp),
        peak_kwh=D(peak),
        flat_kwh=D(flat),
        valley_kwh=D(valley),
        reactive_kvarh=D(reactive),
        max_demand_kw=D(demand),
    )


def forecast(customer, on: str, projected: str) -> Forecast:
    zero = D("0")
    return Forecast.objects.create(
        customer=customer,
        day=on,
        method="test",
        next_day_kwh=zero,
        projected_month_kwh=zero,
        projected_month_charge=D(projected),
        unbilled_charge=zero,
        arrears=zero,
        cover=zero,
        exposure=zero,
    )


def pay(customer, amount: str, on: str, ref: str):
    received = dt.datetime.fromisoformat(on).replace(hour=10, tzinfo=SHANGHAI)
    return payment_record(
        customer=customer, amount=D(amount), channel="bank_transfer", external_ref=ref, received_at=received
    )


def issue(on: str) -> list[Bill]:
    return instalment_issue_due(day=day(on)).created


def dues(bill):
    b = bills_with_balances(Bill.objects.filter(pk=bill.pk)).get()
    return b.principal_due, b.penalty_due


def bill_october():
    run = billing_run_start(period="2026-10", issue_date=day("2026-11-01"))
    billing_run_execute(run_id=run.pk)
    return Bill.objects.get(period="2026-10", kind="monthly")


@pytest.fixture
def steelworks(regions):
    customer = CustomerFactory(
        account_no="4100000001",
        region=regions["a"],
        settlement_mode="instalments",
        instalments_per_month=3,
        prepay_ratio=D("0.900"),
        payment_terms_days=15,
    )
    CustomerTariff.objects.create(customer=customer, tariff_code="LI-10KV", valid_from="2025-01-01")
    meter = MeterPointFactory(customer=customer, meter_no="M-INST-1", multiplier=D("100"))
    # 400000 kWh in October, the hand-computed capacity case of test_calculation.py: 329208.58
    reading(meter, "2026-09-30", "1000", "50", "250", "400", "300", "300")
    reading(meter, "2026-10-31", "5000", "250", "1250", "2000", "1500", "1610", demand="11")
    return customer


# --- dates ---------------------------------------------------------------------------------


def test_the_period_is_split_evenly_and_each_instalment_is_issued_five_days_before_it_is_due(steelworks):
    # October: 30 Sep → 31 Oct is 31 days; ⌊31/3⌋ = 10, ⌊62/3⌋ = 20, 31
    assert instalment_schedule(customer=steelworks, period="2026-10") == [
        InstalmentSlot(1, day("2026-10-05"), day("2026-10-10")),
        InstalmentSlot(2, day("2026-10-15"), day("2026-10-20")),
        InstalmentSlot(3, day("2026-10-26"), day("2026-10-31")),
    ]
    # November, a 30-day month: the 10th, 20th and 30th
    assert [(s.issued_on.day, s.due_on.day) for s in instalment_schedule(customer=steelworks, period="2026-11")] == [
        (5, 10),
        (15, 20),
        (25, 30),
    ]
    # Reading day 25, four instalments: 25 Oct → 25 Nov is 31 days; ⌊31k/4⌋ = 7, 15, 23, 31 days.
    # The first would be issued 27 Oct (1 Nov − 5), after the period's first day, 26 Oct.
    steelworks.reading_day = 25
    assert [(s.issued_on, s.due_on) for s in instalment_schedule(customer=steelworks, period="2026-11", count=4)] == [
        (day("2026-10-27"), day("2026-11-01")),
        (day("2026-11-04"), day("2026-11-09")),
        (day("2026-11-12"), day("2026-11-17")),
        (day("2026-11-20"), day("2026-11-25")),
    ]
    # Ten a month in November (month end): the first is due 3 Nov; 29 Oct is before the period,
    # so it is issued on its first day, 1 Nov.
    steelworks.reading_day = 31
    first = instalment_schedule(customer=steelworks, period="2026-11", count=10)[0]
    assert (first.issued_on, first.due_on) == (day("2026-11-01"), day("2026-11-03"))
    assert period_containing(day("2026-10-31"), 31) == "2026-10"
    assert period_containing(day("2026-10-26"), 25) == "2026-11"


# --- amounts -------------------------------------------------------------------------------


def test_a_plan_of_three_from_the_forecast_re_estimated_before_each_instalment(steelworks):
    forecast(steelworks, "2026-10-03", "300000.00")
    assert issue("2026-10-04") == []  # nothing is issued before its issue date
    (first,) = issue("2026-10-05")
    # 300000.00 × 0.9 = 270000.00 over 3 instalments → 90000.00
    assert (first.number, first.kind, first.total) == ("202610-4100000001-I1", "instalment", D("90000.00"))
    assert (first.issued_on, first.due_on) == (day("2026-10-05"), day("2026-10-10"))
    line = first.lines.get()
    assert (line.kind, line.quantity, line.amount) == ("instalment", None, D("90000.00"))
    assert "forecast 2026-10-03" in line.description

    forecast(steelworks, "2026-10-14", "320000.00")
    (second,) = issue("2026-10-15")
    # re-estimated: (320000.00 × 0.9 − 90000.00) ÷ 2 = (288000 − 90000) ÷ 2 = 99000.00
    assert second.total == D("99000.00")

    forecast(steelworks, "2026-10-25", "310000.00")
    forecast(steelworks, "2026-10-27", "999999.99")  # after the issue date: not used
    (third,) = issue("2026-10-26")
    # (310000.00 × 0.9 − 189000.00) ÷ 1 = 279000 − 189000 = 90000.00; the three add up to
    # the last forecast × ratio: 90000 + 99000 + 90000 = 279000.00
    assert third.total == D("90000.00")
    assert third.due_on == day("2026-10-31")
    assert reconcile() == []


def test_instalments_are_rounded_half_up_to_the_fen_and_add_up_to_the_target(steelworks):
    steelworks.prepay_ratio = D("1.000")
    steelworks.save()
    forecast(steelworks, "2026-10-01", "100000.00")
    totals = [bill.total for on in ("2026-10-05", "2026-10-15", "2026-10-26") for bill in issue(on)]
    # 100000 ÷ 3 = 33333.333… → 33333.33
    # (100000 − 33333.33) ÷ 2 = 33333.335 → 33333.34 (half up)
    # (100000 − 66666.67) ÷ 1 = 33333.33;  sum 100000.00
    assert totals == [D("33333.33"), D("33333.34"), D("33333.33")]
    assert sum(totals) == D("100000.00")


def test_an_uneven_ratio_rounds_each_instalment_and_the_last_one_takes_the_remainder(steelworks):
    steelworks.prepay_ratio = D("0.850")
    steelworks.save()
    forecast(steelworks, "2026-10-01", "329208.58")
    totals = [bill.total for on in ("2026-10-05", "2026-10-15", "2026-10-26") for bill in issue(on)]
    # 329208.58 × 0.85 = 279827.293
    # I1: 279827.293 ÷ 3 = 93275.764333 → 93275.76
    # I2: (279827.293 − 93275.76) ÷ 2 = 186551.533 ÷ 2 = 93275.7665 → 93275.77
    # I3: 279827.293 − 186551.53 = 93275.763 → 93275.76;  sum 279827.29
    assert totals == [D("93275.76"), D("93275.77"), D("93275.76")]


def test_without_a_forecast_the_previous_bill_is_the_estimate_and_without_either_nothing_is_issued(steelworks):
    result = instalment_issue_due(day=day("2026-10-05"))
    assert result.created == []
    assert result.skipped == [{"account_no": "4100000001", "number": "202610-4100000001-I1", "reason": "no_forecast"}]
    # A forecast made before the period projects September, not October: not used either.
    forecast(steelworks, "2026-09-30", "500000.00")
    assert issue("2026-10-05") == []

    assert bill_october().total == FULL_OCTOBER  # no instalments were issued: the month in full
    # Once the month-end bill exists, the period's instalments are not issued any more.
    assert {s["reason"] for s in instalment_issue_due(day=day("2026-10-31")).skipped} == {"already_billed"}
    (november,) = issue("2026-11-05")
    # the previous bill's charge: 329208.58 × 0.9 = 296287.722 ÷ 3 = 98762.574 → 98762.57
    assert november.total == D("98762.57")
    assert "previous_bill 202610-4100000001" in november.lines.get().description
    assert reconcile() == []


def test_running_the_issue_job_twice_creates_nothing_twice(steelworks):
    forecast(steelworks, "2026-10-01", "300000.00")
    out = StringIO()
    call_command("instalment_plans", "--date", "2026-10-05", stdout=out)
    assert "1 instalment(s) issued for 2026-10-05" in out.getvalue()
    out = StringIO()
    call_command("instalment_plans", "--date", "2026-10-05", stdout=out)
    assert "0 instalment(s) issued for 2026-10-05, 0 skipped" in out.getvalue()
    # The task catches up every instalment whose issue date has come, once.
    assert instalments_issue_task("2026-10-20") == 1
    assert instalments_issue_task("2026-10-20") == 0
    assert sorted(Bill.objects.values_list("number", "total")) == [
        ("202610-4100000001-I1", D("90000.00")),
        ("202610-4100000001-I2", D("90000.00")),
    ]


def test_an_instalment_missed_past_its_due_date_is_issued_with_fresh_notice_not_overdue(steelworks):
    forecast(steelworks, "2026-10-01", "300000.00")
    first, second = issue("2026-10-22")  # the job did not run from 5 to 21 October
    # I1 and I2 are both past due (10 and 20 Oct): issued today, due in 5 days, so no
    # penalty is back-dated. Amounts as planned: 270000 ÷ 3 = 90000.00; (270000 − 90000) ÷ 2 = 90000.00
    assert [(b.issued_on, b.due_on, b.total) for b in (first, second)] == [
        (day("2026-10-22"), day("2026-10-27"), D("90000.00")),
        (day("2026-10-22"), day("2026-10-27"), D("90000.00")),
    ]
    # Once the period has ended, a missed instalment is not issued: the month-end bill charges it.
    assert issue("2026-11-01") == []
    assert not Bill.objects.filter(number="202610-4100000001-I3").exists()


# --- penalties and payments ----------------------------------------------------------------


def test_an_unpaid_instalment_accrues_the_penalty_like_a_bill(steelworks):
    forecast(steelworks, "2026-10-01", "300000.00")
    (first,) = issue("2026-10-05")
    penalties_accrue(through=day("2026-10-10"))
    assert dues(first) == (D("90000.00"), D("0.00"))  # nothing on or before the due date
    penalties_accrue(through=day("2026-10-13"))
    # 11–13 Oct: 3 days × 90000.00 × 2‰ = 3 × 180.00 = 540.00
    assert dues(first) == (D("90000.00"), D("540.00"))
    payment = pay(steelworks, "90540.00", "2026-10-14", "INST-PEN-1")
    # 14 Oct accrues before the payment is applied: 540 + 180 = 720.00 penalty first,
    # then 90540 − 720 = 89820.00 of principal → 180.00 still due
    allocation = payment.allocations.get()
    assert (allocation.penalty, allocation.principal) == (D("720.00"), D("89820.00"))
    assert dues(first) == (D("180.00"), D("0.00"))
    assert Bill.objects.get(pk=first.pk).status == "partly_paid"
    assert reconcile() == []


# --- the month-end true-up -----------------------------------------------------------------


def test_the_month_end_bill_deducts_what_the_instalments_billed(steelworks):
    forecast(steelworks, "2026-10-01", "300000.00")
    first, second, third = (bill for on in ("2026-10-05", "2026-10-15", "2026-10-26") for bill in issue(on))
    # 300000 × 0.9 = 270000.00 → 90000.00 each
    pay(steelworks, "90000.00", "2026-10-09", "INST-1")
    pay(steelworks, "50000.00", "2026-10-19", "INST-2")
    assert reconcile() == []

    monthly = bill_october()
    lines = {line.kind: line.amount for line in monthly.lines.all()}
    # The month in full, then the instalments billed: 329208.58 − 270000.00 = 59208.58
    assert sum(amount for kind, amount in lines.items() if kind != "instalment_credit") == FULL_OCTOBER
    assert lines["instalment_credit"] == D("-270000.00")
    assert monthly.total == D("59208.58")
    assert monthly.lines.get(kind="instalment_credit").description == "I1 I2 I3"
    assert sum(line.amount for line in monthly.lines.all()) == monthly.total
    # Still owed: I2 40000.00 + I3 90000.00 + 59208.58 = 189208.58
    #           = the month 329208.58 − collected 140000.00, nothing counted twice
    assert [dues(b)[0] for b in (first, second, third, monthly)] == [
        D("0.00"),
        D("40000.00"),
        D("90000.00"),
        D("59208.58"),
    ]
    assert account_summary(steelworks).principal_due == D("189208.58")
    # A second run changes nothing.
    again = billing_run_execute(run_id=billing_run_start(period="2026-10", issue_date=day("2026-11-02")).pk)
    assert (again.bills_created, again.already_billed) == (0, 1)
    assert Bill.objects.filter(customer=steelworks, period="2026-10").count() == 4
    assert reconcile() == []


def test_an_over_estimate_is_credited_and_the_credit_pays_the_next_instalment(steelworks):
    steelworks.prepay_ratio = D("1.000")
    steelworks.save()
    forecast(steelworks, "2026-10-01", "400000.00")
    bills = [bill for on in ("2026-10-05", "2026-10-15", "2026-10-26") for bill in issue(on)]
    # 400000 ÷ 3 = 133333.33; (400000 − 133333.33) ÷ 2 = 133333.335 → 133333.34; 133333.33
    assert [b.total for b in bills] == [D("133333.33"), D("133333.34"), D("133333.33")]
    for n, (bill, on) in enumerate(zip(bills, ("2026-10-10", "2026-10-20", "2026-10-30"), strict=True)):
        pay(steelworks, str(bill.total), on, f"OVER-{n}")
    third_payment = PaymentAllocation.objects.get(bill=bills[2]).payment

    monthly = bill_october()
    # Billed 400000.00 > the month 329208.58: the credit line is capped at −329208.58, the
    # bill is 0.00 (paid), and the excess 400000.00 − 329208.58 = 70791.42 is given back on
    # the latest instalment: I3 133333.33 − 70791.42 = 62541.91, paid 133333.33, so 70791.42
    # of the third payment is released as credit.
    assert (monthly.total, monthly.lines.get(kind="instalment_credit").amount) == (D("0.00"), -FULL_OCTOBER)
    assert Bill.objects.get(pk=monthly.pk).status == "paid"
    assert [n.amount for n in bills[2].adjustments.all()] == [D("-70791.42")]
    assert not bills[1].adjustments.exists()
    release = PaymentAllocation.objects.get(bill=bills[2], principal__lt=0)
    assert (release.payment, release.principal, release.allocated_on) == (
        third_payment,
        D("-70791.42"),
        day("2026-11-01"),
    )
    assert dues(bills[2]) == (D("0.00"), D("0.00"))
    assert customer_credit(steelworks) == D("70791.42")
    # Collected 400000.00 for a month of 329208.58: the customer is 70791.42 in credit.
    assert account_summary(steelworks).balance == D("-70791.42")
    assert reconcile() == []

    forecast(steelworks, "2026-11-03", "300000.00")
    (november,) = issue("2026-11-05")
    # November I1: 300000 × 1.0 ÷ 3 = 100000.00, of which the credit pays 70791.42 → 29208.58 due
    assert november.total == D("100000.00")
    assert dues(november) == (D("29208.58"), D("0.00"))
    assert customer_credit(steelworks) == D("0.00")
    assert reconcile() == []


def test_a_large_over_estimate_reduces_the_latest_instalments_each_by_at_most_its_amount(steelworks):
    steelworks.prepay_ratio = D("1.000")
    steelworks.save()
    forecast(steelworks, "2026-10-01", "600000.00")
    first, second, third = (bill for on in ("2026-10-05", "2026-10-15", "2026-10-26") for bill in issue(on))
    # 600000 ÷ 3 = 200000.00 each
    pay(steelworks, "200000.00", "2026-10-10", "BIG-1")
    pay(steelworks, "100000.00", "2026-10-20", "BIG-2")
    bill_october()
    # Excess 600000.00 − 329208.58 = 270791.42: I3 by its whole 200000.00 (unpaid, nothing to
    # release), then I2 by 70791.42 → 129208.58, of which 100000.00 is paid: 29208.58 left.
    # Collected 300000.00 for a month of 329208.58: 29208.58 still owed. ✓
    assert [n.amount for n in third.adjustments.all()] == [D("-200000.00")]
    assert [n.amount for n in second.adjustments.all()] == [D("-70791.42")]
    assert not first.adjustments.exists()
    assert [dues(b)[0] for b in (first, second, third)] == [D("0.00"), D("29208.58"), D("0.00")]
    assert Bill.objects.get(pk=third.pk).status == "paid"
    assert not PaymentAllocation.objects.filter(principal__lt=0).exists()
    assert account_summary(steelworks).principal_due == D("29208.58")
    assert reconcile() == []


def test_monthly_customers_are_billed_as_before(steelworks):
    steelworks.settlement_mode = "monthly"
    steelworks.save()
    monthly = bill_october()
    assert monthly.total == FULL_OCTOBER
    assert not monthly.lines.filter(kind="instalment_credit").exists()


# --- terms ---------------------------------------------------------------------------------


def test_a_terms_change_is_recorded_with_who_and_why(steelworks, manager):
    change = instalment_terms_change(
        customer=steelworks,
        prepay_ratio=D("1.100"),
        instalments_per_month=4,
        reason="Grade fell to B: prepay more",
        changed_by=manager,
    )
    assert (change.old_ratio, change.new_ratio, change.old_count, change.new_count) == (
        D("0.900"),
        D("1.100"),
        3,
        4,
    )
    assert (change.changed_by, change.reason) == (manager, "Grade fell to B: prepay more")
    steelworks.refresh_from_db()
    assert (steelworks.prepay_ratio, steelworks.instalments_per_month) == (D("1.100"), 4)
    latest = steelworks.history.first()
    assert (latest.history_user, latest.history_change_reason) == (manager, "Grade fell to B: prepay more")

    # The next instalments use the new terms: four a month, ratio 1.1 → 300000 × 1.1 ÷ 4 = 82500.00
    forecast(steelworks, "2026-11-01", "300000.00")
    assert [b.total for b in issue("2026-11-03")] == [D("82500.00")]  # due 7 Nov, issued 2 Nov


@pytest.mark.parametrize(
    ("ratio", "count", "field"),
    [
        (D("0"), 3, "prepay_ratio"),
        (D("2.5"), 3, "prepay_ratio"),
        (D("0.9555"), 3, "prepay_ratio"),
        (D("0.9"), 2, "instalments_per_month"),
        (D("0.9"), None, "instalments_per_month"),
    ],
)
def test_bad_terms_are_rejected_with_field_errors_and_nothing_is_stored(steelworks, manager, ratio, count, field):
    with pytest.raises(ValidationError) as caught:
        instalment_terms_change(
            customer=steelworks, prepay_ratio=ratio, instalments_per_month=count, reason="try", changed_by=manager
        )
    assert list(caught.value.message_dict) == [field]
    steelworks.refresh_from_db()
    assert (steelworks.prepay_ratio, steelworks.instalments_per_month) == (D("0.900"), 3)
    assert not InstalmentChange.objects.exists()
    assert steelworks.history.count() == 1  # only the creation


def test_a_change_needs_a_reason_and_a_manager_or_area_leader(steelworks, collector, area_leader):
    with pytest.raises(ValidationError) as caught:
        instalment_terms_change(
            customer=steelworks, prepay_ratio=D("1"), instalments_per_month=3, reason=" ", changed_by=area_leader
        )
    assert list(caught.value.message_dict) == ["reason"]
    with pytest.raises(PermissionDenied):
        instalment_terms_change(
            customer=steelworks, prepay_ratio=D("1"), instalments_per_month=3, reason="x", changed_by=collector
        )
    assert not InstalmentChange.objects.exists()
    instalment_terms_change(
        customer=steelworks, prepay_ratio=D("1"), instalments_per_month=3, reason="agreed", changed_by=area_leader
    )
    assert InstalmentChange.objects.get().changed_by == area_leader


# --- API -----------------------------------------------------------------------------------


def test_the_api_changes_the_terms_and_answers_with_the_recorded_change(api_as, area_leader, collector, steelworks):
    steelworks.collector = collector
    steelworks.save()
    url = "/api/v1/customers/4100000001/instalment-terms/"
    body = {"prepay_ratio": "1.200", "instalments_per_month": 5, "reason": "Arrears in September"}
    assert api_as(collector).post(url, body, format="json").status_code == 403
    response = api_as(area_leader).post(url, body, format="json")
    assert response.status_code == 201
    data = response.json()
    assert (data["prepay_ratio"], data["instalments_per_month"]) == ("1.200", 5)
    assert data["change"] == {
        "old_ratio": "0.900",
        "new_ratio": "1.200",
        "old_count": 3,
        "new_count": 5,
        "reason": "Arrears in September",
        "changed_by": "leader_a",
        "changed_at": data["change"]["changed_at"],
    }
    history = api_as(collector).get(url).json()
    assert [c["reason"] for c in history["changes"]] == ["Arrears in September"]


def test_the_api_rejects_bad_terms_with_field_errors(api_as, manager, other_collector, steelworks):
    url = "/api/v1/customers/4100000001/instalment-terms/"
    api = api_as(manager)
    for body, field in (
        ({"prepay_ratio": "0", "instalments_per_month": 3, "reason": "r"}, "prepay_ratio"),
        ({"prepay_ratio": "2.5", "instalments_per_month": 3, "reason": "r"}, "prepay_ratio"),
        ({"prepay_ratio": "0.9", "instalments_per_month": 2, "reason": "r"}, "instalments_per_month"),
        ({"prepay_ratio": "abc", "instalments_per_month": 3, "reason": "r"}, "prepay_ratio"),
        ({"prepay_ratio": "1.0", "instalments_per_month": 3}, "reason"),
    ):
        response = api.post(url, body, format="json")
        assert response.status_code == 400, body
        assert list(response.json()) == [field]
    assert not InstalmentChange.objects.exists()
    assert api_as(other_collector).get(url).status_code == 404


def test_the_api_shows_the_plan_of_a_period(api_as, collector, steelworks):
    steelworks.collector = collector
    steelworks.save()
    forecast(steelworks, "2026-10-01", "300000.00")
    issue("2026-10-05")
    pay(steelworks, "30000.00", "2026-10-08", "PLAN-1")
    data = api_as(collector).get("/api/v1/customers/4100000001/instalment-plan/", {"period": "2026-10"}).json()
    assert (data["target"], data["billed"], data["paid"], data["outstanding"]) == (
        "270000.00",
        "90000.00",
        "30000.00",
        "60000.00",
    )
    assert [(r["index"], r["amount"], r["state"]) for r in data["instalments"]] == [
        (1, "90000.00", "issued"),
        # October has ended without them (the job did not run): the month-end bill charges the rest
        (2, None, "not_issued"),
        (3, None, "not_issued"),
    ]


# --- staff page ----------------------------------------------------------------------------


def test_the_page_shows_the_plan_payments_and_history(client, collector, manager, steelworks):
    steelworks.collector = collector
    steelworks.save()
    forecast(steelworks, "2026-10-01", "300000.00")
    issue("2026-10-05")
    pay(steelworks, "90000.00", "2026-10-09", "PAGE-1")
    instalment_terms_change(
        customer=steelworks, prepay_ratio=D("1.000"), instalments_per_month=3, reason="Paid on time", changed_by=manager
    )
    client.force_login(collector)
    url = reverse("billing:instalments", args=["4100000001"])
    html = client.get(url, {"period": "2026-10"}).content.decode()
    assert "202610-4100000001-I1" in html and "¥90,000.00" in html
    assert "Paid on time" in html and "0.900 → 1.000" in html
    assert "instalment-terms-form" not in html  # collectors do not change terms
    assert client.post(url, {"prepay_ratio": "1", "instalments_per_month": "3", "reason": "x"}).status_code == 403


def test_the_page_changes_the_terms_after_confirmation_and_shows_errors(client, area_leader, steelworks):
    client.force_login(area_leader)
    url = reverse("billing:instalments", args=["4100000001"])
    html = client.get(url).content.decode()
    assert "instalment-terms-form" in html and "return confirm(" in html
    response = client.post(url, {"prepay_ratio": "2.5", "instalments_per_month": "2", "reason": "more"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "The prepayment ratio must be more than 0 and at most 2." in html
    assert "Between 3 and 10 instalments a month." in html
    assert not InstalmentChange.objects.exists()
    response = client.post(url, {"prepay_ratio": "1.05", "instalments_per_month": "4", "reason": "more"})
    assert response.status_code == 302
    assert InstalmentChange.objects.get().new_ratio == D("1.050")


def test_the_page_is_404_outside_the_scope(client, other_collector, steelworks):
    client.force_login(other_collector)
    assert client.get(reverse("billing:instalments", args=["4100000001"])).status_code == 404


def test_the_plan_estimates_the_instalments_not_yet_issued(steelworks):
    forecast(steelworks, "2026-10-01", "300000.00")
    issue("2026-10-05")
    forecast(steelworks, "2026-10-12", "330000.00")
    plan = instalment_plan(customer=steelworks, period="2026-10", as_of=day("2026-10-12"))
    # Issued: 90000.00. Planned on the latest forecast: 330000 × 0.9 = 297000.00;
    # I2 (297000 − 90000) ÷ 2 = 103500.00; I3 (297000 − 193500) ÷ 1 = 103500.00
    assert [(r.index, r.state, r.amount) for r in plan.rows] == [
        (1, "issued", D("90000.00")),
        (2, "planned", D("103500.00")),
        (3, "planned", D("103500.00")),
    ]
    assert (plan.target, plan.billed, plan.outstanding) == (D("297000.00"), D("90000.00"), D("90000.00"))
