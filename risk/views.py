"""Staff pages of the risk floor: the credit panel of the customer page (grade, reasons, trend,
what would raise it, alerts, proposals, rescoring), a customer's score history, the lists of
grades, alerts and proposals, and the managers' scorecard and grade policy pages.

Everything about a customer is reached through the customer scope (customers_visible_to), so a
guessed URL outside it is a 404. Scorecards and grade policies are for managers (403 else).
"""

from __future__ import annotations

from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.forms import service_errors_on
from core.history import history_entries
from core.pagination import apply_sort, filter_data, paginate
from core.permissions import can_lead, can_log_contact_work, require
from core.roles import is_manager
from customers.models import Customer
from customers.selectors import customers_visible_to

from .alerts import alert_acknowledge
from .choices import AlertKindChoices, ProposalKindChoices, ProposalStatusChoices, ScorecardStatusChoices
from .filtersets import CreditScoreFilterSet, PolicyProposalFilterSet, RiskAlertFilterSet
from .forms import (
    AcknowledgeForm,
    CriterionForm,
    DraftFromForm,
    GradePolicyForm,
    ProposalDecisionForm,
    ScorecardDraftForm,
)
from .models import CreditScore, Criterion, GradePolicy, Scorecard
from .scoring import scorecard_check
from .selectors import (
    alerts_visible_to,
    breakdown_rows,
    grade_outlook,
    grades_known,
    latest_scores_visible_to,
    proposals_visible_to,
    published_grades,
    score_trend,
    scores_of,
)
from .services import proposal_decide, score_one, scorecard_draft_from, scorecard_publish
from .services_policy import (
    criterion_delete,
    criterion_save,
    dunning_policies_for,
    grade_policy_save,
    scorecard_draft_update,
)

PANEL_ALERTS = 20
HISTORY_PAGE = 25
# Grades sort by score: their letters do not (AAA before A alphabetically is the wrong way round).
SCORE_SORTS = {"score": "score", "customer": "customer__account_no", "as_of": "as_of"}
ALERT_SORTS = {"raised_on": "raised_on", "customer": "customer__account_no", "kind": "kind"}
PROPOSAL_SORTS = {"created_at": "created_at", "customer": "customer__account_no", "grade": "grade"}


def _querystring(request) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


def _with_default(request, name: str, default: str) -> QueryDict:
    """The filters of a work list, open items by default: without `name` the list shows
    `default`; `name=all` shows every state."""
    data = filter_data(request.GET) or QueryDict(mutable=True)
    if name not in data:
        data[name] = default
    elif data.getlist(name) == ["all"]:
        del data[name]
    return data


def _visible_customer(request, account_no: str) -> Customer:
    return get_object_or_404(customers_visible_to(request.user).select_related("region"), account_no=account_no)


def _require_manager(user) -> None:
    require(user.is_authenticated and (user.is_superuser or is_manager(user)))


def _errors_of(exc: ValidationError) -> str:
    return " ".join(exc.messages)


# ---------------------------------------------------------------------------------------------
# The credit panel of the customer page
# ---------------------------------------------------------------------------------------------
def _trend_chart(trend: list[CreditScore]) -> dict:
    return {
        "type": "line",
        "labels": [s.as_of.isoformat() for s in trend],
        "datasets": [
            {"label": _("Score"), "data": [float(s.score) for s in trend], "borderColor": "#0d6efd", "tension": 0.2}
        ],
        "scales": {"y": {"min": 0, "max": 100, "title": {"display": True, "text": _("Score")}}},
    }


def _panel_context(request, customer: Customer, *, done: str = "", error: str = "", alert_errors=None,
                   proposal_errors=None) -> dict:  # fmt: skip
    latest = scores_of(customer).first()
    rows = breakdown_rows(latest) if latest else []
    trend = score_trend(customer)
    policy = GradePolicy.objects.filter(grade=latest.grade).first() if latest else None
    alerts = list(
        customer.risk_alerts.filter(acknowledged_at__isnull=True).order_by("-raised_on", "-id")[:PANEL_ALERTS]
    )
    for alert in alerts:
        alert.error = (alert_errors or {}).get(alert.pk, "")
    proposals = list(customer.policy_proposals.filter(status=ProposalStatusChoices.OPEN).order_by("created_at"))
    for proposal in proposals:
        proposal.error = (proposal_errors or {}).get(proposal.pk, "")
    # An error about a row no longer open (acknowledged or decided meanwhile) shows at the top.
    shown = {("a", a.pk) for a in alerts} | {("p", p.pk) for p in proposals}
    leftover = [text for kind, errors in (("a", alert_errors), ("p", proposal_errors))
                for pk, text in (errors or {}).items() if (kind, pk) not in shown]  # fmt: skip
    error = " ".join([error, *leftover]).strip()
    return {
        "customer": customer,
        "score": latest,
        "rows": rows,
        "outlook": grade_outlook(latest, rows) if latest else None,
        "trend": trend[::-1],
        "chart": _trend_chart(trend),
        "chart_id": f"risk-trend-{customer.account_no}",
        "policy": policy,
        "alerts": alerts,
        "proposals": proposals,
        "can_acknowledge": can_log_contact_work(request.user),
        "can_decide": can_lead(request.user),
        "can_rescore": can_log_contact_work(request.user),
        "done": done,
        "error": error,
    }


