"""Risk API: latest grades with filters, a customer's history with the breakdown and rescoring,
scorecards for managers, alerts with acknowledgement, proposals with the leader's decision —
scoped like everything else (404 outside the scope, 403 for the wrong role, 400 naming the
field for bad input)."""

import datetime as dt

import pytest
from django.utils import timezone

from risk.models import CreditScore, GradePolicy, PolicyProposal, RiskAlert
from risk.services import score_one

pytestmark = pytest.mark.django_db


@pytest.fixture
def graded(portfolio):
    """A1 (steel) scored last month and today, A2 and B1 today."""
    today = timezone.localdate()
    portfolio["a1"].industry = "steel"
    portfolio["a1"].save()
    score_one(customer=portfolio["a1"], as_of=today - dt.timedelta(days=30))
    for key in ("a1", "a2", "b1"):
        score_one(customer=portfolio[key])
    return portfolio


def accounts(response) -> list[str]:
    return sorted(row["customer"] for row in response.json()["results"])


def test_scores_lists_the_latest_score_of_each_customer_in_scope(api_as, collector, manager, graded):
    response = api_as(collector).get("/api/v1/scores/")
    assert response.status_code == 200
    assert accounts(response) == ["3100000001", "3100000002"]
    row = next(r for r in response.json()["results"] if r["customer"] == "3100000001")
    assert row["as_of"] == timezone.localdate().isoformat()
    assert row["industry"] == "steel" and row["region"] == "AA" and row["scorecard_version"] == 2
    assert row["grade"] and row["score"] and "breakdown" not in row
    assert accounts(api_as(manager).get("/api/v1/scores/")) == ["3100000001", "3100000002", "3100000003"]


def test_scores_filter_by_grade_region_industry_and_grade_changed_since(api_as, manager, graded, regions):
    api = api_as(manager)
    grade = CreditScore.objects.filter(customer=graded["b1"]).get().grade
    assert "3100000003" in accounts(api.get("/api/v1/scores/", {"grade": grade}))
    other = "C" if grade != "C" else "B"
    assert "3100000003" not in accounts(api.get("/api/v1/scores/", {"grade": other}))
    assert accounts(api.get("/api/v1/scores/", {"region": regions["b"].pk})) == ["3100000003"]
    # A district selects the areas below it.
    assert accounts(api.get("/api/v1/scores/", {"region": regions["district_a"].pk})) == ["3100000001", "3100000002"]
    assert accounts(api.get("/api/v1/scores/", {"industry": "steel"})) == ["3100000001"]
    # A1 kept its grade from last month; the others got a first grade today.
    since = (timezone.localdate() - dt.timedelta(days=7)).isoformat()
    assert accounts(api.get("/api/v1/scores/", {"changed_since": since})) == ["3100000002", "3100000003"]
    ordered = api.get("/api/v1/scores/", {"ordering": "-score"}).json()["results"]
    assert [r["score"] for r in ordered] == sorted((r["score"] for r in ordered), key=float, reverse=True)


@pytest.mark.parametrize(
    "params, field",
    [
        ({"grade": "ZZZ"}, "grade"),
        ({"changed_since": "yesterday"}, "changed_since"),
        ({"region": "abc"}, "region"),
        ({"industry": "bakery"}, "industry"),
        ({"q": "bad\x00byte"}, "q"),
        ({"scored_since": "99999-01-01"}, "scored_since"),
    ],
)
def test_bad_filters_are_a_400_naming_the_field(api_as, manager, graded, params, field):
    response = api_as(manager).get("/api/v1/scores/", params)
    assert response.status_code == 400 and field in response.json()


def test_a_customers_history_has_the_breakdown_in_both_languages(api_as, collector, graded):
    response = api_as(collector).get("/api/v1/customers/3100000001/scores/")
    assert response.status_code == 200
    scores = response.json()["results"]
    assert [s["as_of"] for s in scores] == [
        timezone.localdate().isoformat(),
        (timezone.localdate() - dt.timedelta(days=30)).isoformat(),
    ]
    commitments = next(row for row in scores[0]["breakdown"] if row["key"] == "commitments")
    assert commitments["reason_en"] == "0 broken promises or arrangements in 12 months"
    assert commitments["reason_zh"] == "12个月内违约承诺或协议0次"
    assert (commitments["label_zh"], commitments["weight"], commitments["points"]) == ("履约情况", "10.0", "10.0")
    assert api_as(collector).get("/api/v1/customers/3100000003/scores/").status_code == 404
    assert api_as(collector).get("/api/v1/customers/NOPE/scores/").status_code == 404


def test_rescoring_through_the_api_is_for_collections_staff_in_scope(api_as, collector, system_user, graded):
    rescored = api_as(collector).post("/api/v1/customers/3100000002/scores/")
    assert rescored.status_code == 201
    assert rescored.json()["as_of"] == timezone.localdate().isoformat() and rescored.json()["breakdown"]
    assert CreditScore.objects.filter(customer=graded["a2"]).count() == 1  # today's replaced, not doubled
    assert api_as(collector).post("/api/v1/customers/3100000003/scores/").status_code == 404
    assert api_as(system_user).post("/api/v1/customers/3100000002/scores/").status_code == 403


