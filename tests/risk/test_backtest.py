import datetime as dt
import random
from decimal import Decimal as D
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from billing.models import Bill, Payment, PaymentAllocation
from risk.backtest import (
    GradeRate,
    arrears_outcomes,
    auc,
    grade_rates,
    ks,
    monotonic,
    weights_from_coefficients,
)
from risk.criteria import gather
from risk.models import Scorecard
from tests.factories import CustomerFactory, make_bill

D0 = dt.date(2025, 3, 1)  # a due date well in the past, whatever day the tests run


# ---------------------------------------------------------------------------------------------
# AUC and KS on hand-made lists (higher score = more likely in arrears, as roc_auc_score)
# ---------------------------------------------------------------------------------------------
def test_auc_is_one_for_a_perfect_ranking_and_zero_for_a_reversed_one():
    # Every positive (0.8, 0.9) above every negative (0.1, 0.2): U = 4 of 4 pairs → 1.0.
    assert auc([0.1, 0.2, 0.8, 0.9], [False, False, True, True]) == 1.0
    # Every positive below every negative: 0 of 4 pairs → 0.0.
    assert auc([0.1, 0.2, 0.8, 0.9], [True, True, False, False]) == 0.0


def test_auc_counts_ties_as_one_half():
    # All scores equal: every pair is a tie → 0.5.
    assert auc([5, 5, 5, 5], [True, False, True, False]) == 0.5
    # Positives 1 and 2, negatives 1 and 0: pairs (1,1) tie ½, (1,0) 1, (2,1) 1, (2,0) 1 → 3.5 / 4.
    assert auc([1, 2, 1, 0], [True, True, False, False]) == 0.875
    # Positives 2 and 4, negatives 1 and 3: (2,1) 1, (2,3) 0, (4,1) 1, (4,3) 1 → 3 / 4.
    assert auc([2, 4, 1, 3], [True, True, False, False]) == 0.75


def test_auc_needs_both_classes():
    assert auc([1, 2], [True, True]) != auc([1, 2], [True, True])  # NaN


def test_auc_agrees_with_scikit_learn_on_tied_scores():
    from sklearn.metrics import roc_auc_score

    rng = random.Random(3)
    for _ in range(20):
        labels = [rng.random() < 0.3 for _ in range(200)]
        scores = [round(rng.gauss(1 if label else 0, 1), 1) for label in labels]  # rounded: many ties
        if any(labels) and not all(labels):
            assert auc(scores, labels) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)


def test_ks_is_the_largest_gap_between_the_cumulative_shares():
    # Perfect separation: after the two negatives (1, 2) all negatives and no positive → 1.0.
    assert ks([1, 2, 3, 4], [False, False, True, True]) == 1.0
    # Sorted 1n 2p 3n 4p: after 1 the shares are 0 vs ½ (gap ½), after 2 ½ vs ½, after 3 ½ vs 1 (½) → 0.5.
    assert ks([2, 4, 1, 3], [True, True, False, False]) == 0.5
    # One score for everybody: tied scores move together, so the shares are 1 vs 1 → 0.
    assert ks([7, 7, 7], [True, False, False]) == 0.0


def test_ks_agrees_with_scipy_two_sample_statistic():
    from scipy.stats import ks_2samp

    rng = random.Random(5)
    labels = [rng.random() < 0.4 for _ in range(300)]
    scores = [round(rng.gauss(0.5 if label else 0, 1), 1) for label in labels]
    expected = ks_2samp([s for s, p in zip(scores, labels, strict=True) if p],
                        [s for s, p in zip(scores, labels, strict=True) if not p]).statistic  # fmt: skip
    assert ks(scores, labels) == pytest.approx(expected)


def test_grade_rates_and_their_monotonic_check():
    grades = ["AAA", "AAA", "A", "A", "C", "C", "C", "C"]
    positives = [False, False, False, True, True, True, False, True]
    rates = grade_rates(grades, positives, ["AAA", "AA", "A", "B", "C"])
    assert [(r.grade, r.customers, r.positives) for r in rates] == [
        ("AAA", 2, 0), ("AA", 0, 0), ("A", 2, 1), ("B", 0, 0), ("C", 4, 3)
    ]  # fmt: skip
    assert monotonic(rates)  # C 75% ≥ A 50% ≥ AAA 0%; the empty grades are skipped
    assert not monotonic([GradeRate("A", 10, 1), GradeRate("B", 10, 3), GradeRate("C", 10, 2)])  # B above C
    assert monotonic([GradeRate("A", 10, 0), GradeRate("B", 10, 0), GradeRate("C", 10, 2)])  # equal rates pass


