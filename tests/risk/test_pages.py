"""The risk pages as staff see them: the credit panel of the customer page (grade, reasons in
the viewer's language, trend, what would raise the grade, alerts, proposals, rescoring), the
lists, and the managers' scorecard and grade policy pages."""

import datetime as dt
import json
from decimal import Decimal as D

import pytest
from django.urls import reverse
from django.utils import timezone

from collection.models import DunningPolicy
from risk.models import CreditScore, GradePolicy, PolicyProposal, RiskAlert, Scorecard
from risk.selectors import worklist_alerts
from risk.services import published_scorecard, score_one
from tests.factories import make_bill

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def panel_url(customer) -> str:
    return reverse("risk:customer_panel", args=[customer.account_no])


@pytest.fixture
def scored(portfolio):
    """Steel A1 scored three times, a week apart (the latest today)."""
    customer = portfolio["a1"]
    customer.industry = "steel"
    customer.line_ageing = True
    customer.save()
    today = timezone.localdate()
    for weeks in (2, 1, 0):
        score_one(customer=customer, as_of=today - dt.timedelta(weeks=weeks))
    return customer


def latest(customer) -> CreditScore:
    return CreditScore.objects.filter(customer=customer).order_by("-as_of", "-id").first()


def test_the_panel_shows_the_grade_and_the_reasons_in_english(client, collector, scored):
    score = latest(scored)
    client.force_login(collector)
    html = client.get(panel_url(scored), **HTMX).content.decode()
    assert f'data-grade="{score.grade}"' in html
    assert f"{score.score} points" in html
    assert f"Scorecard version {score.scorecard.version}, as of {score.as_of:%Y-%m-%d}" in html
    assert "Promises and agreements kept" in html
    assert "0 broken promises or arrangements in 12 months" in html
    assert "12个月内违约承诺或协议0次" not in html
    # A customer with fewer than six bills is graded by the new-customer rule, said in words.
    assert "set by a rule: New customer (fewer than 6 bills)" in html
    # The trend: a chart and the same three scores in a table.
    assert 'data-chart="risk-trend-3100000001"' in html
    assert html.count("<td>" + f"{score.as_of:%Y-%m-%d}") == 1
    chart = html.split('<script id="risk-trend-3100000001" type="application/json">')[1].split("</script>")[0]
    assert len(json.loads(chart)["labels"]) == 3


def test_a_chinese_user_reads_the_labels_and_reasons_in_chinese(client, collector, scored):
    client.force_login(collector)
    html = client.get(panel_url(scored), HTTP_ACCEPT_LANGUAGE="zh-hans", **HTMX).content.decode()
    assert "履约情况" in html
    assert "12个月内违约承诺或协议0次" in html
    assert "0 broken promises or arrangements in 12 months" not in html
    # The choice follows the language cookie set by the language switcher as well.
    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    assert "12个月内违约承诺或协议0次" in client.get(panel_url(scored), **HTMX).content.decode()


def test_the_panel_says_what_would_raise_the_grade(client, collector, scored):
    score = latest(scored)
    bands = score.scorecard.grade_bands
    grades = [g for g, _low in bands]
    position = grades.index(score.score_grade)
    assert position > 0, "the test customer should not already reach the best grade"
    next_grade, lowest = bands[position - 1]
    needed = D(str(lowest)) - score.score
    worst = max(score.breakdown, key=lambda row: D(row["weight"]) - D(row["points"]))
    shortfall = D(worst["weight"]) - D(worst["points"])
    client.force_login(collector)
    html = client.get(panel_url(scored), **HTMX).content.decode()
    outlook = html.split('id="risk-raise"')[1].split("</div>")[0]
    assert f"{needed} more points reach grade {next_grade}." in outlook
    assert f"{worst['label_en']}: {shortfall} points short" in outlook
    assert worst["reason_en"] in outlook


def test_a_customer_not_scored_yet_shows_so_and_a_collector_rescores_it(client, collector, portfolio):
    customer = portfolio["a2"]
    client.force_login(collector)
    html = client.get(panel_url(customer), **HTMX).content.decode()
    assert 'id="risk-not-scored"' in html and "Rescore now" in html
    response = client.post(reverse("risk:customer_rescore", args=[customer.account_no]), **HTMX)
    assert response.status_code == 200
    score = latest(customer)
    assert score is not None and score.as_of == timezone.localdate()
    html = response.content.decode()
    assert f"Rescored as of {score.as_of:%Y-%m-%d}: grade {score.grade}" in html
    assert 'id="risk-breakdown"' in html
    customer.refresh_from_db()
    assert customer.credit_grade == score.grade


