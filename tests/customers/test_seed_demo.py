"""`manage.py seed_demo`: a believable, valid and repeatable demo portfolio."""

from collections import Counter
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db.models import F
from django.test import override_settings

from customers.models import Contact, Customer, MeterPoint, Region, ServiceVisit
from customers.selectors import customers_visible_to
from customers.validators import validate_uscc

pytestmark = pytest.mark.django_db

CAPACITY_RANGE_KVA = {10: (315, 8000), 35: (5000, 40000), 110: (31500, 200000), 220: (100000, 600000)}


def seed(**options) -> str:
    """The archive alone: the readings, bills and payments are tests/demo's."""
    out = StringIO()
    call_command("seed_demo", stdout=out, no_history=True, **options)
    return out.getvalue()


def portfolio_snapshot() -> list[tuple]:
    return list(Customer.objects.order_by("account_no").values_list("account_no", "name", "industry", "uscc"))


def delete_portfolio() -> None:
    ServiceVisit.objects.all().delete()
    Contact.objects.all().delete()
    MeterPoint.objects.all().delete()
    Customer.objects.all().delete()


def test_the_same_seed_gives_the_same_portfolio():
    seed(customers=40, seed=7)
    first = portfolio_snapshot()
    first_meters = list(MeterPoint.objects.order_by("meter_no").values_list("meter_no", "multiplier"))
    delete_portfolio()

    seed(customers=40, seed=7)

    assert portfolio_snapshot() == first
    assert list(MeterPoint.objects.order_by("meter_no").values_list("meter_no", "multiplier")) == first_meters


def test_another_seed_gives_another_portfolio():
    seed(customers=40, seed=7)
    first_names = [row[1] for row in portfolio_snapshot()]
    delete_portfolio()

    seed(customers=40, seed=8)

    assert [row[1] for row in portfolio_snapshot()] != first_names


def test_it_creates_the_requested_portfolio_and_staff():
    out = seed(customers=120, seed=3)

    assert Customer.objects.count() == 120
    company = Region.objects.get(kind="company")
    districts = Region.objects.filter(kind="district", parent=company)
    assert 3 <= districts.count() <= 4
    for district in districts:
        assert 2 <= district.children.count() <= 4
        assert all(area.code.startswith(district.code + "A") for area in district.children.all())
    areas = Region.objects.filter(kind="area")
    meters = Counter(MeterPoint.objects.values_list("customer_id", flat=True))
    contacts = Counter(Contact.objects.values_list("customer_id", flat=True))
    assert set(meters.values()) <= {1, 2, 3} and len(meters) == 120
    assert set(contacts.values()) <= {1, 2, 3} and len(contacts) == 120
    assert ServiceVisit.objects.count() >= 120
    assert not Customer.objects.filter(collector=None).exists()
    assert User.objects.get(username="admin").is_superuser
    for username, group in [("manager", "manager"), ("system", "system")]:
        assert User.objects.get(username=username).groups.filter(name=group).exists()
    assert User.objects.filter(groups__name="area_leader").count() == areas.count()
    assert not areas.filter(leader=None).exists()
    assert User.objects.filter(groups__name="collector").count() >= 2 * areas.count()
    assert User.objects.get(username="collector01").check_password("gridcollect-demo")
    assert User.objects.get(username="leader01").last_name  # Chinese names for everyone
    assert "Demo logins" in out and "leader01" in out and "120 customers" in out
    assert f"Token {User.objects.get(username='system').auth_token.key}" in out


def test_credit_codes_and_account_numbers_are_valid_and_unique():
    seed(customers=150, seed=5, no_users=True)

    codes = list(Customer.objects.values_list("uscc", flat=True))
    for code in codes:
        validate_uscc(code)
    assert len(set(codes)) == len(codes)
    accounts = list(Customer.objects.values_list("account_no", flat=True))
    assert all(len(account) == 10 and account.isdigit() for account in accounts)
    assert len(set(accounts)) == len(accounts)
    assert len(set(Customer.objects.values_list("name", flat=True))) == len(accounts)


def test_important_users_are_the_critical_loads():
    seed(customers=300, seed=42, no_users=True)

    important = Customer.objects.filter(importance__in=["class_1", "class_2"])
    assert 0.08 <= important.count() / 300 <= 0.2
    assert set(Customer.objects.filter(industry="railway").values_list("importance", flat=True)) <= {
        "class_1",
        "class_2",
    }
    hospitals = Customer.objects.filter(industry="hospital")
    assert hospitals.filter(importance__in=["class_1", "class_2"]).count() > hospitals.count() / 2
    # An important user is never on a settlement mode that trips its supply.
    assert not important.filter(settlement_mode__in=["prepaid_remote", "prepaid_card"]).exists()