def test_fitted_coefficients_become_whole_weights_adding_up_to_100():
    # −coefficients 2 and 1 share 100 as 66.7 and 33.3; the larger remainder takes the last point.
    # A criterion whose points went with more arrears (+0.5) gets nothing.
    assert weights_from_coefficients({"a": -2.0, "b": -1.0, "c": 0.5}) == {"a": 67, "b": 33, "c": 0}
    with pytest.raises(ValueError):
        weights_from_coefficients({"a": 1.0})


# ---------------------------------------------------------------------------------------------
# The outcome: 90+ days in arrears, from bills and dated allocations
# ---------------------------------------------------------------------------------------------
def _pay(bill: Bill, amount: str, on: dt.date) -> PaymentAllocation:
    """A payment received on `on` and allocated to the bill's principal that day."""
    payment = Payment.objects.create(
        customer=bill.customer, amount=D(amount), channel="bank_transfer", external_ref=f"T-{bill.pk}-{on}-{amount}",
        received_at=timezone.make_aware(dt.datetime.combine(on, dt.time(10))),
    )  # fmt: skip
    return PaymentAllocation.objects.create(payment=payment, bill=bill, principal=D(amount), allocated_on=on)


@pytest.fixture
def window():
    return {"start": D0 + dt.timedelta(days=1), "end": D0 + dt.timedelta(days=200)}


def test_a_bill_unpaid_91_days_after_its_due_date_is_90_days_in_arrears(portfolio, window):
    customer = portfolio["a1"]
    bill = make_bill(customer, "1000.00", D0)
    _pay(bill, "1000.00", D0 + dt.timedelta(days=91))
    assert arrears_outcomes([customer.pk], **window) == {customer.pk: D0 + dt.timedelta(days=90)}


def test_a_bill_paid_on_day_89_is_not(portfolio, window):
    customer = portfolio["a1"]
    bill = make_bill(customer, "1000.00", D0)
    _pay(bill, "600.00", D0 + dt.timedelta(days=30))
    _pay(bill, "400.00", D0 + dt.timedelta(days=89))
    assert arrears_outcomes([customer.pk], **window) == {}


def test_a_few_fen_left_unpaid_still_count(portfolio, window):
    customer = portfolio["a1"]
    bill = make_bill(customer, "1000.00", D0)
    _pay(bill, "999.99", D0 + dt.timedelta(days=10))
    assert customer.pk in arrears_outcomes([customer.pk], **window)


def test_a_payment_returned_by_the_bank_reopens_the_bill(portfolio, window):
    customer = portfolio["a1"]
    bill = make_bill(customer, "1000.00", D0)
    paid = _pay(bill, "1000.00", D0 + dt.timedelta(days=5))
    # The bank returns it on day 120: the reversal writes a negative allocation of that day.
    PaymentAllocation.objects.create(payment=paid.payment, bill=bill, principal=D("-1000.00"),
                                     allocated_on=D0 + dt.timedelta(days=120))  # fmt: skip
    assert arrears_outcomes([customer.pk], **window) == {customer.pk: D0 + dt.timedelta(days=120)}


def test_only_the_window_counts(portfolio):
    customer = portfolio["a1"]
    make_bill(customer, "1000.00", D0)  # never paid: 90 days in arrears from D0 + 90
    # A window ending before day 90 sees nothing; one starting later sees it from its first day.
    assert arrears_outcomes([customer.pk], start=D0, end=D0 + dt.timedelta(days=89)) == {}
    later = D0 + dt.timedelta(days=150)
    assert arrears_outcomes([customer.pk], start=later, end=later + dt.timedelta(days=10)) == {customer.pk: later}


# ---------------------------------------------------------------------------------------------
# The gatherers use only what was known on the day
# ---------------------------------------------------------------------------------------------
def test_a_past_day_reads_the_operating_status_the_archive_had_then(portfolio):
    from customers.services import customer_update

    customer = portfolio["a1"]
    assert customer.operating_status == "normal"
    # The account was opened (its first history row) a week ago; the bankruptcy is recorded today.
    customer.history.filter(history_type="+").update(history_date=timezone.now() - dt.timedelta(days=7))
    customer_update(customer=customer, data={"operating_status": "bankrupt"})
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    past = gather([customer], yesterday)[customer.pk].sources["operating_status"]
    now = gather([customer], timezone.localdate())[customer.pk].sources["operating_status"]
    assert (past.value, now.value) == (1.0, 0.0)


