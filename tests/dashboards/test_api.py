"""GET /api/v1/dashboard/arrears/: totals and a breakdown for every group_by, the same figures
as the page; a bad group_by, as_of or filter is a 400 naming the parameter, never a 500."""

from decimal import Decimal as D

import pytest
from django.urls import reverse

from dashboards.models import ArrearsSummary

pytestmark = pytest.mark.django_db
URL = "/api/v1/dashboard/arrears/"


@pytest.mark.parametrize("group_by", ["region", "area", "industry", "grade", "collector", "settlement_mode",
                                      "importance", "aging"])  # fmt: skip
def test_every_group_by_adds_up_to_the_totals(api_as, manager, book, group_by):
    response = api_as(manager).get(URL, {"group_by": group_by})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["group_by"] == group_by and body["as_of"] == body["available_dates"][0]
    totals, groups = body["totals"], body["groups"]
    assert len(groups) >= 2
    assert sum(D(g["arrears"]) for g in groups) == D(totals["arrears"])
    if group_by == "aging":
        assert [g["key"] for g in groups] == ["aged_0_30", "aged_31_60", "aged_61_90", "aged_91_180", "aged_over_180"]
        assert groups[-1]["days_min"] == 181 and groups[-1]["days_max"] is None and groups[0]["customers"] is None
    else:
        assert sum(g["customers"] for g in groups) == totals["customers"] == 5
        assert sum(g["overdue_customers"] for g in groups) == totals["overdue_customers"] == 4
        assert all(len(g["aging"]) == 5 for g in groups)


def test_the_api_answers_the_figures_the_page_shows(client, api_as, manager, book):
    client.force_login(manager)
    page = client.get(reverse("dashboards:arrears")).context
    body = api_as(manager).get(URL, {"group_by": "area"}).json()
    totals = body["totals"]
    assert D(totals["arrears"]) == page["totals"]["arrears"]
    assert D(totals["zero_out_rate"]) == page["totals"]["zero_out_rate"] == D("20.0")  # 1 of 5 clear
    region = next(b["groups"] for b in page["breakdowns"] if b["dimension"] == "region")
    assert [(g["key"], D(g["arrears"])) for g in body["groups"]] == [(g["key"], g["arrears"]) for g in region]
    assert {b["bucket"]: D(b["amount"]) for b in totals["aging"]} == {b["bucket"]: b["amount"] for b in page["aging"]}


def test_a_past_date_and_filters(api_as, manager, book, last_month_end, regions):
    api = api_as(manager)
    body = api.get(URL, {"as_of": last_month_end.isoformat(), "region": regions["b"].pk, "group_by": "grade"}).json()
    assert body["as_of"] == last_month_end.isoformat()
    assert body["totals"]["customers"] == 2 and {g["key"] for g in body["groups"]} == {"B", "AA"}
    assert api.get(URL, {"grade": "none"}).json()["totals"]["customers"] == 1
    assert (
        api.get(URL, {"collector": "none", "industry": ["manufacturing", "steel"]}).json()["totals"]["customers"] == 1
    )


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"group_by": "weekday"}, "group_by"),
        ({"as_of": "2001-01-31"}, "as_of"),
        ({"as_of": "31/01/2001"}, "as_of"),
        ({"as_of": "9999-12-31"}, "as_of"),
        ({"industry": "mining"}, "industry"),
        ({"importance": "vip"}, "importance"),
        ({"settlement_mode": "barter"}, "settlement_mode"),
        ({"region": "999999"}, "region"),
        ({"region": "north"}, "region"),
        ({"grade": "excellent!"}, "grade"),
        ({"collector": "somebody"}, "collector"),
        ({"collector": "99999999999999999999"}, "collector"),
    ],
)
def test_bad_input_is_a_400_naming_the_parameter(api_as, manager, book, params, parameter):
    response = api_as(manager).get(URL, params)
    assert response.status_code == 400, response.content
    assert parameter in response.json()


def test_without_a_summary_the_api_says_so_with_empty_figures(api_as, manager, portfolio):
    ArrearsSummary.objects.all().delete()
    body = api_as(manager).get(URL).json()
    assert body["as_of"] is None and body["available_dates"] == [] and body["groups"] == []
    assert body["totals"]["arrears"] == "0.00"


def test_the_endpoint_is_in_the_schema(client, manager):
    client.force_login(manager)
    schema = client.get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"][URL]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"group_by", "as_of", "region", "industry", "grade", "importance", "settlement_mode", "collector"} <= names
    assert {"200", "400"} <= set(operation["responses"])
    bills = {p["name"] for p in schema["paths"]["/api/v1/bills/"]["get"]["parameters"]}
    assert {"overdue_on", "overdue_days_min", "overdue_days_max", "grade", "collector", "region"} <= bills
