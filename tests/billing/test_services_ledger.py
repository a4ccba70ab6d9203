"""Penalties, payments, allocation, credit and reversal, with the arithmetic written out.

Statutory rates (the seeded PenaltyRule): 2‰ a day on current-year arrears, 3‰ on arrears
carried across a year end, minimum ¥1 per bill.
"""

import datetime as dt
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from billing.models import Bill, Payment, PenaltyAccrual
from billing.selectors import bills_with_balances, customer_credit
from billing.services.payments import DuplicatePayment, credit_apply, payment_record, payment_reverse
from billing.services.penalties import penalties_accrue, penalty_waive
from billing.services.statements import reconcile, statement_entries
from tests.factories import CustomerFactory, make_bill

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day: str, hour: int = 10) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=SHANGHAI)


def dues(bill):
    b = bills_with_balances(Bill.objects.filter(pk=bill.pk)).get()
    return b.principal_due, b.penalty_due


def pay(customer, amount, day, ref="", channel="bank_transfer"):
    return payment_record(customer=customer, amount=D(amount), channel=channel, external_ref=ref, received_at=at(day))


@pytest.fixture
def customer():
    return CustomerFactory(account_no="3900000001")


def test_a_penalty_crossing_a_year_end_with_a_partial_payment_in_between(customer):
    bill = make_bill(customer, "10000.00", "2025-12-20")
    penalties_accrue(through=dt.date(2025, 12, 31))
    # 21–31 Dec: 11 days × 10000 × 2‰ = 11 × 20.00 = 220.00
    assert dues(bill) == (D("10000.00"), D("220.00"))

    payment = pay(customer, "5000.00", "2026-01-05", ref="B-1")
    # Before allocating, the penalty through the day of payment accrues: 1–5 Jan carried across
    # the year end at 3‰: 5 × 10000 × 3‰ = 5 × 30.00 = 150.00 → penalty 370.00.
    # Penalty first: 370.00; principal: 5000 − 370 = 4630.00 → 10000 − 4630 = 5370.00 left.
    allocation = payment.allocations.get()
    assert (allocation.penalty, allocation.principal) == (D("370.00"), D("4630.00"))
    assert dues(bill) == (D("5370.00"), D("0.00"))

    penalties_accrue(through=dt.date(2026, 1, 10))
    # 6–10 Jan on the lower principal: 5 × 5370 × 3‰ = 5 × 16.11 = 80.55
    assert dues(bill) == (D("5370.00"), D("80.55"))
    jan6 = PenaltyAccrual.objects.get(bill=bill, accrued_on="2026-01-06")
    assert (jan6.principal, jan6.rate, jan6.cross_year) == (D("5370.00"), D("0.00300"), True)
    dec31 = PenaltyAccrual.objects.get(bill=bill, accrued_on="2025-12-31")
    assert (dec31.rate, dec31.cross_year) == (D("0.00200"), False)
    assert bill.penalties.count() == 21  # 11 + 5 + 5 days, one row each


def test_accrual_is_idempotent_and_catches_up_missed_days(customer):
    bill = make_bill(customer, "1000.00", "2026-03-01")
    penalties_accrue(through=dt.date(2026, 3, 5))
    assert penalties_accrue(through=dt.date(2026, 3, 5)) == 0  # a second run adds nothing
    penalties_accrue(through=dt.date(2026, 3, 10))  # catches up 6–10 March
    # 2–10 March: 9 days × 1000 × 2‰ = 9 × 2.00 = 18.00
    assert dues(bill) == (D("1000.00"), D("18.00"))


def test_a_penalty_under_one_yuan_is_one_yuan(customer):
    bill = make_bill(customer, "100.00", "2026-03-01")
    penalties_accrue(through=dt.date(2026, 3, 4))
    # 3 days × 100 × 2‰ = 3 × 0.20 = 0.60 < 1 → 1.00; the rows add up to it (1.00, 0.00, 0.00)
    assert dues(bill) == (D("100.00"), D("1.00"))
    assert [a.amount for a in bill.penalties.order_by("accrued_on")] == [D("1.00"), D("0.00"), D("0.00")]
    penalties_accrue(through=dt.date(2026, 3, 11))
    # 10 days × 0.20 = 2.00 > 1: the real figure takes over
    assert dues(bill) == (D("100.00"), D("2.00"))


def test_a_contract_rate_overrides_the_statutory_rate():
    customer = CustomerFactory(penalty_rate_override=D("0.0010"))
    bill = make_bill(customer, "5000.00", "2026-03-01")
    penalties_accrue(through=dt.date(2026, 3, 3))
    # 2 days × 5000 × 1‰ = 2 × 5.00 = 10.00
    assert dues(bill) == (D("5000.00"), D("10.00"))


def test_no_penalty_on_or_before_the_due_date(customer):
    bill = make_bill(customer, "5000.00", "2026-03-01")
    penalties_accrue(through=dt.date(2026, 3, 1))
    assert dues(bill) == (D("5000.00"), D("0.00"))


