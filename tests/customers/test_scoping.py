"""Who sees which customer: pages, API, search and export all scope the same way."""

import pytest
from django.urls import reverse

from customers.selectors import customers_visible_to
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _accounts(queryset):
    return sorted(queryset.values_list("account_no", flat=True))


def test_each_role_sees_its_own_customers(portfolio, collector, other_collector, area_leader, manager, system_user):
    assert _accounts(customers_visible_to(collector)) == ["3100000001", "3100000002"]
    assert _accounts(customers_visible_to(other_collector)) == ["3100000003"]
    assert _accounts(customers_visible_to(area_leader)) == ["3100000001", "3100000002"]
    assert _accounts(customers_visible_to(manager)) == ["3100000001", "3100000002", "3100000003"]
    assert _accounts(customers_visible_to(system_user)) == ["3100000001", "3100000002", "3100000003"]


def test_a_user_without_a_role_sees_nothing(portfolio):
    assert not customers_visible_to(UserFactory(username="nobody")).exists()


def test_a_district_leader_sees_every_area_below(portfolio, regions):
    leader = UserFactory(username="district_leader", role="area_leader")
    regions["district_b"].leader = leader
    regions["district_b"].save()
    assert _accounts(customers_visible_to(leader)) == ["3100000003"]


def test_a_collector_gets_404_for_someone_elses_customer_page(client, portfolio, collector):
    client.force_login(collector)
    assert client.get(reverse("customers:detail", args=["3100000001"])).status_code == 200
    assert client.get(reverse("customers:detail", args=["3100000003"])).status_code == 404
    assert client.get(reverse("customers:edit", args=["3100000003"])).status_code in (403, 404)


def test_a_collector_gets_404_for_someone_elses_customer_in_the_api(api_as, portfolio, collector):
    api = api_as(collector)
    assert api.get("/api/v1/customers/3100000001/").status_code == 200
    assert api.get("/api/v1/customers/3100000003/").status_code == 404
    listed = [row["account_no"] for row in api.get("/api/v1/customers/").json()["results"]]
    assert listed == ["3100000001", "3100000002"]


def test_search_never_leaks_another_collectors_customer(client, api_as, portfolio, collector):
    client.force_login(collector)
    page = client.get(reverse("customers:list"), {"q": "Chem"})
    assert page.status_code == 200
    assert "Chem B1" not in page.content.decode()
    assert api_as(collector).get("/api/v1/customers/", {"q": "Chem"}).json()["count"] == 0


def test_the_export_is_scoped(client, portfolio, collector, manager):
    client.force_login(collector)
    body = b"".join(client.get(reverse("customers:export")).streaming_content).decode("utf-8-sig")
    assert "3100000001" in body and "3100000002" in body and "3100000003" not in body
    client.force_login(manager)
    body = b"".join(client.get(reverse("customers:export")).streaming_content).decode("utf-8-sig")
    assert body.count("\n") == 4  # header + three customers


def test_meters_contacts_and_visits_are_scoped_in_the_api(api_as, portfolio, collector):
    from tests.factories import ContactFactory, MeterPointFactory, ServiceVisitFactory

    MeterPointFactory(customer=portfolio["a1"], meter_no="MA1")
    MeterPointFactory(customer=portfolio["b1"], meter_no="MB1")
    ContactFactory(customer=portfolio["b1"])
    ServiceVisitFactory(customer=portfolio["b1"])
    api = api_as(collector)
    assert [m["meter_no"] for m in api.get("/api/v1/meters/").json()["results"]] == ["MA1"]
    assert api.get("/api/v1/meters/MB1/").status_code == 404
    assert api.get("/api/v1/contacts/").json()["count"] == 0
    assert api.get("/api/v1/service-visits/").json()["count"] == 0


def test_login_is_required_everywhere_but_login_and_healthz(client, portfolio):
    response = client.get(reverse("customers:list"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert client.get(reverse("customers:detail", args=["3100000001"])).status_code == 302
    assert client.get(reverse("login")).status_code == 200
    assert client.get("/healthz").status_code in (200, 503)
    assert client.get("/api/v1/customers/").status_code in (401, 403)