def test_another_areas_customer_is_not_found(client, collector, scored, portfolio):
    other = portfolio["b1"]
    score_one(customer=other)
    client.force_login(collector)
    assert client.get(panel_url(other), **HTMX).status_code == 404
    assert client.post(reverse("risk:customer_rescore", args=[other.account_no])).status_code == 404
    assert client.get(reverse("risk:customer_scores", args=[other.account_no])).status_code == 404
    listed = client.get(reverse("risk:score_list")).content.decode()
    assert "3100000001" in listed and "3100000003" not in listed


def test_the_customer_page_loads_the_credit_panel_and_the_history_page_lists_every_score(client, collector, scored):
    client.force_login(collector)
    page = client.get(reverse("customers:detail", args=[scored.account_no])).content.decode()
    assert panel_url(scored) in page
    history = client.get(reverse("risk:customer_scores", args=[scored.account_no])).content.decode()
    assert "3 scores, newest first" in history
    assert "0 broken promises or arrangements in 12 months" in history


def test_the_score_list_filters_by_grade_and_changed_since(client, manager, scored, portfolio):
    score_one(customer=portfolio["b1"])
    grade = latest(scored).grade
    client.force_login(manager)
    rows = client.get(reverse("risk:score_list"), {"grade": grade}, **HTMX).content.decode()
    assert "3100000001" in rows and "3100000003" in rows  # both new customers: the same rule grade
    # Steel A1 has had its grade for two weeks; Chem B1 got its first grade today.
    since = (timezone.localdate() - dt.timedelta(days=3)).isoformat()
    rows = client.get(reverse("risk:score_list"), {"changed_since": since}, **HTMX).content.decode()
    assert "3100000003" in rows and "3100000001" not in rows
    bad = client.get(reverse("risk:score_list"), {"changed_since": "not-a-date"})
    assert bad.status_code == 200 and "Enter a valid date." in bad.content.decode()


# ---------------------------------------------------------------------------------------------
# Alerts
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def alert(portfolio):
    return RiskAlert.objects.create(customer=portfolio["a1"], kind="consumption_drop", raised_on=timezone.localdate(),
                                    detail="14-day consumption 42% below the baseline",
                                    dedupe_key="test:drop:a1")  # fmt: skip


def test_acknowledging_an_alert_needs_a_note(client, collector, alert):
    client.force_login(collector)
    url = reverse("risk:alert_acknowledge", args=[alert.pk])
    response = client.post(url, {"note": "  ", "return_to": "panel"}, **HTMX)
    assert "Say what was done about the alert." in response.content.decode()
    alert.refresh_from_db()
    assert alert.acknowledged_at is None
    response = client.post(url, {"note": "Visited: one line down for repair", "return_to": "panel"}, **HTMX)
    assert "Alert acknowledged." in response.content.decode()
    assert "No open alerts." in response.content.decode()
    alert.refresh_from_db()
    assert (alert.acknowledged_by, alert.note) == (collector, "Visited: one line down for repair")
    # From the alert list the row is swapped in place, acknowledged.
    listed = client.get(reverse("risk:alert_list"), {"acknowledged": "true"}).content.decode()
    assert "Visited: one line down for repair" in listed
    assert "No alerts match these filters." in client.get(reverse("risk:alert_list")).content.decode()


def test_the_alert_list_acknowledges_inline_and_is_scoped(client, collector, other_collector, alert):
    client.force_login(other_collector)
    assert "14-day consumption" not in client.get(reverse("risk:alert_list")).content.decode()
    assert client.post(reverse("risk:alert_acknowledge", args=[alert.pk]), {"note": "x"}).status_code == 404
    client.force_login(collector)
    assert "14-day consumption" in client.get(reverse("risk:alert_list")).content.decode()
    row = client.post(reverse("risk:alert_acknowledge", args=[alert.pk]), {"note": "", "return_to": "list"}, **HTMX)
    assert 'id="alert-' in row.content.decode() and "Say what was done about the alert." in row.content.decode()
    row = client.post(reverse("risk:alert_acknowledge", args=[alert.pk]), {"note": "Called", "return_to": "list"},
                      **HTMX).content.decode()  # fmt: skip
    assert "Alert acknowledged." in row and "Called" in row and "<form" not in row