def test_allocation_across_three_bills_oldest_first_penalty_before_principal(customer):
    b1 = make_bill(customer, "1000.00", "2026-01-10")
    b2 = make_bill(customer, "2000.00", "2026-02-10")
    b3 = make_bill(customer, "3000.00", "2026-03-10")
    payment = pay(customer, "3500.00", "2026-03-12")
    # Penalties through 12 March at 2‰:
    #   B1: 11 Jan–12 Mar = 21 + 28 + 12 = 61 days × 2.00 = 122.00
    #   B2: 11 Feb–12 Mar = 18 + 12 = 30 days × 4.00 = 120.00
    #   B3: 11–12 Mar = 2 days × 6.00 = 12.00
    # 3500 → B1 penalty 122 (3378 left), B1 principal 1000 (2378), B2 penalty 120 (2258),
    #        B2 principal 2000 (258), B3 penalty 12 (246), B3 principal 246 (0).
    rows = {a.bill_id: (a.penalty, a.principal) for a in payment.allocations.all()}
    assert rows == {
        b1.pk: (D("122.00"), D("1000.00")),
        b2.pk: (D("120.00"), D("2000.00")),
        b3.pk: (D("12.00"), D("246.00")),
    }
    assert dues(b3) == (D("2754.00"), D("0.00"))  # 3000 − 246
    statuses = dict(Bill.objects.values_list("pk", "status"))
    assert statuses == {b1.pk: "paid", b2.pk: "paid", b3.pk: "partly_paid"}


def test_an_overpayment_is_credit_used_by_the_next_bill(customer):
    first = make_bill(customer, "1000.00", "2026-12-20", issued_on=dt.date(2026, 11, 1))
    pay(customer, "1500.00", "2026-11-10", ref="OVER-1")
    # 1500 − 1000 = 500 of credit
    assert dues(first) == (D("0.00"), D("0.00"))
    assert customer_credit(customer) == D("500.00")
    second = make_bill(customer, "800.00", "2027-01-20", issued_on=dt.date(2026, 11, 20))
    credit_apply(customer=customer, on_day=dt.date(2026, 11, 20))
    # 800 − 500 credit = 300 still to pay
    assert dues(second) == (D("300.00"), D("0.00"))
    assert customer_credit(customer) == D("0.00")
    assert Bill.objects.get(pk=second.pk).status == "partly_paid"


def test_a_reversal_reopens_what_the_payment_paid(customer):
    bill = make_bill(customer, "1000.00", "2026-12-20", issued_on=dt.date(2026, 11, 1))
    payment = pay(customer, "1000.00", "2026-11-10", ref="RET-1")
    assert Bill.objects.get(pk=bill.pk).status == "paid"
    payment_reverse(payment=payment, reason="R01 insufficient funds", reversed_on=dt.date(2026, 11, 12))
    assert dues(bill) == (D("1000.00"), D("0.00"))
    assert Bill.objects.get(pk=bill.pk).status == "issued"
    assert Payment.objects.get(pk=payment.pk).status == "reversed"
    with pytest.raises(ValidationError):
        payment_reverse(payment=payment, reason="again")
    # The statement shows payment and reversal, and still balances: 1000 − 1000 + 1000 = 1000
    assert [e.amount for e in statement_entries(customer)] == [D("1000.00"), D("-1000.00"), D("1000.00")]
    assert statement_entries(customer)[-1].balance == D("1000.00")
    assert reconcile() == []


def test_the_same_bank_reference_twice_is_refused(customer):
    pay(customer, "100.00", "2026-11-10", ref="TX-9")
    with pytest.raises(DuplicatePayment):
        pay(customer, "100.00", "2026-11-10", ref="TX-9")
    assert Payment.objects.count() == 1
    pay(customer, "100.00", "2026-11-10", ref="TX-9", channel="counter")  # another channel's numbering


@pytest.mark.parametrize(
    ("amount", "field"), [("0", "amount"), ("-5", "amount"), ("1.234", "amount"), ("1e20", "amount")]
)
def test_bad_amounts_are_refused_and_nothing_is_stored(customer, amount, field):
    with pytest.raises(ValidationError) as info:
        pay(customer, amount, "2026-11-10")
    assert field in info.value.message_dict
    assert not Payment.objects.exists()


def test_a_payment_for_a_closed_account_or_unknown_channel_is_refused(customer):
    with pytest.raises(ValidationError) as info:
        pay(customer, "10.00", "2026-11-10", channel="cheque")
    assert "channel" in info.value.message_dict
    customer.operating_status = "closed"
    customer.save()
    with pytest.raises(ValidationError) as info:
        pay(customer, "10.00", "2026-11-10")
    assert "customer" in info.value.message_dict