def _render_panel(request, customer: Customer, *, status: int = 200, **kwargs):
    """The panel (an htmx swap of #risk-panel), or the same inside a page of its own for a
    browser without JavaScript. htmx only swaps 2xx answers, so errors are 200 to htmx and
    400 to a plain form post."""
    context = _panel_context(request, customer, **kwargs)
    if request.htmx:
        return render(request, "risk/partials/customer_panel.html", context)
    return render(request, "risk/customer_risk.html", context, status=status)


@require_GET
def customer_panel(request, account_no: str):
    return _render_panel(request, _visible_customer(request, account_no))


@require_POST
def customer_rescore(request, account_no: str):
    """Rescore one customer now with the published scorecard (collectors too): replaces the
    day's score, keeps the history."""
    require(can_log_contact_work(request.user))
    customer = _visible_customer(request, account_no)
    try:
        score = score_one(customer=customer, by=request.user)
    except ValidationError as exc:
        return _render_panel(request, customer, error=_errors_of(exc), status=400)
    done = _("Rescored as of %(date)s: grade %(grade)s, %(score)s points.") % {
        "date": score.as_of.isoformat(),
        "grade": score.grade,
        "score": score.score,
    }
    if request.htmx:
        return _render_panel(request, customer, done=done)
    messages.success(request, done)
    return redirect("customers:detail", account_no=customer.account_no)


@require_GET
def customer_scores(request, account_no: str):
    """Every score of the customer, newest first, each with its breakdown."""
    customer = _visible_customer(request, account_no)
    page = paginate(request, scores_of(customer), default_size=HISTORY_PAGE)
    page.object_list = [(s, breakdown_rows(s)) for s in page.object_list]
    template = "risk/partials/score_history.html" if request.htmx else "risk/customer_scores.html"
    return render(request, template, {"customer": customer, "page": page})


# ---------------------------------------------------------------------------------------------
# Alerts: acknowledged with a note, from the panel or the list
# ---------------------------------------------------------------------------------------------
@require_POST
def alert_acknowledge_view(request, pk: int):
    require(can_log_contact_work(request.user))
    alert = get_object_or_404(alerts_visible_to(request.user), pk=pk)
    from_panel = request.POST.get("return_to") == "panel"
    form = AcknowledgeForm(request.POST)
    error = ""
    if form.is_valid():
        try:
            alert = alert_acknowledge(alert=alert, by=request.user, note=form.cleaned_data["note"])
        except ValidationError as exc:
            error = _errors_of(exc)
        except PermissionDenied as exc:
            error = str(exc)
    else:
        error = " ".join(e for errors in form.errors.values() for e in errors)
    done = "" if error else _("Alert acknowledged.")
    if from_panel:
        if done and not request.htmx:
            messages.success(request, done)
            return redirect("customers:detail", account_no=alert.customer.account_no)
        return _render_panel(request, alert.customer, done=done, alert_errors={alert.pk: error} if error else None,
                             status=400 if error else 200)  # fmt: skip
    if request.htmx:
        context = {"a": alert, "can_acknowledge": True, "row_error": error, "row_done": done}
        return render(request, "risk/partials/alert_row.html", context)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, done)
    return redirect("risk:alert_list")


@require_GET
def alert_list(request):
    """Alerts in the user's scope: by default the open ones, oldest first (they wait longest)."""
    queryset = alerts_visible_to(request.user)
    data = _with_default(request, "acknowledged", "false")
    filterset = RiskAlertFilterSet(data, queryset=queryset, request=request)
    if filterset.is_valid():
        queryset = filterset.qs
    queryset, sort = apply_sort(request, queryset, ALERT_SORTS, "raised_on")
    context = {
        "filterset": filterset,
        "page": paginate(request, queryset),
        "sort": sort,
        "querystring": _querystring(request),
        "kinds": AlertKindChoices.choices,
        "can_acknowledge": can_log_contact_work(request.user),
    }
    template = "risk/partials/alert_table.html" if request.htmx else "risk/alert_list.html"
    return render(request, template, context)


