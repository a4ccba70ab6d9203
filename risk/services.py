"""Scoring runs, grade policy proposals and scorecard versions (DESIGN.md rule 8)."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_UP, Decimal

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max, OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _
from simple_history.utils import bulk_create_with_history

from core.formatting import money
from core.i18n import in_both
from core.roles import is_manager
from customers.choices import CustomerSettlementModeChoices as MODE
from customers.models import Customer
from customers.services import customer_grades_set, customer_update

from .choices import AlertKindChoices, ProposalKindChoices, ProposalStatusChoices, RunStatusChoices
from .choices import ScorecardStatusChoices as CARD
from .criteria import CustomerInputs, gather
from .models import CreditScore, Criterion, GradePolicy, PolicyProposal, RiskAlert, Scorecard, ScoringRun
from .scoring import ScoreResult, score, scorecard_check, step_of

# How strict a settlement mode is: a grade only ever proposes a stricter one.
STRICTNESS = {MODE.MONTHLY: 0, MODE.INSTALMENTS: 1, MODE.PREPAID_CARD: 2, MODE.PREPAID_REMOTE: 2}
PREPAID = {MODE.PREPAID_CARD, MODE.PREPAID_REMOTE}
REJECTED_QUIET_DAYS = 90


def published_scorecard() -> Scorecard:
    card = Scorecard.objects.filter(status=CARD.PUBLISHED).first()
    if card is None:
        raise ValidationError(_("No scorecard is published."))
    return card


def _criteria(card: Scorecard) -> list[Criterion]:
    return list(card.criteria.order_by("position", "id"))


def score_in_memory(customers: list[Customer], as_of: dt.date, card: Scorecard) -> dict[int, ScoreResult]:
    """Scores without storing them (the backtest, a preview)."""
    criteria = _criteria(card)
    inputs = gather(customers, as_of)
    return {cid: score(data, card, criteria) for cid, data in inputs.items()}


def _scoreable():
    # A closed account has nothing left to grade.
    return Customer.objects.exclude(operating_status="closed").order_by("pk")


def score_run(*, as_of: dt.date, card: Scorecard | None = None, chunk: int | None = None) -> ScoringRun:
    """Score every customer as of a date. Idempotent per date and scorecard version: customers
    already scored are skipped, so a second run (or a run resumed after a worker died) scores
    only the rest, and a finished run changes nothing."""
    card = card or published_scorecard()
    chunk = chunk or settings.RISK_SCORING_CHUNK
    run, _created = ScoringRun.objects.get_or_create(as_of=as_of, scorecard=card)
    if run.status == RunStatusChoices.DONE:
        return run
    criteria = _criteria(card)
    run.total = _scoreable().count()
    run.status, run.error = RunStatusChoices.RUNNING, ""
    run.save(update_fields=["total", "status", "error"])
    done = set(CreditScore.objects.filter(scorecard=card, as_of=as_of).values_list("customer_id", flat=True))
    pending = [c for c in _scoreable().select_related("region") if c.pk not in done]
    run.done = len(done)
    for start in range(0, len(pending), chunk):
        batch = pending[start : start + chunk]
        with transaction.atomic():
            inputs = gather(batch, as_of)
            results = {cid: score(data, card, criteria) for cid, data in inputs.items()}
            _store(results, inputs, card, as_of)
            run.done += len(batch)
            run.save(update_fields=["done"])
    run.status, run.finished_at = RunStatusChoices.DONE, timezone.now()
    run.save(update_fields=["status", "finished_at"])
    return run


def score_one(*, customer: Customer, as_of: dt.date | None = None, by: User | None = None) -> CreditScore:
    """Rescore one customer now (from its page): replaces its score for the day and version."""
    card = published_scorecard()
    as_of = as_of or timezone.localdate()
    with transaction.atomic():
        CreditScore.objects.filter(customer=customer, scorecard=card, as_of=as_of).delete()
        inputs = gather([customer], as_of)
        results = {customer.pk: score(inputs[customer.pk], card, _criteria(card))}
        _store(results, inputs, card, as_of)
    return CreditScore.objects.get(customer=customer, scorecard=card, as_of=as_of)


def _store(results: dict[int, ScoreResult], inputs: dict[int, CustomerInputs], card: Scorecard, as_of) -> None:
    ids = list(results)
    previous = _previous_grades(ids, as_of)
    later = set(CreditScore.objects.filter(customer_id__in=ids, as_of__gt=as_of).values_list("customer_id", flat=True))
    rows = [
        CreditScore(customer_id=cid, scorecard=card, as_of=as_of, score=r.score, grade=r.grade,
                    score_grade=r.score_grade, override=r.override, breakdown=r.breakdown)
        for cid, r in results.items()
    ]  # fmt: skip
    CreditScore.objects.bulk_create(rows, ignore_conflicts=True)
    stored = {s.customer_id: s for s in CreditScore.objects.filter(customer_id__in=ids, scorecard=card, as_of=as_of)}
    bands = card.grade_bands
    # What _propose needs, read once per chunk instead of once per customer.
    policies = {policy.grade: policy for policy in GradePolicy.objects.all()}
    open_proposals: dict[int, dict[str, PolicyProposal]] = {}
    for proposal in PolicyProposal.objects.filter(customer_id__in=ids, status=ProposalStatusChoices.OPEN):
        open_proposals.setdefault(proposal.customer_id, {})[proposal.kind] = proposal
    quiet_since = timezone.now() - dt.timedelta(days=REJECTED_QUIET_DAYS)
    rejected = set(
        PolicyProposal.objects.filter(customer_id__in=ids, status=ProposalStatusChoices.REJECTED,
                                      decided_at__gte=quiet_since).values_list("customer_id", "kind")
    )  # fmt: skip
    alerts, proposals, grades = [], [], {}
    for cid, result in results.items():
        data = inputs[cid]
        customer = data.customer
        if cid in later:
            continue  # a past date scored (catch-up): the current grade comes from the later score
        if customer.credit_grade != result.grade:
            # Written together below, one UPDATE per grade: through customer_update (validation, an
            # archive history row) it was 35 statements a customer, most of a first run's time.
            grades[cid] = customer.credit_grade = result.grade
        before = previous.get(cid)
        if before and step_of(result.grade, bands) - step_of(before, bands) >= 2:
            english, chinese = in_both(
                lambda before=before, after=result.grade: (
                    _("Grade fell from %(before)s to %(after)s") % {"before": before, "after": after}
                )
            )
            alerts.append(
                RiskAlert(customer_id=cid, kind=AlertKindChoices.GRADE_FALL, raised_on=as_of, detail=english,
                          detail_zh=chinese, dedupe_key=f"grade_fall:{cid}:{as_of}")
            )  # fmt: skip
        proposals += _propose(customer, stored[cid], data, policy=policies.get(result.grade),
                              open_ones=open_proposals.get(cid, {}), rejected=rejected)  # fmt: skip
    customer_grades_set(grades)
    # With their history rows, in two INSERTs a chunk rather than two per proposal.
    bulk_create_with_history(proposals, PolicyProposal)
    RiskAlert.objects.bulk_create(alerts, ignore_conflicts=True)


def _previous_grades(ids, as_of) -> dict[int, str]:
    latest = (
        CreditScore.objects.filter(customer=OuterRef("pk"), as_of__lt=as_of).order_by("-as_of", "-id").values("grade")
    )
    return {
        cid: grade
        for cid, grade in Customer.objects.filter(pk__in=ids).annotate(g=Subquery(latest[:1])).values_list("pk", "g")
        if grade
    }


def _propose(
    customer: Customer,
    credit: CreditScore,
    data: CustomerInputs,
    *,
    policy: GradePolicy | None,
    open_ones: dict[str, PolicyProposal],
    rejected: set[tuple[int, str]],
) -> list[PolicyProposal]:
    """Propose what the grade's policy calls for, to the area leader — never a silent switch.
    An important user is never proposed a prepaid mode (a prepaid meter trips when the balance
    runs out): it is asked for a guarantee instead. The grade's policy, the customer's open
    proposals and the (customer, kind) pairs rejected lately are read by the caller per chunk;
    the new proposals are returned for the caller to save."""
    wanted: dict[str, dict] = {}
    if policy is not None:
        mode = policy.settlement_mode
        if mode and STRICTNESS.get(mode, 0) > STRICTNESS.get(customer.settlement_mode, 0):
            if customer.is_important and mode in PREPAID:
                months = max(policy.guarantee_months, Decimal(1))
                wanted[ProposalKindChoices.GUARANTEE] = _guarantee(customer, credit, data, months)
            else:
                wanted[ProposalKindChoices.SETTLEMENT_MODE] = {
                    "settlement_mode": mode,
                    **_reasons(lambda mode=mode: _("Grade %(grade)s calls for %(mode)s")
                               % {"grade": credit.grade, "mode": MODE(mode).label}),
                }  # fmt: skip
        if policy.guarantee_months > 0 and ProposalKindChoices.GUARANTEE not in wanted:
            proposal = _guarantee(customer, credit, data, policy.guarantee_months)
            if proposal["guarantee_amount"] > 0:
                wanted[ProposalKindChoices.GUARANTEE] = proposal
    for kind, proposal in open_ones.items():
        if kind not in wanted:
            proposal.status, proposal.decided_at = ProposalStatusChoices.WITHDRAWN, timezone.now()
            proposal.save(update_fields=["status", "decided_at"])
    new = []
    for kind, values in wanted.items():
        if kind in open_ones:
            continue
        # A leader who rejected this for the customer is not asked again for a while.
        if (customer.pk, kind) in rejected:
            continue
        new.append(PolicyProposal(customer=customer, score=credit, grade=credit.grade, kind=kind, **values))
    return new


def _guarantee(customer, credit, data: CustomerInputs, months: Decimal) -> dict:
    needed = (data.average_bill * Decimal(months) - data.cover).quantize(Decimal("1"), rounding=ROUND_UP)
    return {
        "guarantee_amount": max(needed, Decimal(0)),
        **_reasons(
            lambda: (
                _("Grade %(grade)s calls for cover of %(months)s months of the average bill (%(bill)s); %(held)s held")
                % {"grade": credit.grade, "months": months, "bill": money(data.average_bill), "held": money(data.cover)}
            )
        ),
    }


def _reasons(render) -> dict[str, str]:
    """A proposal's reason in both languages (the scoring job runs in neither reader's)."""
    english, chinese = in_both(render)
    return {"reason": english, "reason_zh": chinese}


@transaction.atomic
def proposal_decide(*, proposal: PolicyProposal, by: User, accept: bool, note: str = "") -> PolicyProposal:
    """The area leader (or a manager) accepts or rejects. Accepting a settlement mode changes
    the customer's archive (with its history); a guarantee is then recorded when it arrives."""
    from core.permissions import can_lead

    if not can_lead(by):
        raise PermissionDenied(_("Only area leaders and managers decide proposals."))
    proposal = PolicyProposal.objects.select_for_update().select_related("customer").get(pk=proposal.pk)
    if proposal.status != ProposalStatusChoices.OPEN:
        raise ValidationError(_("This proposal has already been decided."))
    if not accept and not note.strip():
        raise ValidationError({"note": _("Say why the proposal is rejected.")})
    if accept and proposal.kind == ProposalKindChoices.SETTLEMENT_MODE:
        if proposal.customer.is_important and proposal.settlement_mode in PREPAID:
            raise ValidationError(_("An important user is not moved to a prepaid mode."))
        data = {"settlement_mode": proposal.settlement_mode}
        if proposal.settlement_mode == MODE.INSTALMENTS and (proposal.customer.instalments_per_month or 0) < 3:
            data["instalments_per_month"] = 3  # rule 6: at least three instalments a month
        customer_update(customer=proposal.customer, data=data, updated_by=by)
    proposal.status = ProposalStatusChoices.ACCEPTED if accept else ProposalStatusChoices.REJECTED
    proposal.decided_by, proposal.decided_at, proposal.decision_note = by, timezone.now(), note.strip()
    proposal._history_user = by
    proposal.save()
    return proposal


