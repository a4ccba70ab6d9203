"""The archive's REST API: lookups by business key, filters, writes by role, 400s for bad input."""

import pytest

from customers.models import Customer
from tests.factories import CustomerFactory, MeterPointFactory, make_uscc

pytestmark = pytest.mark.django_db


def _new_customer_body(**changes):
    body = {
        "account_no": "3200000001",
        "name": "华东钢铁有限公司",
        "uscc": make_uscc(777),
        "industry": "steel",
        "importance": "normal",
        "region": "AA",
        "voltage_kv": "110.0",
        "contracted_capacity_kva": 63000,
        "settlement_mode": "monthly",
        "reading_day": 31,
    }
    body.update(changes)
    return body


def test_a_manager_creates_a_customer_and_reads_it_by_account_number(api_as, manager, regions):
    api = api_as(manager)
    created = api.post("/api/v1/customers/", _new_customer_body(), format="json")
    assert created.status_code == 201, created.content
    body = api.get("/api/v1/customers/3200000001/").json()
    assert body["name"] == "华东钢铁有限公司"
    assert body["region"] == "AA"
    assert body["prepay_ratio"] == "1.000"  # amounts and ratios leave the API as strings


def test_history_records_who_changed_a_customer(api_as, manager, regions):
    api = api_as(manager)
    api.post("/api/v1/customers/", _new_customer_body(), format="json")
    api.patch("/api/v1/customers/3200000001/", {"operating_status": "reduced"}, format="json")
    customer = Customer.objects.get(account_no="3200000001")
    assert [h.history_user.username for h in customer.history.all()] == ["manager", "manager"]
    assert customer.history.first().operating_status == "reduced"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"uscc": "91350100M000100Y44"}, "uscc"),
        ({"reading_day": 30}, "reading_day"),
        ({"prepay_ratio": "2.5"}, "prepay_ratio"),
        ({"prepay_ratio": "0"}, "prepay_ratio"),
        ({"settlement_mode": "instalments", "instalments_per_month": 2}, "instalments_per_month"),
        ({"settlement_mode": "instalments"}, "instalments_per_month"),
        ({"basic_charge_basis": "demand"}, "contract_demand_kw"),
        ({"region": "NOPE"}, "region"),
        ({"industry": "bakery"}, "industry"),
        ({"voltage_kv": "abc"}, "voltage_kv"),
        ({"account_no": "31-00"}, "account_no"),
        ({"opened_on": "2026-13-01"}, "opened_on"),
    ],
)
def test_bad_customer_input_is_a_400_naming_the_field_and_nothing_is_stored(api_as, manager, regions, changes, field):
    response = api_as(manager).post("/api/v1/customers/", _new_customer_body(**changes), format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not Customer.objects.exists()


def test_a_duplicate_account_number_is_a_400(api_as, manager, regions):
    CustomerFactory(account_no="3200000001", region=regions["a"])
    response = api_as(manager).post("/api/v1/customers/", _new_customer_body(), format="json")
    assert response.status_code == 400
    assert "account_no" in response.json()


def test_a_collector_may_read_but_not_change_the_archive(api_as, portfolio, collector):
    api = api_as(collector)
    assert api.patch("/api/v1/customers/3100000001/", {"name": "x"}, format="json").status_code == 403
    assert api.post("/api/v1/customers/", _new_customer_body(), format="json").status_code == 403


def test_an_area_leader_cannot_create_a_customer_in_another_area(api_as, regions, area_leader):
    response = api_as(area_leader).post("/api/v1/customers/", _new_customer_body(region="AB"), format="json")
    assert response.status_code == 400
    assert "region" in response.json()


def test_the_account_number_never_changes(api_as, manager, portfolio):
    api = api_as(manager)
    response = api.patch("/api/v1/customers/3100000001/", {"account_no": "9999999999"}, format="json")
    assert response.status_code == 200
    assert Customer.objects.filter(account_no="3100000001").exists()


def test_customers_filter_by_each_dimension(api_as, manager, regions):
    CustomerFactory(account_no="3300000001", name="甲钢铁", industry="steel", region=regions["a"])
    CustomerFactory(
        account_no="3300000002", name="乙医院", industry="hospital", importance="class_1", region=regions["b"]
    )
    CustomerFactory(
        account_no="3300000003",
        name="丙化工",
        industry="chemical",
        region=regions["b"],
        settlement_mode="prepaid_remote",
        operating_status="suspended",
    )
    MeterPointFactory(customer=Customer.objects.get(account_no="3300000003"), meter_no="MX-77")
    api = api_as(manager)

    def accounts(**params):
        return [r["account_no"] for r in api.get("/api/v1/customers/", params).json()["results"]]

    assert accounts(industry="steel") == ["3300000001"]
    assert accounts(industry=["steel", "hospital"]) == ["3300000001", "3300000002"]
    assert accounts(importance="class_1") == ["3300000002"]
    assert accounts(settlement_mode="prepaid_remote") == ["3300000003"]
    assert accounts(operating_status="suspended") == ["3300000003"]
    assert accounts(region=regions["b"].pk) == ["3300000002", "3300000003"]
    assert accounts(region=regions["district_a"].pk) == ["3300000001"]  # a district selects its areas
    assert accounts(q="医院") == ["3300000002"]
    assert accounts(q="3300000003") == ["3300000003"]
    assert accounts(q="MX-77") == ["3300000003"]  # by meter number


def test_an_unknown_filter_value_is_a_400_not_a_500(api_as, manager, portfolio):
    response = api_as(manager).get("/api/v1/customers/", {"industry": "bakery"})
    assert response.status_code == 400
    assert "industry" in response.json()


def test_the_list_is_paginated(api_as, manager, regions):
    for n in range(60):
        CustomerFactory(account_no=f"34{n:08d}", region=regions["a"])
    body = api_as(manager).get("/api/v1/customers/").json()
    assert body["count"] == 60 and len(body["results"]) == 50 and body["next"]
    assert len(api_as(manager).get("/api/v1/customers/", {"page_size": 10}).json()["results"]) == 10


def test_meters_are_looked_up_by_meter_number_and_validated(api_as, manager, portfolio):
    api = api_as(manager)
    body = {"meter_no": "M-2026-0001", "customer": "3100000001", "multiplier": "6000", "meter_type": "remote"}
    assert api.post("/api/v1/meters/", body, format="json").status_code == 201
    assert api.get("/api/v1/meters/M-2026-0001/").json()["customer"] == "3100000001"
    bad = api.post("/api/v1/meters/", {**body, "meter_no": "M-2", "multiplier": "0"}, format="json")
    assert bad.status_code == 400 and "multiplier" in bad.json()
    dup = api.post("/api/v1/meters/", body, format="json")
    assert dup.status_code == 400 and "meter_no" in dup.json()
    unknown = api.post("/api/v1/meters/", {**body, "meter_no": "M-3", "customer": "0000000000"}, format="json")
    assert unknown.status_code == 400 and "customer" in unknown.json()


def test_a_collector_records_a_contact_and_a_visit_for_their_customer(api_as, portfolio, collector):
    api = api_as(collector)
    contact = {"customer": "3100000001", "name": "王强", "mobile": "13812345678", "preferred_channel": "sms"}
    assert api.post("/api/v1/contacts/", contact, format="json").status_code == 201
    bad = api.post("/api/v1/contacts/", {**contact, "preferred_channel": "email"}, format="json")
    assert bad.status_code == 400 and "email" in bad.json()
    other = api.post("/api/v1/contacts/", {**contact, "customer": "3100000003"}, format="json")
    assert other.status_code == 400 and "customer" in other.json()
    visit = {"customer": "3100000001", "visited_on": "2026-11-20", "kind": "inspection", "findings": "变压器油温偏高"}
    created = api.post("/api/v1/service-visits/", visit, format="json")
    assert created.status_code == 201 and created.json()["staff"] == "collector_a"
    backwards = api.post("/api/v1/service-visits/", {**visit, "follow_up_on": "2026-11-01"}, format="json")
    assert backwards.status_code == 400 and "follow_up_on" in backwards.json()


def test_regions_are_scoped(api_as, portfolio, area_leader, manager):
    assert sorted(r["code"] for r in api_as(area_leader).get("/api/v1/regions/").json()["results"]) == ["AA"]
    assert api_as(manager).get("/api/v1/regions/").json()["count"] == 5


def test_a_user_without_a_role_is_refused(api_as, portfolio):
    from tests.factories import UserFactory

    assert api_as(UserFactory(username="stranger")).get("/api/v1/customers/").status_code == 403