# ---------------------------------------------------------------------------------------------
# Policy proposals: the area leader (or a manager) accepts or rejects
# ---------------------------------------------------------------------------------------------
@require_POST
def proposal_decide_view(request, pk: int):
    require(can_lead(request.user))
    proposal = get_object_or_404(proposals_visible_to(request.user), pk=pk)
    from_panel = request.POST.get("return_to") == "panel"
    form = ProposalDecisionForm(request.POST)
    error = done = ""
    if form.is_valid():
        accept = form.cleaned_data["decision"] == "accept"
        try:
            proposal = proposal_decide(
                proposal=proposal, by=request.user, accept=accept, note=form.cleaned_data["note"]
            )
        except ValidationError as exc:
            error = _errors_of(exc)
        except PermissionDenied as exc:
            error = str(exc)
        else:
            done = _("Proposal accepted.") if accept else _("Proposal rejected.")
    else:
        error = " ".join(e for errors in form.errors.values() for e in errors)
    if from_panel:
        customer = proposal.customer
        if done and not request.htmx:
            messages.success(request, done)
            return redirect("customers:detail", account_no=customer.account_no)
        return _render_panel(request, customer, done=done, proposal_errors={proposal.pk: error} if error else None,
                             status=400 if error else 200)  # fmt: skip
    if request.htmx:
        proposal = proposals_visible_to(request.user).get(pk=proposal.pk)
        context = {"p": proposal, "can_decide": True, "row_error": error, "row_done": done}
        return render(request, "risk/partials/proposal_row.html", context)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, done)
    return redirect("risk:proposal_list")


@require_GET
def proposal_list(request):
    """Proposals in the leader's scope; by default the open ones, oldest first."""
    require(can_lead(request.user))
    queryset = proposals_visible_to(request.user)
    data = _with_default(request, "status", ProposalStatusChoices.OPEN)
    filterset = PolicyProposalFilterSet(data, queryset=queryset, request=request)
    if filterset.is_valid():
        queryset = filterset.qs
    queryset, sort = apply_sort(request, queryset, PROPOSAL_SORTS, "created_at")
    context = {
        "filterset": filterset,
        "page": paginate(request, queryset),
        "sort": sort,
        "querystring": _querystring(request),
        "statuses": ProposalStatusChoices.choices,
        "kinds": ProposalKindChoices.choices,
        "can_decide": True,
    }
    template = "risk/partials/proposal_table.html" if request.htmx else "risk/proposal_list.html"
    return render(request, template, context)


# ---------------------------------------------------------------------------------------------
# The latest grade of every customer in scope
# ---------------------------------------------------------------------------------------------
@require_GET
def score_list(request):
    queryset = latest_scores_visible_to(request.user)
    filterset = CreditScoreFilterSet(filter_data(request.GET), queryset=queryset, request=request)
    if filterset.is_bound and filterset.is_valid():
        queryset = filterset.qs
    queryset, sort = apply_sort(request, queryset, SCORE_SORTS, "score")
    context = {
        "filterset": filterset,
        "page": paginate(request, queryset),
        "sort": sort,
        "querystring": _querystring(request),
        "grades": grades_known(),
        "industries": CreditScoreFilterSet.base_filters["industry"].extra["choices"],
        "importances": CreditScoreFilterSet.base_filters["importance"].extra["choices"],
        "is_manager": is_manager(request.user),
        # Proposals, scorecards and grade policies are reached from here, not the crowded menu.
        "open_proposals": (
            proposals_visible_to(request.user).filter(status=ProposalStatusChoices.OPEN).count()
            if can_lead(request.user)
            else None
        ),
    }
    template = "risk/partials/score_table.html" if request.htmx else "risk/score_list.html"
    return render(request, template, context)


# ---------------------------------------------------------------------------------------------
# Scorecards (managers): versions, a draft edited in the UI, publishing
# ---------------------------------------------------------------------------------------------
def _plain(value) -> str:
    """A stored decimal without its trailing zeros (0.5000 → 0.5), or a dash."""
    return "—" if value is None else format(Decimal(value).normalize(), "f")


