"""Backtest of a scorecard: score every billed customer as of a past date from what was known
then, and measure how well the score ranks the customers that went 90+ days into arrears in
the following months.

- Outcome: a customer is positive if, on some day of (as_of, as_of + horizon], one of its bills
  still had principal unpaid at the end of the 90th day after its due date (a bill paid on its
  90th day is not). Rebuilt from the bills, their adjustment notes and the payment allocations
  (each counts from its `allocated_on`; a reversal writes negative allocations), so it needs no
  stored status. The window is cut at the last day the database has bills or allocations for.
- AUC: the Mann–Whitney rank statistic (ties averaged), i.e. the chance that a random positive
  ranks riskier than a random negative. KS: the largest gap between the two cumulative
  distributions. Grade rates: the share of positives per grade, which should fall from the
  worst grade to the best.
- Fitted weights (`fit`, needs scikit-learn): a logistic regression on each criterion's share of
  its weight, evaluated by stratified k-fold cross-validation (out-of-fold scores), and its
  coefficients turned into whole-point weights adding up to 100.

The metric functions are plain Python on lists, so they can be checked by hand.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from billing.models import AdjustmentNote, Bill, PaymentAllocation
from collection.selectors_agreements import add_months
from customers.models import Customer

from .models import Criterion, Scorecard
from .scoring import grade_for
from .services import _criteria, score_in_memory

DOC_SECTION = 12  # its numbered section in docs/BENCHMARKS.md (bench/run.py keeps numbered sections)
ARREARS_DAYS = 90
HORIZON_MONTHS = 6
FOLDS = 5
ZERO = Decimal("0")
# What the figures in docs/BENCHMARKS.md rest on; written for the demo portfolio of `make demo`.
NOTES = (
    "**Reading it.** Data: `make demo` (seed 42). The demo draws a customer's payment behaviour partly from "
    "its operating status (bankrupt and suspended customers mostly stop paying, reduced ones often slide) and "
    "writes no archive history, so the score reads today's status: for those customers that is look-ahead, and "
    "the column “AUC of the score without it” shows the card without the operating status. Before their "
    "trouble the demo's future defaulters pay like its late payers (three bills in four, 5–40 days late), so "
    "the payment criteria tell late payers from prompt ones but hardly those who will stop paying from those "
    "who pay late; the operating status and the consumption trend do, which is what the fitted weights say. "
    "The demo has no promises, arrangements or guarantees and opens its prepaid accounts after the as-of date, "
    "so commitments and cover tell nothing here and get (almost) no fitted weight: publishing the fitted "
    "weights as they are would drop criteria the design keeps for reasons this data cannot show. Fitted on a "
    "few dozen customers in arrears, the weights are also unstable: on a second demo portfolio "
    "(`seed_demo --customers 600 --seed 7`, 502 customers billed, 48 in arrears, same as-of date) they came "
    "out as operating 25, consumption 42, worst delay 18, on time 7, cover 7, policy 1, and their out-of-fold "
    "grade rates did not fall monotonically (AA 22.0 % above A 3.5 %); the default card there: AUC 0.765, "
    "KS 0.455, C 18.4 %, B 16.4 %, A 15.9 %, AA 2.5 %, AAA 2.0 %. With so few customers in arrears one "
    "customer moves a grade's rate by several points: read the rates' order, not their gaps.\n\n"
    "**Change to the default card** (version 2, `risk/migrations/0003_default_scorecard_v2.py`; version 1 "
    "is retired, its scores kept). The worst-delay bands were "
    "1–10 days 7 points, 10–30 4, 30–60 2, 60+ 0; they are now 1–10 8, 10–30 6, 30–60 4, 60–90 2, 90+ 0: "
    "nothing only at 90 days, the arrears the grade is meant to foresee and the line of the automatic C. With "
    "the old bands a customer who always pays, a few weeks late, fell into C with those who stop paying, and "
    "B's arrears rate rose above C's: on this portfolio AUC 0.773, KS 0.450, C 18.9 %, B 21.7 %, A 11.1 %, "
    "AA 5.4 %, AAA 0.0 %; on the seed-7 portfolio AUC 0.766, C 17.1 %, B 25.6 %. The weights and the grade "
    "bands are fixed by DESIGN.md rule 8, so only criterion bands were tried, each on both portfolios at this "
    "date: a consumption drop of 30 % or more (rule 9's warning level) scoring 0 fixed this portfolio only; "
    "counting one overdue bill apart from more (arrears ratio 0.5–1.5) fixed neither; evenly spaced on-time "
    "bands fixed both alone but not together with the worst-delay change; the worst-delay change alone fixed "
    "both and kept the AUC (0.771 and 0.765). One and two months earlier (6 to 25 customers in arrears in the "
    "window) the old and the new bands both give falling rates and the same AUC, 0.90 to 0.92."
)


# ---------------------------------------------------------------------------------------------
# Dates
# ---------------------------------------------------------------------------------------------
def default_as_of(horizon_months: int = HORIZON_MONTHS) -> dt.date | None:
    """`horizon_months` before the latest bill's due date (None without bills)."""
    latest = Bill.objects.aggregate(d=Max("due_on"))["d"]
    return add_months(latest, -horizon_months) if latest else None