def test_a_back_dated_payment_corrects_penalty_days_already_accrued(customer):
    bill = make_bill(customer, "1000.00", "2026-03-01")
    penalties_accrue(through=dt.date(2026, 3, 10))  # 9 days × 2.00 = 18.00
    pay(customer, "500.00", "2026-03-05", ref="LATE-FILE")
    # Through 5 March: 4 days × 2.00 = 8.00 penalty paid first; principal 492.00 → 508.00 left.
    # 6–10 March were accrued on 1000 (5 × 2.00 = 10.00) but should be on 508 (5 × 1.016 = 5.08):
    # a correction of −4.92 leaves 18.00 − 4.92 − 8.00 paid = 5.08 due.
    assert dues(bill) == (D("508.00"), D("5.08"))
    assert reconcile() == []


def test_only_a_manager_may_waive_a_penalty(customer, collector, manager):
    bill = make_bill(customer, "1000.00", "2026-03-01")
    penalties_accrue(through=dt.date(2026, 3, 11))  # 10 × 2.00 = 20.00
    with pytest.raises(PermissionDenied):
        penalty_waive(bill=bill, amount=D("5.00"), reason="goodwill", approved_by=collector)
    with pytest.raises(ValidationError):
        penalty_waive(bill=bill, amount=D("25.00"), reason="too much", approved_by=manager)
    penalty_waive(bill=bill, amount=D("5.00"), reason="bank outage on due date", approved_by=manager)
    assert dues(bill) == (D("1000.00"), D("15.00"))
    assert reconcile() == []


def test_two_back_dated_payments_correct_what_the_first_left(customer):
    bill = make_bill(customer, "10000.00", "2026-01-31")
    penalties_accrue(through=dt.date(2026, 2, 10))  # 1–10 Feb: 10 × 20.00 = 200.00
    pay(customer, "5060.00", "2026-02-03", ref="BD-1")
    # Through 3 Feb: 3 × 20 = 60 penalty, 5000 principal → 5000 left; 4–10 Feb re-accrue at
    # 5000 × 2‰ = 10.00 a day: 140 → 70, total accrued 130.00, 70.00 due.
    assert dues(bill) == (D("5000.00"), D("70.00"))
    pay(customer, "5000.00", "2026-02-05", ref="BD-2")
    # Through 5 Feb: 60 + 2 × 10 = 80 accrued, 60 paid → 20 penalty, 4980 principal → 20 left.
    # 6–10 Feb re-accrue at 20 × 2‰ = 0.04 a day: 5 × (0.04 − 10.00) = −49.80 → accrued 80.20, paid 80 → 0.20.
    assert dues(bill) == (D("20.00"), D("0.20"))
    assert reconcile() == []


def test_a_back_dated_payment_before_a_penalty_payment_returns_the_excess_as_credit(customer):
    bill = make_bill(customer, "10000.00", "2026-01-31")
    penalties_accrue(through=dt.date(2026, 2, 10))  # 200.00
    pay(customer, "200.00", "2026-02-10", ref="PEN-1")  # pays the 200.00 of penalty
    pay(customer, "10000.00", "2026-02-02", ref="LATE-1")
    # Paid on 2 Feb: only 2 days (40.00) of penalty were ever owed; the 160.00 paid for 3–10 Feb
    # goes back to the customer as credit.
    assert dues(bill) == (D("0.00"), D("0.00"))
    assert customer_credit(customer) == D("160.00")
    assert reconcile() == []


def test_a_reversal_reopens_the_penalty_days_too(customer):
    bill = make_bill(customer, "10000.00", "2026-01-31")
    penalties_accrue(through=dt.date(2026, 2, 10))
    payment = pay(customer, "10000.00", "2026-02-02", ref="BOUNCE-1")
    # 40.00 penalty and 9960.00 principal paid; 3–10 Feb re-accrue on 40.00: 8 × 0.08 = 0.64 due.
    assert dues(bill) == (D("40.00"), D("0.64"))
    payment_reverse(payment=payment, reason="R01", reversed_on=dt.date(2026, 2, 12))
    # The money never arrived: 1–10 Feb accrue on 10000 again (200.00), nothing is paid.
    assert dues(bill) == (D("10000.00"), D("200.00"))
    penalties_accrue(through=dt.date(2026, 2, 12))  # + 2 × 20.00
    assert dues(bill) == (D("10000.00"), D("240.00"))
    with pytest.raises(ValidationError):
        payment_reverse(
            payment=pay(customer, "1.00", "2026-02-12", ref="X"), reason="x", reversed_on=dt.date(2026, 2, 1)
        )
    assert reconcile() == []


def test_a_credit_note_on_a_paid_bill_returns_the_excess_as_credit(customer, manager):
    from billing.services.bills import bill_adjust

    bill = make_bill(customer, "1000.00", "2099-01-01", issued_on=dt.date(2026, 11, 1))
    pay(customer, "1000.00", "2026-11-10", ref="CN-1")
    bill_adjust(bill=bill, amount=D("-200.00"), reason="tariff corrected", created_by=manager)
    # 1000 − 200 = 800 owed, 1000 paid: 200 comes back as credit.
    assert dues(bill) == (D("0.00"), D("0.00"))
    assert customer_credit(customer) == D("200.00")
    assert reconcile() == []