def test_instalments_are_not_months_of_consumption_nor_of_the_average_bill(portfolio):
    customer = portfolio["a1"]
    as_of = dt.date(2025, 7, 20)
    for month in range(1, 7):  # January to June billed in full, 10,000 kWh each
        issued = dt.date(2025, month + 1, 1)
        bill = make_bill(customer, "6000.00", issued + dt.timedelta(days=10), issued_on=issued,
                         period=f"2025-{month:02d}", number=f"M-{month}")  # fmt: skip
        Bill.objects.filter(pk=bill.pk).update(kind="monthly", total_kwh=D("10000"))
    for n in (1, 2):  # two instalments of July already out: no kWh of their own
        bill = make_bill(customer, "2000.00", dt.date(2025, 7, 10 * n), issued_on=dt.date(2025, 7, 5 * n),
                         period="2025-07", number=f"I-{n}")  # fmt: skip
        Bill.objects.filter(pk=bill.pk).update(kind="instalment")
    data = gather([customer], as_of)[customer.pk]
    assert data.sources["consumption_trend"].value == pytest.approx(0.0)  # not a 33% drop
    # The months billed in full: 36,000 over January–June (July is only two instalments so far),
    # not 40,000 over the 8 bills.
    assert data.average_bill == D("6000.00")


# ---------------------------------------------------------------------------------------------
# The command on a tiny portfolio
# ---------------------------------------------------------------------------------------------
AS_OF = dt.date(2025, 6, 30)


@pytest.fixture
def tiny_portfolio(regions):
    """Four customers who pay a few days early and four who pay late and stop paying in April."""
    customers = []
    for n in range(8):
        good = n < 4
        customer = CustomerFactory(region=regions["a"], operating_status="normal" if good or n == 4 else "suspended")
        for month in range(12):  # periods 2024-10 … 2025-09
            start = dt.date(2024 + (9 + month) // 12, (9 + month) % 12 + 1, 1)
            issued = dt.date(start.year + start.month // 12, start.month % 12 + 1, 1)
            due = issued + dt.timedelta(days=15)
            bill = make_bill(customer, "5000.00", due, issued_on=issued, period=f"{start:%Y-%m}",
                             number=f"TP-{n}-{month}")  # fmt: skip
            if good:
                _pay(bill, "5000.00", due - dt.timedelta(days=2))
            elif start < dt.date(2025, 4, 1):
                _pay(bill, "5000.00", due + dt.timedelta(days=35))
        customers.append(customer)
    return customers


def test_the_command_reports_auc_ks_and_grades_on_a_tiny_portfolio(tiny_portfolio):
    out = StringIO()
    call_command("risk_backtest", "--as-of", AS_OF.isoformat(), stdout=out)
    text = out.getvalue()
    assert "## 12. Credit-score backtest" in text
    assert "| 8 | 4 (50.0%) | 1.000 | 1.000 |" in text  # the four who stopped paying all rank below the others
    assert "| AUC of the default card | ≥ 0.75 | 1.000 | **met** |" in text


def test_the_command_fits_and_a_manager_publishes_the_fitted_weights(tiny_portfolio, manager):
    out = StringIO()
    call_command("risk_backtest", "--as-of", AS_OF.isoformat(), "--fit", "--folds", "2", "--publish-fitted",
                 "--by", manager.username, stdout=out)  # fmt: skip
    assert "2-fold out-of-fold" in out.getvalue()
    card = Scorecard.objects.get(status="published")
    # Versions 1 and 2 are the default card's; the fitted weights are published as version 3.
    assert card.version == 3 and card.published_by == manager
    assert sum(c.weight for c in card.criteria.all()) == 100
    assert Scorecard.objects.get(version=2).status == "retired"
    assert f"published scorecard v3 ({card.name}) by {manager.username}" in out.getvalue()


def test_publishing_fitted_weights_is_refused_to_a_non_manager(tiny_portfolio, collector):
    with pytest.raises(CommandError, match="not a manager"):
        call_command("risk_backtest", "--as-of", AS_OF.isoformat(), "--publish-fitted", "--by", collector.username,
                     stdout=StringIO())  # fmt: skip
    assert list(Scorecard.objects.values_list("version", "status")) == [(2, "published"), (1, "retired")]


def test_write_docs_replaces_only_its_own_section(tiny_portfolio, settings, tmp_path):
    (tmp_path / "docs").mkdir()
    path = tmp_path / "docs" / "BENCHMARKS.md"
    sections = ["# Benchmarks", "## 11. Other", "SECTION 11 TEXT", "## 12. Credit-score backtest", "OLD FIGURES",
                "## 13. Next", "SECTION 13 TEXT"]  # fmt: skip
    path.write_text("\n\n".join(sections) + "\n")
    settings.BASE_DIR = tmp_path
    call_command("risk_backtest", "--as-of", AS_OF.isoformat(), "--write-docs", stdout=StringIO())
    text = path.read_text()
    assert "OLD FIGURES" not in text and "## 12. Credit-score backtest (`manage.py risk_backtest`)" in text
    assert (
        text.index("## 11. Other") < text.index("## 12.") < text.index("## 13. Next")
        and "SECTION 11 TEXT" in text
        and "SECTION 13 TEXT" in text
    )


def test_the_command_needs_bills(db):
    with pytest.raises(CommandError, match="no bills"):
        call_command("risk_backtest", stdout=StringIO())