def data_end() -> dt.date | None:
    """The last day the database knows about: its latest bill issue or allocation, not after today."""
    days = [
        Bill.objects.aggregate(d=Max("issued_on"))["d"],
        PaymentAllocation.objects.aggregate(d=Max("allocated_on"))["d"],
    ]
    known = [d for d in days if d is not None]
    return min(max(known), timezone.localdate()) if known else None


# ---------------------------------------------------------------------------------------------
# Outcome
# ---------------------------------------------------------------------------------------------
def _first_unpaid_day(total: Decimal, changes: list[tuple[dt.date, Decimal]], start: dt.date, end: dt.date):
    """The first day in [start, end] at whose end the principal is still unpaid, or None.
    `changes` are (day, change of the amount owed): adjustment notes +, allocations −."""
    if start > end:
        return None
    owed = total
    pending = sorted(changes)
    i = 0
    while i < len(pending) and pending[i][0] <= start:
        owed += pending[i][1]
        i += 1
    if owed > 0:
        return start
    # After `start` the amount owed only moves on a day with a change (a reversal or a debit note).
    while i < len(pending) and pending[i][0] <= end:
        day = pending[i][0]
        while i < len(pending) and pending[i][0] == day:
            owed += pending[i][1]
            i += 1
        if owed > 0:
            return day
    return None


def arrears_outcomes(
    customer_ids: list[int], *, start: dt.date, end: dt.date, days: int = ARREARS_DAYS
) -> dict[int, dt.date]:
    """Customer → the first day in [start, end] on which one of its bills was unpaid `days` days
    after its due date (at the end of that day). In a few set-based queries per chunk."""
    out: dict[int, dt.date] = {}
    chunk = settings.RISK_SCORING_CHUNK
    last_due = end - dt.timedelta(days=days)
    for offset in range(0, len(customer_ids), chunk):
        ids = customer_ids[offset : offset + chunk]
        bills = Bill.objects.filter(customer_id__in=ids, due_on__lte=last_due, issued_on__lte=end)
        rows = {
            pk: (cid, due, total) for pk, cid, due, total in bills.values_list("pk", "customer_id", "due_on", "total")
        }
        changes: dict[int, list[tuple[dt.date, Decimal]]] = defaultdict(list)
        allocations = PaymentAllocation.objects.filter(bill__in=bills, allocated_on__lte=end)
        for bill_id, day, principal in allocations.values_list("bill_id", "allocated_on", "principal"):
            changes[bill_id].append((day, -principal))
        notes = AdjustmentNote.objects.filter(bill__in=bills, created_at__date__lte=end)
        for bill_id, created_at, amount in notes.values_list("bill_id", "created_at", "amount"):
            changes[bill_id].append((timezone.localdate(created_at), amount))
        for pk, (customer_id, due_on, total) in rows.items():
            first = _first_unpaid_day(total, changes.get(pk, []), max(due_on + dt.timedelta(days=days), start), end)
            if first is not None and (customer_id not in out or first < out[customer_id]):
                out[customer_id] = first
    return out