def test_scorecards_are_for_managers(api_as, manager, collector, area_leader):
    listed = api_as(manager).get("/api/v1/scorecards/")
    assert listed.status_code == 200
    card = listed.json()[0]  # the default card's version 2 (version 1 is retired)
    assert (card["version"], card["status"], card["problems"]) == (2, "published", [])
    assert sum(float(c["weight"]) for c in card["criteria"]) == 100
    assert card["grade_bands"][0] == ["AAA", 90]
    assert api_as(manager).get("/api/v1/scorecards/1/").json()["name"] == card["name"]
    assert api_as(manager).get("/api/v1/scorecards/99/").status_code == 404
    for user in (collector, area_leader):
        assert api_as(user).get("/api/v1/scorecards/").status_code == 403
        assert api_as(user).get("/api/v1/scorecards/1/").status_code == 403


@pytest.fixture
def alerts(portfolio):
    today = timezone.localdate()
    drop = RiskAlert.objects.create(customer=portfolio["a1"], kind="consumption_drop", raised_on=today,
                                    detail="14-day consumption 35% below", dedupe_key="api:drop")  # fmt: skip
    fall = RiskAlert.objects.create(customer=portfolio["b1"], kind="grade_fall", raised_on=today,
                                    detail="Grade fell from AA to B", dedupe_key="api:fall")  # fmt: skip
    return drop, fall


def test_alerts_are_scoped_filtered_and_acknowledged_with_a_note(api_as, collector, system_user, alerts):
    drop, fall = alerts
    api = api_as(collector)
    listed = api.get("/api/v1/alerts/", {"acknowledged": "false"}).json()
    assert [a["id"] for a in listed["results"]] == [drop.pk]
    assert listed["results"][0]["kind"] == "consumption_drop" and listed["results"][0]["acknowledged"] is False
    assert api.get("/api/v1/alerts/", {"kind": "grade_fall"}).json()["count"] == 0
    assert api.get("/api/v1/alerts/", {"kind": "nonsense"}).status_code == 400

    url = f"/api/v1/alerts/{drop.pk}/acknowledge/"
    missing = api.post(url, {}, format="json")
    assert missing.status_code == 400 and "note" in missing.json()
    blank = api.post(url, {"note": "   "}, format="json")
    assert blank.status_code == 400 and "note" in blank.json()
    assert api_as(system_user).post(url, {"note": "seen"}, format="json").status_code == 403
    done = api.post(url, {"note": "Visited, a kiln is being relined"}, format="json")
    assert done.status_code == 200
    assert (done.json()["acknowledged"], done.json()["acknowledged_by"]) == (True, "collector_a")
    assert done.json()["note"] == "Visited, a kiln is being relined"
    again = api.post(url, {"note": "again"}, format="json")
    assert again.status_code == 400 and "non_field_errors" in again.json()
    assert api.get("/api/v1/alerts/", {"acknowledged": "false"}).json()["count"] == 0
    assert api.post(f"/api/v1/alerts/{fall.pk}/acknowledge/", {"note": "x"}, format="json").status_code == 404
    assert api.post("/api/v1/alerts/99999999999999999999/acknowledge/", {"note": "x"}, format="json").status_code == 404


@pytest.fixture
def proposal(graded):
    customer = graded["a1"]
    grade = CreditScore.objects.filter(customer=customer).order_by("-as_of").first().grade
    GradePolicy.objects.filter(grade=grade).update(settlement_mode="prepaid_remote")
    score_one(customer=customer)
    return PolicyProposal.objects.get(customer=customer, status="open")


def test_proposals_are_decided_by_the_area_leader(api_as, collector, other_collector, area_leader, proposal):
    listed = api_as(collector).get("/api/v1/proposals/", {"status": "open"}).json()
    assert [(p["id"], p["settlement_mode"], p["current_settlement_mode"]) for p in listed["results"]] == [
        (proposal.pk, "prepaid_remote", "monthly")
    ]
    url = f"/api/v1/proposals/{proposal.pk}/"
    assert api_as(collector).post(url + "accept/", {}, format="json").status_code == 403
    assert api_as(other_collector).post(url + "accept/", {}, format="json").status_code == 404
    leader = api_as(area_leader)
    no_note = leader.post(url + "reject/", {}, format="json")
    assert no_note.status_code == 400 and "note" in no_note.json()
    accepted = leader.post(url + "accept/", {"note": "Signed the remote control agreement"}, format="json")
    assert accepted.status_code == 200
    assert (accepted.json()["status"], accepted.json()["decided_by"]) == ("accepted", "leader_a")
    assert accepted.json()["current_settlement_mode"] == "prepaid_remote"
    proposal.customer.refresh_from_db()
    assert proposal.customer.settlement_mode == "prepaid_remote"
    assert proposal.customer.history.order_by("-history_date").first().history_user == area_leader
    assert leader.post(url + "reject/", {"note": "too late"}, format="json").status_code == 400
    assert leader.get("/api/v1/proposals/", {"status": "maybe"}).status_code == 400