def _band_lines(criterion: Criterion) -> list[str]:
    if criterion.method == "linear":
        return [f"{_plain(criterion.linear_from)} → 0 · {_plain(criterion.linear_to)} → {_plain(criterion.weight)}"]
    lines = []
    for band in criterion.bands if isinstance(criterion.bands, list) else []:
        if not isinstance(band, dict):
            continue
        low, high = band.get("min"), band.get("max")
        if low is None and high is None:
            span = "*"
        elif low is None:
            span = f"< {high}"
        elif high is None:
            span = f"≥ {low}"
        else:
            span = f"{low} – {high}"
        lines.append(f"{span}: {band.get('points')}")
    return lines


def _problems(card: Scorecard) -> list[str]:
    try:
        scorecard_check(card, list(card.criteria.order_by("position", "id")))
    except ValidationError as exc:
        return exc.messages
    return []


def _card(version: int) -> Scorecard:
    return get_object_or_404(Scorecard.objects.select_related("created_by", "published_by"), version=version)


@require_GET
def scorecard_list(request):
    _require_manager(request.user)
    cards = list(Scorecard.objects.select_related("published_by").prefetch_related("criteria").order_by("-version"))
    for card in cards:
        card.total_weight = sum((c.weight for c in card.criteria.all()), 0)
    context = {"cards": cards, "draft_form": DraftFromForm()}
    return render(request, "risk/scorecard_list.html", context)


def _scorecard_page(request, card: Scorecard, *, publish_errors=None, status: int = 200):
    criteria = list(card.criteria.order_by("position", "id"))
    for criterion in criteria:
        criterion.band_lines = _band_lines(criterion)
    context = {
        "card": card,
        "criteria": criteria,
        "total_weight": sum((c.weight for c in criteria), 0),
        "is_draft": card.status == ScorecardStatusChoices.DRAFT,
        "problems": _problems(card) if card.status == ScorecardStatusChoices.DRAFT else [],
        "publish_errors": publish_errors or [],
        "published": Scorecard.objects.filter(status=ScorecardStatusChoices.PUBLISHED).first(),
        "scores_count": card.scores.count(),
        "history": history_entries(card, limit=20),
        "draft_form": DraftFromForm(),
    }
    return render(request, "risk/scorecard_detail.html", context, status=status)


@require_GET
def scorecard_detail(request, version: int):
    _require_manager(request.user)
    return _scorecard_page(request, _card(version))


@require_POST
def scorecard_new_draft(request, version: int):
    """A new draft version copied from this one (published versions are never edited)."""
    _require_manager(request.user)
    card = _card(version)
    form = DraftFromForm(request.POST)
    name = form.cleaned_data["name"] if form.is_valid() else ""
    draft = scorecard_draft_from(card=card, by=request.user, name=name)
    messages.success(
        request, _("Draft version %(draft)s made from version %(version)s.") % {"draft": draft.version,
                                                                                  "version": card.version}
    )  # fmt: skip
    return redirect("risk:scorecard_detail", version=draft.version)


@require_POST
def scorecard_publish_view(request, version: int):
    """Publish a draft after scorecard_check; on failure nothing changes and the messages say
    why, the published version staying in force."""
    _require_manager(request.user)
    card = _card(version)
    try:
        scorecard_publish(card=card, by=request.user)
    except ValidationError as exc:
        return _scorecard_page(request, card, publish_errors=exc.messages, status=400)
    messages.success(
        request,
        _("Version %(version)s is published; new scores use it, scores already made keep their version.")
        % {"version": card.version},
    )
    return redirect("risk:scorecard_detail", version=card.version)


@require_http_methods(["GET", "POST"])
def scorecard_edit(request, version: int):
    """Name, notes and grade bands of a draft."""
    _require_manager(request.user)
    card = _card(version)
    if card.status != ScorecardStatusChoices.DRAFT:
        messages.error(request, _("Only a draft can be changed; make a new draft from this version."))
        return redirect("risk:scorecard_detail", version=card.version)
    form = ScorecardDraftForm(
        request.POST or None, bands=card.grade_bands, initial={"name": card.name, "notes": card.notes}
    )
    if request.method == "POST" and form.is_valid():
        data = {k: form.cleaned_data[k] for k in ("name", "notes", "grade_bands")}
        try:
            scorecard_draft_update(card=card, data=data, by=request.user)
        except ValidationError as exc:
            service_errors_on(form, exc)
        else:
            messages.success(request, _("Draft saved."))
            return redirect("risk:scorecard_detail", version=card.version)
    status = 400 if request.method == "POST" else 200
    return render(request, "risk/scorecard_form.html", {"card": card, "form": form}, status=status)


