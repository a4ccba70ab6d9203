"""The staff pages of the archive as each role sees them."""

import pytest
from django.urls import reverse

from customers.models import Contact, Customer, ServiceVisit
from tests.factories import CustomerFactory, make_uscc

pytestmark = pytest.mark.django_db


def test_the_list_filters_and_pages_without_a_full_reload(client, manager, regions):
    for n in range(30):
        CustomerFactory(account_no=f"35{n:08d}", industry="steel" if n < 5 else "cement", region=regions["a"])
    client.force_login(manager)
    full = client.get(reverse("customers:list"))
    assert full.status_code == 200
    assert "<nav" in full.content.decode() and "30 customers" in full.content.decode()
    partial = client.get(reverse("customers:list"), {"industry": "steel"}, HTTP_HX_REQUEST="true")
    html = partial.content.decode()
    assert '<nav class="navbar' not in html  # only the table partial
    assert "5 customers" in html
    second_page = client.get(reverse("customers:list"), {"page": 2}, HTTP_HX_REQUEST="true").content.decode()
    assert "3500000025" in second_page and "3500000000" not in second_page


def test_the_list_sorts_by_a_whitelisted_column_only(client, manager, regions):
    CustomerFactory(account_no="3600000001", name="B", region=regions["a"])
    CustomerFactory(account_no="3600000002", name="A", region=regions["a"])
    client.force_login(manager)
    html = client.get(reverse("customers:list"), {"sort": "-account_no"}).content.decode()
    assert html.index("3600000002") < html.index("3600000001")
    assert client.get(reverse("customers:list"), {"sort": "password"}).status_code == 200


def test_an_empty_result_says_so(client, manager, regions):
    client.force_login(manager)
    assert "No customers match these filters." in client.get(reverse("customers:list"), {"q": "zzz"}).content.decode()


def test_the_customer_page_shows_the_whole_archive(client, collector, portfolio):
    customer = portfolio["a1"]
    customer.meter_points.create(meter_no="MTR-1", multiplier=6000, location="1# 主变")
    Contact.objects.create(customer=customer, name="李娜", mobile="13912345678")
    ServiceVisit.objects.create(customer=customer, visited_on="2026-10-01", kind="inspection", findings="电容器老化")
    client.force_login(collector)
    html = client.get(reverse("customers:detail", args=[customer.account_no])).content.decode()
    for text in ["Steel A1", customer.uscc, "MTR-1", "6,000", "李娜", "电容器老化", "Equipment inspection"]:
        assert text in html
    # Figures the archive does not have yet read as a dash, not "None".
    assert customer.employees is None and ">None<" not in html


def test_a_collector_cannot_create_or_edit_customers_but_can_log_a_visit(client, collector, portfolio):
    client.force_login(collector)
    assert client.get(reverse("customers:create")).status_code == 403
    assert client.get(reverse("customers:edit", args=["3100000001"])).status_code == 403
    response = client.post(
        reverse("customers:visit_create", args=["3100000001"]),
        {"visited_on": "2026-11-01", "kind": "routine", "findings": "催缴电费"},
    )
    assert response.status_code == 302
    assert ServiceVisit.objects.get().staff == collector


def test_an_area_leader_creates_a_customer_through_the_form(client, area_leader, regions):
    client.force_login(area_leader)
    data = {
        "account_no": "3700000001",
        "name": "城东水厂",
        "uscc": make_uscc(4242),
        "industry": "water",
        "importance": "class_2",
        "region": regions["a"].pk,
        "voltage_kv": "35",
        "contracted_capacity_kva": "8000",
        "basic_charge_basis": "capacity",
        "settlement_mode": "monthly",
        "prepay_ratio": "1",
        "reading_day": "31",
        "payment_terms_days": "15",
        "usual_payment_channel": "bank_transfer",
        "operating_status": "normal",
        "equipment_condition": "good",
    }
    response = client.post(reverse("customers:create"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Customer.objects.get(account_no="3700000001").history.first().history_user == area_leader


def test_the_form_names_each_bad_field_and_stores_nothing(client, area_leader, regions):
    client.force_login(area_leader)
    data = {
        "account_no": "3700000002",
        "name": "X",
        "uscc": "91350100M000100Y44",
        "industry": "water",
        "importance": "normal",
        "region": regions["b"].pk,  # not the leader's area
        "voltage_kv": "35",
        "contracted_capacity_kva": "8000",
        "basic_charge_basis": "capacity",
        "settlement_mode": "instalments",
        "prepay_ratio": "3",
        "reading_day": "30",
        "payment_terms_days": "15",
        "usual_payment_channel": "bank_transfer",
        "operating_status": "normal",
        "equipment_condition": "good",
    }
    response = client.post(reverse("customers:create"), data)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert {"uscc", "region", "prepay_ratio", "reading_day", "instalments_per_month"} <= set(errors)
    assert not Customer.objects.exists()


def test_a_meter_with_zero_multiplier_is_refused(client, manager, portfolio):
    client.force_login(manager)
    response = client.post(
        reverse("customers:meter_create", args=["3100000001"]),
        {"meter_no": "MX-1", "meter_type": "smart", "multiplier": "0"},
    )
    assert response.status_code == 200
    assert "multiplier" in response.context["form"].errors


def test_repeated_failed_logins_lock_the_account(client, collector):
    collector.set_password("right-password-123")
    collector.save()
    for _ in range(5):
        client.post(reverse("login"), {"username": "collector_a", "password": "wrong"})
    response = client.post(reverse("login"), {"username": "collector_a", "password": "right-password-123"})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_a_good_login_lands_on_todays_work(client, collector):
    collector.set_password("right-password-123")
    collector.save()
    response = client.post(reverse("login"), {"username": "collector_a", "password": "right-password-123"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("collection:worklist")


def test_the_language_switch_shows_chinese(client, manager, portfolio):
    client.force_login(manager)
    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/customers/"})
    html = client.get(reverse("customers:list")).content.decode()
    assert "客户" in html
    assert 'lang="zh-hans"' in html


def test_a_meter_replacement_is_declared_from_the_customer_page(client, manager, portfolio):
    old = portfolio["a1"].meter_points.create(meter_no="OLD-1", multiplier=100, installed_on="2020-01-01")
    client.force_login(manager)
    url = reverse("customers:meter_replace", args=["3100000001", old.pk])
    response = client.post(
        url, {"meter_no": "NEW-1", "meter_type": "smart", "multiplier": "100", "replaced_on": "2026-10-15"}
    )
    assert response.status_code == 302
    old.refresh_from_db()
    assert (old.active, str(old.removed_on), old.replaced_by.meter_no) == (False, "2026-10-15", "NEW-1")
    again = client.post(
        url, {"meter_no": "NEW-2", "meter_type": "smart", "multiplier": "100", "replaced_on": "2026-10-16"}
    )
    assert again.status_code == 200 and again.context["form"].non_field_errors()


def test_blank_selects_in_the_filter_form_mean_no_filter(client, manager, regions):
    CustomerFactory(account_no="3800000001", name="Blank A", region=regions["a"])
    CustomerFactory(account_no="3800000002", name="Blank B", region=regions["a"])
    client.force_login(manager)
    params = {"q": "Blank A", "region": "", "industry": "", "importance": "", "settlement_mode": ""}
    html = client.get(reverse("customers:list"), params, HTTP_HX_REQUEST="true").content.decode()
    assert "3800000001" in html and "3800000002" not in html