# ---------------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------------
def _average_ranks(values: list[float]) -> list[float]:
    """1-based ranks, ties given the average of the ranks they span."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def auc(scores: list[float], positives: list[bool]) -> float:
    """ROC AUC by the Mann–Whitney U statistic: the chance that a random positive has a higher
    score than a random negative, a tie counting one half. NaN without both classes."""
    n_pos = sum(1 for p in positives if p)
    n_neg = len(positives) - n_pos
    if not n_pos or not n_neg:
        return math.nan
    ranks = _average_ranks(list(scores))
    rank_sum = sum(r for r, p in zip(ranks, positives, strict=True) if p)
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def ks(scores: list[float], positives: list[bool]) -> float:
    """Kolmogorov–Smirnov statistic: the largest gap between the cumulative share of positives
    and of negatives at or below a score (tied scores move together). NaN without both classes."""
    n_pos = sum(1 for p in positives if p)
    n_neg = len(positives) - n_pos
    if not n_pos or not n_neg:
        return math.nan
    pairs = sorted(zip(scores, positives, strict=True))
    best = seen_pos = seen_neg = 0.0
    for i, (value, positive) in enumerate(pairs):
        seen_pos += positive
        seen_neg += not positive
        if i + 1 == len(pairs) or pairs[i + 1][0] != value:
            best = max(best, abs(seen_pos / n_pos - seen_neg / n_neg))
    return best


@dataclass
class GradeRate:
    grade: str
    customers: int
    positives: int

    @property
    def rate(self) -> float:
        return self.positives / self.customers if self.customers else math.nan


def grade_rates(grades: list[str], positives: list[bool], order: list[str]) -> list[GradeRate]:
    """Customers and positives per grade, in `order` (best first, as a scorecard's bands)."""
    rows = {grade: GradeRate(grade, 0, 0) for grade in order}
    for grade, positive in zip(grades, positives, strict=True):
        row = rows.setdefault(grade, GradeRate(grade, 0, 0))
        row.customers += 1
        row.positives += positive
    return list(rows.values())


def monotonic(rates: list[GradeRate]) -> bool:
    """True when the arrears rate never rises from the worst grade to the best (rates listed best
    first; a grade nobody has is skipped)."""
    seen = [row.rate for row in reversed(rates) if row.customers]
    return all(later <= earlier for earlier, later in zip(seen, seen[1:], strict=False))


# ---------------------------------------------------------------------------------------------
# The backtest
# ---------------------------------------------------------------------------------------------
@dataclass
class Row:
    customer_id: int
    score: float
    grade: str
    override: str
    shares: dict[str, float]  # criterion key → points ÷ weight
    positive: bool
    in_arrears_at_start: bool  # already 90+ days in arrears on the as-of date


@dataclass
class Evaluation:
    name: str
    auc: float
    ks: float
    rates: list[GradeRate]
    customers: int
    positives: int

    @property
    def monotonic(self) -> bool:
        return monotonic(self.rates)


def evaluate(name: str, rows: list[Row], scores: list[float], grades: list[str], order: list[str]) -> Evaluation:
    """Metrics of a score where a higher score means a safer customer (so AUC ranks −score)."""
    labels = [row.positive for row in rows]
    risk = [-s for s in scores]
    return Evaluation(name, auc(risk, labels), ks(risk, labels), grade_rates(grades, labels, order), len(rows),
                      sum(labels))  # fmt: skip


@dataclass
class FitResult:
    weights: dict[str, int]  # criterion key → whole points, adding up to 100
    coefficients: dict[str, float]  # of the fit on all rows: log-odds per share of the criterion's weight
    evaluation: Evaluation  # out-of-fold
    folds: int
    constant: list[str]  # criteria with the same value for every customer (nothing to fit)


@dataclass
class BacktestResult:
    as_of: dt.date
    through: dt.date
    horizon_months: int
    card: Scorecard
    criteria: list[Criterion]
    rows: list[Row]
    customers_total: int
    default: Evaluation
    new_arrears: Evaluation  # without the customers already 90+ days in arrears on the as-of date
    by_criterion: dict[str, float]  # AUC of each criterion's points alone
    without: dict[str, float]  # AUC of the score without each criterion's points
    fit: FitResult | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def order(self) -> list[str]:
        return self.card.grades


def backtest(*, as_of: dt.date, card: Scorecard, horizon_months: int = HORIZON_MONTHS) -> BacktestResult:
    """Score every customer billed by `as_of` with `card` from what was known then, and label it
    by the arrears of (as_of, as_of + horizon] as far as the data goes."""
    end = data_end()
    if end is None or end <= as_of:
        raise ValueError(f"no data after {as_of} to judge the scores by")
    through = min(add_months(as_of, horizon_months), end)
    ids = sorted(set(Bill.objects.filter(issued_on__lte=as_of).values_list("customer_id", flat=True)))
    customers = list(Customer.objects.filter(pk__in=ids).select_related("region").order_by("pk"))
    criteria = _criteria(card)
    results = {}
    chunk = settings.RISK_SCORING_CHUNK
    for offset in range(0, len(customers), chunk):
        results.update(score_in_memory(customers[offset : offset + chunk], as_of, card))
    outcome = arrears_outcomes(ids, start=as_of + dt.timedelta(days=1), end=through)
    already = arrears_outcomes(ids, start=as_of, end=as_of)
    rows = []
    for customer in customers:
        result = results[customer.pk]
        points = {item["key"]: Decimal(item["points"]) for item in result.breakdown}
        shares = {c.key: float(points[c.key] / Decimal(c.weight)) for c in criteria if Decimal(c.weight) > 0}
        rows.append(Row(customer.pk, float(result.score), result.grade, result.override, shares,
                        customer.pk in outcome, customer.pk in already))  # fmt: skip
    order = card.grades
    default = evaluate(f"v{card.version}", rows, [r.score for r in rows], [r.grade for r in rows], order)
    fresh = [r for r in rows if not r.in_arrears_at_start]
    new_arrears = evaluate("new", fresh, [r.score for r in fresh], [r.grade for r in fresh], order)
    labels = [r.positive for r in rows]
    weighted = [c for c in criteria if Decimal(c.weight) > 0]
    by_criterion = {c.key: auc([-r.shares.get(c.key, 0.0) for r in rows], labels) for c in weighted}
    without = {
        c.key: auc([r.shares.get(c.key, 0.0) * float(c.weight) - r.score for r in rows], labels) for c in weighted
    }
    return BacktestResult(as_of, through, horizon_months, card, criteria, rows, Customer.objects.count(), default,
                          new_arrears, by_criterion, without)  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Fitted weights
# ---------------------------------------------------------------------------------------------
class AnalysisMissing(ImportError):
    """scikit-learn is not installed (the optional `analysis` extra)."""


def _sklearn():
    try:
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold
    except ImportError as exc:
        raise AnalysisMissing(
            "fitting weights needs scikit-learn, the optional `analysis` extra: pip install -e '.[analysis]' "
            "(make venv installs it)"
        ) from exc
    return LogisticRegression, StratifiedKFold


def weights_from_coefficients(coefficients: dict[str, float], total: int = 100) -> dict[str, int]:
    """Whole-point weights adding up to `total`, each in proportion to how much the criterion's
    full points lower the log-odds of arrears (−coefficient, as the features are shares of the
    weight from 0 to 1). A criterion whose points went with more arrears gets 0. Rounded by
    largest remainder so the sum is exact."""
    pull = {key: max(-value, 0.0) for key, value in coefficients.items()}
    mass = sum(pull.values())
    if mass <= 0:
        raise ValueError("no criterion lowers the risk of arrears: nothing to weigh")
    exact = {key: total * value / mass for key, value in pull.items()}
    weights = {key: math.floor(value) for key, value in exact.items()}
    short = total - sum(weights.values())
    for key in sorted(exact, key=lambda k: (weights[k] - exact[k], k))[:short]:
        weights[key] += 1
    return weights


def rescored(row: Row, weights: dict[str, float] | dict[str, int]) -> float:
    """The score a card with these weights gives (each criterion keeps its share of the weight)."""
    return sum(row.shares.get(key, 0.0) * weight for key, weight in weights.items())


def _grade(row: Row, score: float, bands: list) -> str:
    # The overrides (theft, long arrears, new customer) do not depend on the weights.
    return row.grade if row.override else grade_for(Decimal(str(round(score, 1))), bands)


def fit(result: BacktestResult, *, folds: int = FOLDS, seed: int = 0) -> FitResult:
    """Logistic regression of the outcome on the criteria's shares of their weights (L2, C=1).
    Out-of-fold: each customer is scored by weights fitted on the other folds, so the figures
    are not the fit's own data. The weights to publish come from a fit on all customers."""
    LogisticRegression, StratifiedKFold = _sklearn()
    rows = result.rows
    keys = [c.key for c in result.criteria if Decimal(c.weight) > 0]
    constant = [k for k in keys if len({r.shares.get(k, 0.0) for r in rows}) <= 1]
    used = [k for k in keys if k not in constant]
    x = [[r.shares.get(k, 0.0) for k in used] for r in rows]
    y = [int(r.positive) for r in rows]
    n_pos = sum(y)
    folds = min(folds, n_pos, len(y) - n_pos)
    if folds < 2 or not used:
        raise ValueError("too few customers in arrears (or criteria that vary) to fit and cross-validate")

    def weights_of(model) -> dict[str, int]:
        coefficients = dict(zip(used, (float(c) for c in model.coef_[0]), strict=True))
        fitted = weights_from_coefficients(coefficients)
        return {key: fitted.get(key, 0) for key in keys}  # a constant criterion gets 0

    bands = result.card.grade_bands
    scores = [0.0] * len(rows)
    for train, test in StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(x, y):
        model = LogisticRegression(C=1.0, max_iter=1000).fit([x[i] for i in train], [y[i] for i in train])
        fold_weights = weights_of(model)
        for i in test:
            scores[i] = rescored(rows[i], fold_weights)
    grades = [_grade(row, s, bands) for row, s in zip(rows, scores, strict=True)]
    evaluation = evaluate("fitted (out-of-fold)", rows, scores, grades, result.order)
    model = LogisticRegression(C=1.0, max_iter=1000).fit(x, y)
    coefficients = dict(zip(used, (float(c) for c in model.coef_[0]), strict=True))
    return FitResult(weights_of(model), coefficients, evaluation, folds, constant)


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------
def _pct(value: float) -> str:
    return "–" if math.isnan(value) else f"{value * 100:.1f}%"


def _num(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.3f}"


def _rates(evaluation: Evaluation) -> str:
    return ", ".join(f"{row.grade} {_pct(row.rate)}" for row in reversed(evaluation.rates) if row.customers)


def report(result: BacktestResult, *, database: str, card_note: str = "") -> str:
    """The numbered section of docs/BENCHMARKS.md."""
    default, fitted = result.default, result.fit.evaluation if result.fit else None
    card = result.card
    evaluations = [default] + ([fitted] if fitted else [])
    header = "| scorecard | customers | in arrears 90+ days | AUC | KS | arrears rate by grade, C → AAA | falls |"
    rows = [header, "|---|---:|---:|---:|---:|---|---|"]
    names = {default.name: f"v{card.version} {card.name} (hand-set weights)"}
    if fitted:
        names[fitted.name] = f"logistic regression on the same criteria, {result.fit.folds}-fold out-of-fold"
    for e in evaluations:
        rows.append(
            f"| {names[e.name]} | {e.customers:,} | {e.positives:,} ({_pct(e.positives / e.customers)}) | "
            f"{_num(e.auc)} | {_num(e.ks)} | {_rates(e)} | {'yes' if e.monotonic else '**no**'} |"
        )
    grades = ["| grade | " + " | ".join(f"{names[e.name].split(' (')[0].split(',')[0]}: customers, in arrears"
                                         for e in evaluations) + " |",
              "|---|" + "---:|" * len(evaluations)]  # fmt: skip
    for i, grade in enumerate(card.grades):
        cells = [f"{e.rates[i].customers:,}, {e.rates[i].positives:,} ({_pct(e.rates[i].rate)})" for e in evaluations]
        grades.append(f"| {grade} | " + " | ".join(cells) + " |")
    weighted = [c for c in result.criteria if Decimal(c.weight) > 0]
    head = "| criterion | weight | AUC of its points alone | AUC of the score without it |"
    rule = "|---|---:|---:|---:|"
    if result.fit:
        head += " fitted coefficient | fitted weight |"
        rule += "---:|---:|"
    criteria = [head, rule]
    for c in weighted:
        line = (f"| {c.label_en} (`{c.key}`) | {Decimal(c.weight):g} | {_num(result.by_criterion[c.key])} | "
                f"{_num(result.without[c.key])} |")  # fmt: skip
        if result.fit:
            coefficient = result.fit.coefficients.get(c.key)
            shown = "constant" if coefficient is None else f"{coefficient:+.2f}"
            line += f" {shown} | {result.fit.weights.get(c.key, 0)} |"
        criteria.append(line)
    target_auc = default.auc >= 0.75
    already = sum(1 for r in result.rows if r.in_arrears_at_start)
    overrides = sum(1 for r in result.rows if r.override)
    text = [
        f"## {DOC_SECTION}. Credit-score backtest (`manage.py risk_backtest`)",
        "",
        f"The demo portfolio ({result.customers_total:,} customers, {database}): the {default.customers:,} customers "
        f"billed by {result.as_of} scored as of {result.as_of} with scorecard v{card.version} from what was known "
        "then (bills issued, payment allocations and reversals dated up to that day, promises and arrangements "
        "resolved by then, guarantees in force, theft visits; the archive's operating status, equipment and "
        "industry as its history had them, or as they are where it has no history). Outcome: a customer went "
        f"90+ days into arrears if on some day of ({result.as_of}, {result.through}] one of its bills still had "
        "principal unpaid at the end of the 90th day after its due date; the window is "
        f"{result.horizon_months} months after the as-of date, cut at the last day the data covers. "
        f"{already:,} of them were already 90+ days in arrears on the as-of date; {overrides:,} had their grade "
        "set by an override (theft, long arrears, new customer).",
        "",
        "**Method.** AUC is the Mann–Whitney rank statistic (ties count one half): the chance that a customer "
        "who went into arrears scored lower than one who did not. KS is the largest gap between the two groups' "
        "cumulative score distributions. The rate per grade uses the grade after overrides; it should fall "
        "from C to AAA. The logistic regression (scikit-learn, L2, C = 1) takes each criterion's points as a "
        "share of its weight (0–1); it is judged by stratified "
        f"{result.fit.folds if result.fit else FOLDS}-fold cross-validation: every customer is scored by weights "
        "fitted on the other folds, so its figures are not measured on the customers the weights were fitted to. "
        "Coefficients become weights in proportion to −coefficient (how much the criterion's full points lower the "
        "log-odds of arrears), a criterion whose points go with more arrears gets 0, rounded to whole points "
        "adding up to 100 (largest remainder); each criterion keeps its bands, scaled to the new weight, and the "
        "grade bands stay. The weights offered for publishing (`--publish-fitted`) are fitted on all customers.",
        "",
        "\n".join(rows),
        "",
        "\n".join(grades),
        "",
        "\n".join(criteria),
        "",
        "| target (from the issue) | needed | measured |  |",
        "|---|---:|---:|---|",
        f"| AUC of the default card | ≥ 0.75 | {_num(default.auc)} | **{'met' if target_auc else 'missed'}** |",
        f"| arrears rate by grade, C → AAA | falls | {_rates(default)} | "
        f"**{'met' if default.monotonic else 'missed'}** |",
    ]
    if already:
        fresh = result.new_arrears
        text += ["", f"Without the {already:,} customers already in arrears on the as-of date: AUC {_num(fresh.auc)}, "
                     f"KS {_num(fresh.ks)}, by grade {_rates(fresh)}."]  # fmt: skip
    if card_note:
        text += ["", card_note]
    return "\n".join(text) + "\n"