def test_the_data_is_internally_consistent():
    seed(customers=300, seed=11, no_users=True)

    for customer in Customer.objects.prefetch_related("meter_points"):
        low, high = CAPACITY_RANGE_KVA[int(customer.voltage_kv)]
        assert low <= customer.contracted_capacity_kva <= high, customer
        if customer.basic_charge_basis == "demand":
            assert customer.contract_demand_kw
        if customer.settlement_mode == "instalments":
            assert customer.instalments_per_month == 3
        if customer.settlement_mode == "prepaid_remote":
            assert customer.remote_control_agreement
            assert any(m.meter_type == "remote" and m.remote_switch for m in customer.meter_points.all())
        if customer.settlement_mode == "prepaid_card":
            assert {m.meter_type for m in customer.meter_points.all()} == {"prepaid_card"}
        if customer.reading_day != 31:
            assert customer.government_funded and 25 <= customer.reading_day <= 28
    modes = Counter(Customer.objects.values_list("settlement_mode", flat=True))
    assert modes["monthly"] > 150 and modes["instalments"] and modes["prepaid_remote"] and modes["prepaid_card"]
    assert set(Customer.objects.values_list("industry", flat=True)) >= {"steel", "chemical", "hospital", "railway"}
    assert MeterPoint.objects.filter(multiplier__gte=Decimal("100")).exists()


def test_a_sample_of_the_rows_passes_model_validation():
    seed(customers=80, seed=9)

    samples = [
        *Region.objects.all(),
        *Customer.objects.order_by("?")[:40],
        *MeterPoint.objects.order_by("?")[:40],
        *Contact.objects.order_by("?")[:40],
        *ServiceVisit.objects.order_by("?")[:40],
        *User.objects.all(),
    ]
    for row in samples:
        row.full_clean()


@override_settings(DEMO_USERS_ALLOWED=False)
def test_it_refuses_demo_users_where_the_settings_forbid_them():
    with pytest.raises(CommandError, match="DEMO_USERS_ALLOWED"):
        seed(customers=10, seed=1)

    assert not Customer.objects.exists()
    assert not User.objects.exists()


@override_settings(DEMO_USERS_ALLOWED=False)
def test_it_still_loads_the_portfolio_alone_where_demo_users_are_forbidden():
    seed(customers=10, seed=1, no_users=True)

    assert Customer.objects.count() == 10
    assert not User.objects.exists()
    assert not Customer.objects.exclude(collector=None).exists()


def test_if_empty_does_nothing_the_second_time():
    seed(customers=30, seed=4, if_empty=True)
    before = (Customer.objects.count(), MeterPoint.objects.count(), User.objects.count(), Region.objects.count())

    out = seed(customers=30, seed=4, if_empty=True)

    after = (Customer.objects.count(), MeterPoint.objects.count(), User.objects.count(), Region.objects.count())
    assert after == before
    assert "no demo data loaded" in out
    assert "manager" in out  # the logins are still listed


def test_collectors_only_have_customers_in_their_leaders_area():
    seed(customers=200, seed=6)

    for collector in User.objects.filter(groups__name="collector"):
        areas = set(Customer.objects.filter(collector=collector).values_list("region_id", flat=True))
        assert len(areas) <= 1, collector
        if areas:
            area = Region.objects.get(pk=areas.pop())
            assert area.kind == "area" and area.leader is not None
            mine = set(Customer.objects.filter(collector=collector).values_list("pk", flat=True))
            assert mine <= set(customers_visible_to(area.leader).values_list("pk", flat=True))
    assert not Customer.objects.exclude(account_manager=F("collector")).exists()


def test_a_second_run_adds_customers_without_collisions():
    seed(customers=60, seed=1)
    first_accounts = set(Customer.objects.values_list("account_no", flat=True))
    regions = Region.objects.count()
    collectors = set(User.objects.filter(groups__name="collector").values_list("username", flat=True))

    out = seed(customers=60, seed=2)

    assert Customer.objects.count() == 120
    added = set(Customer.objects.values_list("account_no", flat=True)) - first_accounts
    assert len(added) == 60 and min(added) > max(first_accounts)
    assert MeterPoint.objects.values("meter_no").distinct().count() == MeterPoint.objects.count()
    assert Region.objects.count() == regions
    assert collectors <= set(User.objects.filter(groups__name="collector").values_list("username", flat=True))
    assert "Added to the 60 customers" in out