def test_open_alerts_land_in_the_worklist_with_the_arrears(collector, other_collector, alert, portfolio):
    today = timezone.localdate()
    make_bill(portfolio["a1"], "8000.00", today - dt.timedelta(days=20), number="RISK-W-1")
    RiskAlert.objects.create(customer=portfolio["b1"], kind="grade_fall", raised_on=today, detail="A to C",
                             dedupe_key="test:fall:b1")  # fmt: skip
    from customers.selectors import customers_visible_to

    rows = worklist_alerts(collector, today, customers_visible_to(collector))
    assert rows == [(portfolio["a1"].pk, "Consumption drop", alert.detail, D("8000.00"), "visit")]
    other = worklist_alerts(other_collector, today, customers_visible_to(other_collector))
    assert [(r[1], r[3], r[4]) for r in other] == [("Grade fell two or more steps", D("0"), "call")]
    alert.acknowledged_at = timezone.now()
    alert.save()
    assert worklist_alerts(collector, today, customers_visible_to(collector)) == []


# ---------------------------------------------------------------------------------------------
# Proposals
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def proposed(scored):
    """The grade's policy asks for remote prepaid control, so rescoring proposes it."""
    GradePolicy.objects.filter(grade=latest(scored).grade).update(settlement_mode="prepaid_remote")
    score_one(customer=scored)
    return PolicyProposal.objects.get(customer=scored, kind="settlement_mode", status="open")


def test_accepting_a_proposal_changes_the_settlement_mode_with_its_history(client, collector, area_leader, proposed):
    customer = proposed.customer
    url = reverse("risk:proposal_decide", args=[proposed.pk])
    client.force_login(collector)
    panel = client.get(panel_url(customer), **HTMX).content.decode()
    assert "Remote prepaid control" in panel and "Waiting for the area leader." in panel
    assert client.post(url, {"decision": "accept", "return_to": "panel"}).status_code == 403
    assert client.get(reverse("risk:proposal_list")).status_code == 403

    client.force_login(area_leader)
    assert "3100000001" in client.get(reverse("risk:proposal_list")).content.decode()
    rejected = client.post(url, {"decision": "reject", "note": "", "return_to": "panel"}, **HTMX).content.decode()
    assert "Say why the proposal is rejected." in rejected
    accepted = client.post(url, {"decision": "accept", "note": "Agreed with the customer", "return_to": "panel"},
                           **HTMX).content.decode()  # fmt: skip
    assert "Proposal accepted." in accepted and "No open proposals." in accepted
    customer.refresh_from_db()
    assert customer.settlement_mode == "prepaid_remote"
    change = customer.history.order_by("-history_date").first()
    assert change.history_user == area_leader and change.settlement_mode == "prepaid_remote"
    page = client.get(reverse("customers:detail", args=[customer.account_no])).content.decode()
    assert "Monthly</span> → Remote prepaid control" in page


# ---------------------------------------------------------------------------------------------
# Scorecards and grade policies (managers)
# ---------------------------------------------------------------------------------------------
def test_collectors_and_leaders_cannot_see_or_edit_scorecards(client, collector, area_leader):
    card = published_scorecard()
    for user in (collector, area_leader):
        client.force_login(user)
        assert client.get(reverse("risk:scorecard_list")).status_code == 403
        assert client.get(reverse("risk:scorecard_detail", args=[card.version])).status_code == 403
        assert client.post(reverse("risk:scorecard_new_draft", args=[card.version])).status_code == 403
        assert client.post(reverse("risk:scorecard_publish", args=[card.version])).status_code == 403
        assert client.get(reverse("risk:grade_policy_list")).status_code == 403
    assert Scorecard.objects.count() == 2  # the default card's two versions, nothing added


def criterion_data(criterion, **changes) -> dict:
    data = {
        "key": criterion.key, "group": criterion.group, "label_en": criterion.label_en, "label_zh": criterion.label_zh,
        "source": criterion.source, "weight": criterion.weight, "method": criterion.method,
        "bands": json.dumps(criterion.bands), "linear_from": criterion.linear_from or "",
        "linear_to": criterion.linear_to or "", "no_data_share": criterion.no_data_share,
        "explanation_en": criterion.explanation_en, "explanation_zh": criterion.explanation_zh,
        "position": criterion.position,
    }  # fmt: skip
    data.update(changes)
    return data