@transaction.atomic
def scorecard_publish(*, card: Scorecard, by: User) -> Scorecard:
    """Publish a draft after its checks pass; the version published before is retired. Scores
    already computed keep the version they were computed with."""
    if not (by.is_superuser or is_manager(by)):
        raise PermissionDenied(_("Only managers publish scorecards."))
    card = Scorecard.objects.select_for_update().get(pk=card.pk)
    if card.status != CARD.DRAFT:
        raise ValidationError(_("Only a draft can be published."))
    scorecard_check(card, _criteria(card))
    Scorecard.objects.filter(status=CARD.PUBLISHED).update(status=CARD.RETIRED)
    card.status, card.published_by, card.published_at = CARD.PUBLISHED, by, timezone.now()
    card._history_user = by
    card.save()
    return card


@transaction.atomic
def scorecard_draft_from(*, card: Scorecard, by: User, name: str = "", weights: dict[str, Decimal] | None = None):
    """A new draft version copied from a card, optionally with new weights (e.g. fitted ones)."""
    if not (by.is_superuser or is_manager(by)):
        raise PermissionDenied(_("Only managers edit scorecards."))
    version = (Scorecard.objects.aggregate(v=Max("version"))["v"] or 0) + 1
    draft = Scorecard.objects.create(
        version=version, name=name or card.name, grade_bands=card.grade_bands, created_by=by,
        notes=_("Copied from version %(version)s") % {"version": card.version},
    )  # fmt: skip
    for criterion in _criteria(card):
        old_weight = Decimal(criterion.weight)
        criterion.pk, criterion.scorecard = None, draft
        if weights and criterion.key in weights:
            new = Decimal(weights[criterion.key])
            # Band points scale with the weight so each band keeps its share of it.
            if criterion.bands and old_weight:
                criterion.bands = [
                    {
                        **band,
                        "points": float((Decimal(str(band["points"])) * new / old_weight).quantize(Decimal("0.1"))),
                    }
                    for band in criterion.bands
                ]
            criterion.weight = new
        criterion.save()
    return draft
