"""The default scorecard on hand-computed customers: each expected score is added up in the
test from the bands of the published default card, version 2 (risk/migrations/0002 and 0003)."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone, translation

from billing.models import Bill, DailyUsage, Guarantee, Payment, PaymentAllocation
from collection.models import PaymentArrangement, PromiseToPay
from customers.models import ServiceVisit
from risk.alerts import alerts_raise
from risk.models import CreditScore, Criterion, PolicyProposal, RiskAlert, Scorecard, ScoringRun
from risk.scoring import grade_for, points_for, scorecard_check
from risk.services import published_scorecard, score_in_memory, score_run, scorecard_draft_from, scorecard_publish
from tests.factories import CustomerFactory, make_bill

pytestmark = pytest.mark.django_db
AS_OF = dt.date(2026, 11, 20)


def paid(bill: Bill, amount: str, on: dt.date) -> None:
    """A payment received and allocated to the bill's principal on the given day."""
    received = timezone.make_aware(dt.datetime.combine(on, dt.time(10)))
    payment = Payment.objects.create(customer=bill.customer, amount=D(amount), channel="bank_transfer",
                                     received_at=received, external_ref=f"P-{bill.pk}-{on}")  # fmt: skip
    PaymentAllocation.objects.create(payment=payment, bill=bill, principal=D(amount), allocated_on=on)