def test_publishing_a_bad_draft_shows_why_and_keeps_the_published_version(client, manager, scored):
    v1 = published_scorecard()
    old_scores = CreditScore.objects.filter(scorecard=v1).count()
    client.force_login(manager)
    response = client.post(reverse("risk:scorecard_new_draft", args=[v1.version]), {"name": "Stricter"})
    draft = Scorecard.objects.get(status="draft")
    assert response.url == reverse("risk:scorecard_detail", args=[draft.version])
    on_time = draft.criteria.get(key="on_time")
    # Weight 25 (the weights now add up to 105) and bands that overlap at 0.7.
    overlapping = [{"min": None, "max": 0.5, "points": 0}, {"min": 0.5, "max": 0.8, "points": 10},
                   {"min": 0.7, "max": None, "points": 25}]  # fmt: skip
    edit = client.post(reverse("risk:criterion_edit", args=[draft.version, "on_time"]),
                       criterion_data(on_time, weight="25", bands=json.dumps(overlapping)))  # fmt: skip
    assert edit.status_code == 302
    added = client.post(reverse("risk:criterion_create", args=[draft.version]), {
        "key": "visits", "label_en": "Service visits", "label_zh": "走访", "source": "", "weight": "0",
        "method": "bands", "bands": '[{"min": null, "max": null, "points": 0}]', "no_data_share": "0.5",
        "explanation_en": "visited", "explanation_zh": "走访", "position": "20",
    })  # fmt: skip
    assert added.status_code == 302
    page = client.get(reverse("risk:scorecard_detail", args=[draft.version])).content.decode()
    assert "To fix before publishing:" in page

    refused = client.post(reverse("risk:scorecard_publish", args=[draft.version]))
    assert refused.status_code == 400
    html = refused.content.decode()
    assert f"Version {draft.version} was not published." in html
    assert f"Version {v1.version} stays published." in html
    assert "The weights add up to 105.0, not 100." in html
    assert "Criterion visits has no data source." in html
    assert "Criterion on_time: the bands have overlap at 0.8." in html
    v1.refresh_from_db()
    draft.refresh_from_db()
    assert (v1.status, draft.status) == ("published", "draft")

    # Fixed: the weight back to 20, the bands meeting, the criterion without a source gone.
    meeting = [{"min": None, "max": 0.5, "points": 0}, {"min": 0.5, "max": 0.8, "points": 10},
               {"min": 0.8, "max": None, "points": 20}]  # fmt: skip
    client.post(reverse("risk:criterion_edit", args=[draft.version, "on_time"]),
                criterion_data(on_time, weight="20", bands=json.dumps(meeting)))  # fmt: skip
    client.post(reverse("risk:criterion_delete", args=[draft.version, "visits"]))
    published = client.post(reverse("risk:scorecard_publish", args=[draft.version]))
    assert published.status_code == 302
    v1.refresh_from_db()
    draft.refresh_from_db()
    assert (v1.status, draft.status) == ("retired", "published")
    # Old scores keep the version they were computed with; the retired version is read-only.
    assert CreditScore.objects.filter(scorecard=v1).count() == old_scores
    v1_criterion = v1.criteria.get(key="on_time")
    locked = client.post(reverse("risk:criterion_edit", args=[v1.version, "on_time"]),
                         criterion_data(v1_criterion, weight="30"))  # fmt: skip
    assert locked.status_code == 302
    v1_criterion.refresh_from_db()
    assert v1_criterion.weight == D("20")


def test_a_criterion_with_bands_that_are_not_json_is_refused_on_the_form(client, manager):
    client.force_login(manager)
    client.post(reverse("risk:scorecard_new_draft", args=[published_scorecard().version]))
    draft = Scorecard.objects.get(status="draft")
    criterion = draft.criteria.get(key="worst_delay")
    response = client.post(reverse("risk:criterion_edit", args=[draft.version, "worst_delay"]),
                           criterion_data(criterion, bands='[{"min": 0, "points": "many"}]'))  # fmt: skip
    assert response.status_code == 400
    assert "Band 1: points must be a number." in response.content.decode()


def test_the_grade_bands_of_a_draft_are_edited_as_rows(client, manager):
    client.force_login(manager)
    client.post(reverse("risk:scorecard_new_draft", args=[published_scorecard().version]))
    draft = Scorecard.objects.get(status="draft")
    rows = {"name": draft.name, "notes": "", "rows": "4", "grade_0": "a", "lowest_0": "75", "grade_1": "B",
            "lowest_1": "55", "grade_2": "C", "lowest_2": "0", "grade_3": "", "lowest_3": ""}  # fmt: skip
    assert client.post(reverse("risk:scorecard_edit", args=[draft.version]), rows).status_code == 302
    draft.refresh_from_db()
    assert draft.grade_bands == [["A", 75], ["B", 55], ["C", 0]]
    half = {**rows, "grade_3": "D"}
    response = client.post(reverse("risk:scorecard_edit", args=[draft.version]), half)
    assert response.status_code == 400 and "Give the lowest score of grade D." in response.content.decode()