def _criterion_initial(criterion: Criterion | None, card: Scorecard) -> dict:
    if criterion is None:
        position = (card.criteria.order_by("-position").values_list("position", flat=True).first() or 0) + 1
        return {"method": "bands", "no_data_share": "0.5", "position": position, "bands": []}
    return {name: getattr(criterion, name) for name in CriterionForm.base_fields}


@require_http_methods(["GET", "POST"])
def criterion_edit(request, version: int, key: str | None = None):
    """Add a criterion to a draft, or change one: weight, bands (JSON), linear values, reasons."""
    _require_manager(request.user)
    card = _card(version)
    criterion = get_object_or_404(card.criteria, key=key) if key else None
    if card.status != ScorecardStatusChoices.DRAFT:
        messages.error(request, _("Only a draft can be changed; make a new draft from this version."))
        return redirect("risk:scorecard_detail", version=card.version)
    form = CriterionForm(request.POST or None, initial=_criterion_initial(criterion, card))
    if request.method == "POST" and form.is_valid():
        try:
            criterion_save(card=card, data=form.cleaned_data, by=request.user, criterion=criterion)
        except ValidationError as exc:
            service_errors_on(form, exc)
        else:
            messages.success(request, _("Criterion %(key)s saved.") % {"key": form.cleaned_data["key"]})
            return redirect("risk:scorecard_detail", version=card.version)
    status = 400 if request.method == "POST" else 200
    context = {"card": card, "criterion": criterion, "form": form}
    return render(request, "risk/criterion_form.html", context, status=status)


@require_POST
def criterion_delete_view(request, version: int, key: str):
    _require_manager(request.user)
    card = _card(version)
    criterion = get_object_or_404(card.criteria, key=key)
    try:
        criterion_delete(criterion=criterion, by=request.user)
    except ValidationError as exc:
        messages.error(request, _errors_of(exc))
    else:
        messages.success(request, _("Criterion %(key)s removed.") % {"key": key})
    return redirect("risk:scorecard_detail", version=card.version)


# ---------------------------------------------------------------------------------------------
# Grade policies (managers)
# ---------------------------------------------------------------------------------------------
@require_GET
def grade_policy_list(request):
    """One row per grade of the published scorecard, with its policy and dunning ladder; a
    policy for a grade the scorecard no longer gives is listed apart, to be retired."""
    _require_manager(request.user)
    card, grades = published_grades()
    policies = {p.grade: p for p in GradePolicy.objects.all()}
    rows = [(grade, policies.get(grade), dunning_policies_for(grade)) for grade in grades]
    context = {
        "card": card,
        "rows": rows,
        "unknown": [p for grade, p in sorted(policies.items()) if grade not in grades],
    }
    return render(request, "risk/grade_policy_list.html", context)


@require_http_methods(["GET", "POST"])
def grade_policy_edit(request, grade: str | None = None):
    _require_manager(request.user)
    policy = GradePolicy.objects.filter(grade=grade).first() if grade else None
    current = dunning_policies_for(grade) if grade else []
    initial = {"grade": grade or "", "guarantee_months": 0, "monitoring_days": 30}
    if policy is not None:
        initial.update({name: getattr(policy, name) for name in ("settlement_mode", "guarantee_months",
                                                                  "monitoring_days", "incentives")})  # fmt: skip
    initial["dunning_policy"] = current[0].pk if current else None
    form = GradePolicyForm(request.POST or None, initial=initial, fixed_grade=bool(grade))
    if request.method == "POST" and form.is_valid():
        data = {name: form.cleaned_data[name] for name in ("settlement_mode", "guarantee_months", "monitoring_days",
                                                           "incentives")}  # fmt: skip
        try:
            saved, changes = grade_policy_save(
                grade=form.cleaned_data["grade"], data=data, by=request.user,
                dunning_policy=form.cleaned_data["dunning_policy"],
            )  # fmt: skip
        except ValidationError as exc:
            service_errors_on(form, exc)
        else:
            text = _("Policy of grade %(grade)s saved.") % {"grade": saved.grade}
            if changes:
                text = " ".join([text, _("Dunning: %(changes)s") % {"changes": "; ".join(changes)}])
            messages.success(request, text)
            return redirect("risk:grade_policy_list")
    context = {
        "grade": grade,
        "policy": policy,
        "form": form,
        "current": current,
        "history": history_entries(policy, limit=20) if policy else [],
    }
    return render(request, "risk/grade_policy_form.html", context, status=400 if request.method == "POST" else 200)