def monthly_bills(customer, kwh: list[int], *, first_due=dt.date(2025, 12, 15), total="10000.00") -> list[Bill]:
    """One 10,000.00 bill a month due on the 15th, from 2025-12-15 (periods 2025-11 …)."""
    bills = []
    for index, energy in enumerate(kwh):
        month = first_due.month - 1 + index
        due = dt.date(first_due.year + month // 12, month % 12 + 1, 15)
        bill = make_bill(customer, total, due, number=f"S-{customer.account_no}-{index}")
        Bill.objects.filter(pk=bill.pk).update(total_kwh=energy)
        bills.append(bill)
    return bills


def breakdown(result) -> dict[str, str]:
    return {row["key"]: row["points"] for row in result.breakdown}


@pytest.fixture
def card():
    return published_scorecard()


def test_a_prompt_payer_with_a_guarantee_scores_100_and_is_aaa(card):
    customer = CustomerFactory(industry="manufacturing", equipment_condition="good")
    for bill in monthly_bills(customer, [50_000] * 12):
        paid(bill, "10000.00", bill.due_on - dt.timedelta(days=2))
    Guarantee.objects.create(customer=customer, kind="bank_guarantee", amount=D("20000.00"),
                             valid_from=dt.date(2026, 1, 1), valid_to=dt.date(2027, 6, 30))  # fmt: skip
    result = score_in_memory([customer], AS_OF, card)[customer.pk]
    # 12 of 12 on time → 20; worst delay 0 days → 10; no arrears → 10; no broken commitments
    # → 10; operating normally → 10; consumption 150,000 kWh in the last three periods against
    # 150,000 in the three before (no year-ago data yet): 0 % → 10; manufacturing is not
    # energy-intensive → 10; good equipment, lines in order → 10; cover 20,000 ÷ average bill
    # 10,000 = 2 months, linear 0…1 month capped → 10.  Total 100 → AAA.
    assert breakdown(result) == {"on_time": "20.0", "worst_delay": "10.0", "arrears": "10.0", "commitments": "10.0",
                                 "operating": "10.0", "consumption": "10.0", "policy": "10.0", "equipment": "10.0",
                                 "cover": "10.0"}  # fmt: skip
    assert (result.score, result.grade, result.override) == (D("100.0"), "AAA", "")
    reasons = {row["key"]: (row["reason_en"], row["reason_zh"]) for row in result.breakdown}
    assert reasons["on_time"] == ("paid 12 of the last 12 bills on time", "最近12期电费按时缴纳12期")
    assert reasons["cover"][0] == "¥20,000.00 held, 2.0 months of an average bill"


def test_a_sliding_customer_with_falling_consumption_is_c(card, collector):
    customer = CustomerFactory(industry="steel", operating_status="reduced", equipment_condition="fair",
                               line_ageing=True)  # fmt: skip
    bills = monthly_bills(customer, [50_000] * 9 + [30_000] * 3)
    for bill in bills[:8]:
        paid(bill, "10000.00", bill.due_on)
    paid(bills[8], "10000.00", dt.date(2026, 9, 4))  # due 2026-08-15, 20 days late
    paid(bills[9], "5000.00", dt.date(2026, 10, 20))  # due 2026-09-15, half paid
    PromiseToPay.objects.create(customer=customer, promised_on=dt.date(2026, 10, 24), amount=D("15000.00"),
                                made_on=dt.date(2026, 10, 10), status="broken",
                                resolved_on=dt.date(2026, 10, 25))  # fmt: skip
    result = score_in_memory([customer], AS_OF, card)[customer.pk]
    # On time 8 of 12 = 0.667 → band 0.5–0.7 → 5.  Worst delay: the 2026-09-15 bill is still
    # half open on 2026-11-20, 66 days → 60–90 → 2.  Arrears 5,000 + 10,000 + 10,000 = 25,000 ÷
    # average 10,000 = 2.5 → ≥ 1 → 0.  One broken promise → 5.  Reduced production (0.5) → 5.
    # Consumption 90,000 kWh in 2026-08…10 against 150,000 in 2026-05…07: −40 % → −50…−30 % → 3.
    # Steel is energy-intensive → 4.  Fair equipment 0.6 − 0.3 for ageing lines = 0.3 → 3.  No
    # cover → 0.  Total 5+2+0+5+5+3+4+3+0 = 27 → C by the score (no override: 66 days < 90).
    assert breakdown(result) == {"on_time": "5.0", "worst_delay": "2.0", "arrears": "0.0", "commitments": "5.0",
                                 "operating": "5.0", "consumption": "3.0", "policy": "4.0", "equipment": "3.0",
                                 "cover": "0.0"}  # fmt: skip
    assert (result.score, result.grade, result.override) == (D("27.0"), "C", "")
    reasons = {row["key"]: row["reason_en"] for row in result.breakdown}
    assert reasons["consumption"] == "consumption -40% against the three months before"
    assert reasons["worst_delay"] == "longest delay 66 days in 12 months"


def test_deep_arrears_without_an_agreement_force_c_and_an_arrangement_lifts_it(card):
    customer = CustomerFactory()
    bills = monthly_bills(customer, [50_000] * 12)
    for bill in bills:
        if bill.due_on != dt.date(2026, 8, 15):
            paid(bill, "10000.00", bill.due_on)
    Guarantee.objects.create(customer=customer, kind="deposit", amount=D("30000.00"), valid_from=dt.date(2025, 1, 1))
    result = score_in_memory([customer], AS_OF, card)[customer.pk]
    # 11 of 12 on time (0.917) → 15; the 2026-08-15 bill is 97 days open → 0; arrears 10,000
    # = 1.0 average bill → 0; the rest full: 10 × 5 + cover 3 months → 10.  Total 75 → A by
    # the score, but 97 days of arrears (> 90) without an agreement → C.
    assert (result.score, result.score_grade, result.grade, result.override) == (D("75.0"), "A", "C", "long_arrears")
    PaymentArrangement.objects.create(customer=customer, total=D("10000.00"), made_on=dt.date(2026, 11, 1))
    result = score_in_memory([customer], AS_OF, card)[customer.pk]
    assert (result.grade, result.override) == ("A", "")


def test_a_new_customer_starts_at_a_and_theft_forces_c(card):
    customer = CustomerFactory()
    for bill in monthly_bills(customer, [1_000] * 3, first_due=dt.date(2026, 9, 15)):
        paid(bill, "10000.00", bill.due_on)
    result = score_in_memory([customer], AS_OF, card)[customer.pk]
    assert (result.grade, result.override) == ("A", "new_customer")
    # No bills at all: every payment criterion says "insufficient history" (half its weight).
    empty = CustomerFactory()
    result = score_in_memory([empty], AS_OF, card)[empty.pk]
    reasons = {row["key"]: row["reason_en"] for row in result.breakdown}
    assert reasons["on_time"] == "insufficient history" and breakdown(result)["on_time"] == "10.0"
    assert result.grade == "A"
    ServiceVisit.objects.create(customer=customer, visited_on=dt.date(2026, 10, 1), kind="theft")
    result = score_in_memory([customer], AS_OF, card)[customer.pk]
    assert (result.grade, result.override) == ("C", "theft")


def test_band_edges(card):
    on_time = Criterion.objects.get(scorecard=card, key="on_time")
    worst = Criterion.objects.get(scorecard=card, key="worst_delay")
    cover = Criterion.objects.get(scorecard=card, key="cover")
    # min inclusive, max exclusive
    assert [points_for(on_time, v) for v in (0.95, 0.9499, 0.85, 0.5, 0.4999)] == [D("20.0"), D("15.0"), D("15.0"),
                                                                                    D("5.0"), D("0.0")]  # fmt: skip
    assert [points_for(worst, v) for v in (0, 0.99, 1, 60, 90, 400)] == [D("10.0"), D("10.0"), D("8.0"), D("2.0"),
                                                                      D("0.0"), D("0.0")]  # fmt: skip
    # linear 0 → 0 points, 1 month → 10, half a month → 5, beyond → capped
    assert [points_for(cover, v) for v in (0, 0.5, 1, 3)] == [D("0.0"), D("5.0"), D("10.0"), D("10.0")]
    bands = card.grade_bands
    assert [grade_for(D(s), bands) for s in ("90.0", "89.9", "80", "70", "60.0", "59.9", "0")] == [
        "AAA", "AA", "AA", "A", "B", "C", "C"]  # fmt: skip


def test_a_bad_scorecard_is_refused_and_the_published_one_stays(card, manager):
    draft = scorecard_draft_from(card=card, by=manager, name="Draft")
    Criterion.objects.filter(scorecard=draft, key="cover").update(weight=15)
    Criterion.objects.filter(scorecard=draft, key="worst_delay").update(
        bands=[{"min": None, "max": 1, "points": 10}, {"min": 2, "max": None, "points": 0}]
    )
    Criterion.objects.filter(scorecard=draft, key="policy").update(source="")
    with pytest.raises(ValidationError) as error:
        scorecard_publish(card=draft, by=manager)
    text = " ".join(error.value.messages)
    assert "The weights add up to 105.0, not 100." in text
    assert "Criterion worst_delay: the bands have a gap at 1." in text
    assert "Criterion policy has no data source." in text
    card.refresh_from_db()
    draft.refresh_from_db()
    assert (card.status, draft.status) == ("published", "draft")
    # Overlapping bands are named as such.
    draft_two = scorecard_draft_from(card=card, by=manager)
    Criterion.objects.filter(scorecard=draft_two, key="worst_delay").update(
        bands=[{"min": None, "max": 5, "points": 10}, {"min": 3, "max": None, "points": 0}]
    )
    with pytest.raises(ValidationError, match="overlap"):
        scorecard_check(draft_two, list(draft_two.criteria.all()))


def test_publishing_a_new_version_keeps_old_scores(card, manager):
    customer = CustomerFactory()
    score_run(as_of=AS_OF)
    old = CreditScore.objects.get(customer=customer)
    draft = scorecard_draft_from(card=card, by=manager, weights={"on_time": D("15"), "cover": D("15")})
    scorecard_publish(card=draft, by=manager)
    assert Scorecard.objects.get(pk=card.pk).status == "retired"
    # Band points scale with the weight: on time ≥ 0.95 was 20 of 20, now 15 of 15.
    assert Criterion.objects.get(scorecard=draft, key="on_time").bands[-1]["points"] == 15.0
    score_run(as_of=AS_OF)
    assert CreditScore.objects.filter(customer=customer).count() == 2
    assert CreditScore.objects.get(pk=old.pk).scorecard_id == card.pk


def test_the_run_is_idempotent_and_resumes(card):
    customers = [CustomerFactory() for _ in range(5)]
    run = score_run(as_of=AS_OF, chunk=2)
    assert (run.status, run.done, run.total) == ("done", 5, 5)
    assert CreditScore.objects.count() == 5
    customers[0].refresh_from_db()
    assert customers[0].credit_grade == "A"  # new customers start at A
    score_run(as_of=AS_OF)
    assert CreditScore.objects.count() == 5
    # A worker that died mid-run: the run is still "running" and two scores are missing.
    ScoringRun.objects.update(status="running")
    CreditScore.objects.filter(customer__in=customers[:2]).delete()
    run = score_run(as_of=AS_OF, chunk=2)
    assert (run.status, run.done) == ("done", 5) and CreditScore.objects.count() == 5


def test_a_c_grade_important_user_is_asked_for_a_guarantee_never_prepaid(card):
    important = CustomerFactory(importance="class_1", industry="hospital")
    normal = CustomerFactory(industry="steel")
    for customer in (important, normal):
        bills = monthly_bills(customer, [50_000] * 12)
        for bill in bills[:6]:
            paid(bill, "10000.00", bill.due_on + dt.timedelta(days=40))
        customer.operating_status = "suspended"
        customer.save()
    score_run(as_of=AS_OF)
    assert CreditScore.objects.get(customer=important).grade == "C"
    # The grade C policy asks for remote prepaid control and a guarantee of one month's bill.
    # The important user is not proposed the prepaid mode; its guarantee: one average bill
    # (10,000.00) minus the cover held (none) = 10,000.
    proposals = {(p.customer_id, p.kind): p for p in PolicyProposal.objects.all()}
    assert (important.pk, "settlement_mode") not in proposals
    assert proposals[important.pk, "guarantee"].guarantee_amount == D("10000.00")
    assert proposals[normal.pk, "settlement_mode"].settlement_mode == "prepaid_remote"
    mode = proposals[normal.pk, "settlement_mode"]
    assert mode.reason.startswith("Grade C calls for ") and mode.reason_zh.startswith("C级要求")
    important.refresh_from_db()
    assert important.settlement_mode == "monthly"  # proposed, never switched silently
    score_run(as_of=AS_OF + dt.timedelta(days=1))
    assert PolicyProposal.objects.filter(status="open").count() == 3  # not proposed twice


def test_alerts_consumption_drop_and_grade_fall(card, portfolio):
    customer = portfolio["a1"]
    day = dt.date(2026, 11, 20)
    start = day - dt.timedelta(days=13 + 56)
    rows = []
    for offset in range(70):
        current = start + dt.timedelta(days=offset)
        kwh = D("600") if current > day - dt.timedelta(days=14) else D("1000")
        rows.append(DailyUsage(customer=customer, day=current, period=f"{current:%Y-%m}", kwh=kwh, energy_charge=0,
                               basic_charge=0, funds_charge=0, charge=0, mtd_kwh=0, mtd_charge=0))  # fmt: skip
    DailyUsage.objects.bulk_create(rows)
    # 14 × 600 = 8,400 kWh against a baseline of 14 × 1,000 = 14,000: 40 % below (≥ 30 %).
    assert alerts_raise(day=day) == 1
    alert = RiskAlert.objects.get()
    assert alert.kind == "consumption_drop" and "8,400 kWh in 14 days, 40% below the usual 14,000 kWh" in alert.detail
    assert alerts_raise(day=day) == 0  # idempotent
    # A grade fall of two steps (AAA → A) raises an alert.
    CreditScore.objects.create(customer=customer, scorecard=card, as_of=day - dt.timedelta(days=1), score=95,
                               grade="AAA", score_grade="AAA")  # fmt: skip
    score_run(as_of=day)
    fall = RiskAlert.objects.get(kind="grade_fall", customer=customer)
    # Written by a job in English, stored in both languages: each reader sees their own.
    assert fall.detail.startswith("Grade fell from AAA to ") and fall.detail_zh.startswith("等级由AAA降至")
    with translation.override("zh-hans"):
        assert alert.detail_text.startswith("14天用电8,400千瓦时") and fall.detail_text == fall.detail_zh
    with translation.override("en"):
        assert fall.detail_text == fall.detail