def test_a_grade_policy_chooses_the_dunning_ladder_and_refuses_unknown_grades(client, manager):
    strict = DunningPolicy.objects.create(code="strict", name="Strict ladder", priority=10, credit_grades="B")
    soft = DunningPolicy.objects.create(code="soft", name="Soft ladder", priority=20, credit_grades="A,C")
    client.force_login(manager)
    form = {"settlement_mode": "prepaid_remote", "guarantee_months": "2", "monitoring_days": "7",
            "incentives": "", "dunning_policy": strict.pk}  # fmt: skip
    response = client.post(reverse("risk:grade_policy_edit", args=["C"]), form)
    assert response.status_code == 302
    strict.refresh_from_db()
    soft.refresh_from_db()
    assert (strict.credit_grades, soft.credit_grades) == ("B,C", "A")
    policy = GradePolicy.objects.get(grade="C")
    assert (policy.guarantee_months, policy.monitoring_days) == (D("2.0"), 7)
    page = client.get(reverse("risk:grade_policy_edit", args=["C"])).content.decode()
    assert "Dunning: C added to Strict ladder; C removed from Soft ladder" in page

    # Taking A from the soft ladder would leave it without grades (= every grade): refused.
    refused = client.post(reverse("risk:grade_policy_edit", args=["A"]), {**form, "dunning_policy": ""})
    assert refused.status_code == 400
    assert "Soft ladder is only for grade A" in refused.content.decode()
    soft.refresh_from_db()
    assert soft.credit_grades == "A"

    unknown = client.post(reverse("risk:grade_policy_create"), {**form, "grade": "D", "dunning_policy": ""})
    assert unknown.status_code == 400
    assert "D is not a grade of the published scorecard; its grades are AAA, AA, A, B, C." in unknown.content.decode()
    assert not GradePolicy.objects.filter(grade="D").exists()


def test_a_manager_opens_every_risk_page_and_the_admin(client, manager, proposed, alert):
    from django.contrib.auth.models import User

    client.force_login(manager)
    card = published_scorecard()
    client.post(reverse("risk:scorecard_new_draft", args=[card.version]))
    draft = Scorecard.objects.get(status="draft")
    customer = proposed.customer
    pages = [
        reverse("risk:score_list"),
        reverse("risk:alert_list"),
        reverse("risk:alert_list") + "?acknowledged=all&kind=consumption_drop&sort=-kind",
        reverse("risk:proposal_list"),
        reverse("risk:proposal_list") + "?status=all&sort=grade",
        reverse("risk:scorecard_list"),
        reverse("risk:scorecard_detail", args=[card.version]),
        reverse("risk:scorecard_detail", args=[draft.version]),
        reverse("risk:scorecard_edit", args=[draft.version]),
        reverse("risk:criterion_create", args=[draft.version]),
        reverse("risk:criterion_edit", args=[draft.version, "cover"]),
        reverse("risk:grade_policy_list"),
        reverse("risk:grade_policy_edit", args=["C"]),
        reverse("risk:grade_policy_create"),
        reverse("risk:customer_panel", args=[customer.account_no]),  # without htmx: a page of its own
        reverse("risk:customer_scores", args=[customer.account_no]),
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
    assert "Open policy proposals" in client.get(pages[-2]).content.decode()
    assert client.get("/risk/grade-policies/C%00/").status_code == 404

    admin = User.objects.create_superuser("risk_admin", password="x")
    client.force_login(admin)
    for model in ("scorecard", "criterion", "creditscore", "gradepolicy", "policyproposal", "riskalert", "scoringrun"):
        listing = client.get(f"/admin/risk/{model}/")
        assert listing.status_code in (200, 404), model  # criteria are edited inline only
    assert client.get(f"/admin/risk/scorecard/{card.pk}/change/").status_code == 200
    assert client.get(f"/admin/risk/scorecard/{draft.pk}/change/").status_code == 200
    refused = client.post("/admin/risk/gradepolicy/add/", {"grade": "D", "guarantee_months": "0",
                                                          "monitoring_days": "30"})  # fmt: skip
    assert refused.status_code == 200 and "D is not a grade of the published scorecard" in refused.content.decode()
