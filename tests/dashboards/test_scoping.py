"""The dashboard is scoped like every list: a manager sees the whole book, an area leader their
area, a collector their own customers — on the page, in the API and in the exports — and the
filters live in the URL."""

import pytest
from django.urls import reverse

from customers.selectors import customers_visible_to
from dashboards.selectors import summary_visible_to
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def totals(client, **params):
    response = client.get(reverse("dashboards:arrears"), params)
    assert response.status_code == 200
    return response.context["totals"]


def api_totals(api, **params):
    response = api.get("/api/v1/dashboard/arrears/", params)
    assert response.status_code == 200, response.content
    return response.json()["totals"]


def test_each_role_sees_the_totals_of_its_own_customers(client, manager, area_leader, collector, book, regions):
    seen = {}
    for user in (manager, area_leader, collector):
        client.force_login(user)
        seen[user.username] = totals(client)
    client.force_login(manager)
    assert seen["manager"]["customers"] == 5
    assert seen["leader_a"] == totals(client, region=regions["a"].pk)  # the leader's figures are area A's
    assert seen["leader_a"]["customers"] == 3 and seen["leader_a"]["arrears"] < seen["manager"]["arrears"]
    # collector_a works a1 and a2; a3 in the same area has no collector and is not theirs.
    assert seen["collector_a"]["customers"] == 2 and seen["collector_a"] == totals(client, collector=collector.pk)


@pytest.mark.parametrize("persona", ["manager", "area_leader", "collector", "other_collector"])
def test_the_summarys_scope_is_the_archives(request, book, today, persona):
    user = request.getfixturevalue(persona)
    counted = sum(summary_visible_to(user).filter(as_of=today).values_list("customers", flat=True))
    assert counted == customers_visible_to(user).count() > 0


def test_a_leader_cannot_widen_the_scope_with_a_filter(client, area_leader, book, regions):
    client.force_login(area_leader)
    response = client.get(reverse("dashboards:arrears"), {"region": regions["b"].pk})
    assert response.status_code == 400 and "region" in response.context["filterset"].errors
    response = client.get(reverse("dashboards:arrears"), {"collector": "none"})
    assert response.context["totals"]["customers"] == 1  # a3, in the leader's area


def test_the_api_scopes_and_filters_like_the_page(client, api_as, manager, area_leader, collector, book, regions):
    client.force_login(area_leader)
    assert api_totals(api_as(area_leader))["arrears"] == str(totals(client)["arrears"])
    client.force_login(collector)
    assert api_totals(api_as(collector))["customers"] == totals(client)["customers"] == 2
    client.force_login(manager)
    page = totals(client, industry="steel", grade="C")
    assert api_totals(api_as(manager), industry="steel", grade="C")["arrears"] == str(page["arrears"])
    assert api_as(area_leader).get("/api/v1/dashboard/arrears/", {"region": regions["b"].pk}).status_code == 400


def test_a_user_without_a_role_sees_nothing(client, api_as, book):
    nobody = UserFactory(username="nobody")
    client.force_login(nobody)
    assert client.get(reverse("dashboards:arrears")).status_code == 403
    assert api_as(nobody).get("/api/v1/dashboard/arrears/").status_code == 403
    assert client.get(reverse("dashboards:export", args=["region", "csv"])).status_code == 403


def test_exports_are_scoped(client, area_leader, manager, book, regions):
    client.force_login(area_leader)
    body = b"".join(client.get(reverse("dashboards:export", args=["region", "csv"])).streaming_content)
    text = body.decode("utf-8-sig")
    assert "Area A" in text and "Area B" not in text
    client.force_login(manager)
    text = b"".join(client.get(reverse("dashboards:export", args=["region", "csv"])).streaming_content).decode()
    assert "Area A" in text and "Area B" in text


def test_the_url_holds_the_filters_and_the_page_shows_them(client, manager, book, regions, last_month_end):
    client.force_login(manager)
    params = {"as_of": last_month_end.isoformat(), "region": regions["a"].pk, "importance": "class_1"}
    response = client.get(reverse("dashboards:arrears"), params)
    assert response.status_code == 200
    context = response.context
    assert context["as_of"] == last_month_end and context["totals"]["customers"] == 1  # a2
    html = response.content.decode()
    assert f'<option value="{last_month_end.isoformat()}" selected' in html
    assert f'<option value="{regions["a"].pk}" selected' in html
    assert '<option value="class_1" selected' in html
    # Every export and drill-down link carries them.
    assert f"as_of={last_month_end.isoformat()}" in context["query"]
    assert "importance=class_1" in context["drill"]["arrears"]


def test_an_as_of_date_must_have_a_summary(client, manager, book, today):
    client.force_login(manager)
    response = client.get(reverse("dashboards:arrears"), {"as_of": "2001-01-31"})
    assert response.status_code == 400
    assert "No summary for 2001-01-31" in response.content.decode()
    assert client.get(reverse("dashboards:arrears"), {"as_of": "yesterday"}).status_code == 400
    assert totals(client, as_of=today.isoformat())["customers"] == 5  # the latest is offered by default
