"""Every invariant of the archive holds in the database itself, not only in forms."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from customers.models import Contact, Customer, MeterPoint, ServiceVisit
from tests.factories import ContactFactory, CustomerFactory, MeterPointFactory, RegionFactory

pytestmark = pytest.mark.django_db


def _db_rejects(**changes) -> bool:
    """True when an UPDATE straight to the database violates a constraint."""
    customer = CustomerFactory()
    try:
        with transaction.atomic():
            Customer.objects.filter(pk=customer.pk).update(**changes)
    except IntegrityError:
        return True
    return False


def test_account_numbers_are_unique_in_the_database():
    CustomerFactory(account_no="3100000001")
    with pytest.raises(IntegrityError), transaction.atomic():
        CustomerFactory(account_no="3100000001")


def test_meter_numbers_are_unique_in_the_database():
    MeterPointFactory(meter_no="M-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        MeterPointFactory(meter_no="M-1")


@pytest.mark.parametrize("multiplier", [Decimal("0"), Decimal("-30")])
def test_a_multiplier_must_be_positive(multiplier):
    meter = MeterPointFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        MeterPoint.objects.filter(pk=meter.pk).update(multiplier=multiplier)
    meter.multiplier = multiplier
    with pytest.raises(ValidationError) as info:
        meter.full_clean()
    assert "multiplier" in info.value.message_dict


@pytest.mark.parametrize(("day", "ok"), [(1, True), (28, True), (31, True), (0, False), (29, False), (30, False)])
def test_the_reading_day_is_1_to_28_or_month_end(day, ok):
    assert _db_rejects(reading_day=day) is not ok
    customer = CustomerFactory.build(region=RegionFactory(), reading_day=day)
    if ok:
        customer.full_clean()
    else:
        with pytest.raises(ValidationError) as info:
            customer.full_clean()
        assert "reading_day" in info.value.message_dict


@pytest.mark.parametrize(
    ("ratio", "ok"), [(Decimal("0.001"), True), (Decimal("2"), True), (Decimal("0"), False), (Decimal("2.001"), False)]
)
def test_the_prepay_ratio_is_above_0_and_at_most_2(ratio, ok):
    assert _db_rejects(prepay_ratio=ratio) is not ok


def test_the_credit_code_must_have_18_characters_in_the_database():
    assert _db_rejects(uscc="91350100M000100Y4")


def test_a_bad_credit_code_is_a_field_error():
    customer = CustomerFactory.build(region=RegionFactory(), uscc="91350100M000100Y44")
    with pytest.raises(ValidationError) as info:
        customer.full_clean()
    assert "uscc" in info.value.message_dict


def test_instalment_settlement_needs_at_least_three_instalments():
    assert _db_rejects(settlement_mode="instalments", instalments_per_month=2)
    assert not _db_rejects(settlement_mode="instalments", instalments_per_month=3)
    customer = CustomerFactory.build(region=RegionFactory(), settlement_mode="instalments")
    with pytest.raises(ValidationError) as info:
        customer.full_clean()
    assert "instalments_per_month" in info.value.message_dict


def test_demand_basis_needs_a_contract_demand():
    assert _db_rejects(basic_charge_basis="demand", contract_demand_kw=None)
    assert not _db_rejects(basic_charge_basis="demand", contract_demand_kw=1500)


@pytest.mark.parametrize(
    ("rate", "ok"), [(Decimal("0.001"), True), (Decimal("0.003"), True), (Decimal("0.004"), False)]
)
def test_a_contract_penalty_rate_is_between_1_and_3_per_mille(rate, ok):
    assert _db_rejects(penalty_rate_override=rate) is not ok


def test_a_contact_must_be_reachable_somehow():
    contact = ContactFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Contact.objects.filter(pk=contact.pk).update(mobile="", wechat_id="", email="")


def test_a_contact_preferring_email_needs_an_address():
    contact = ContactFactory.build(customer=CustomerFactory(), preferred_channel="email", email="")
    with pytest.raises(ValidationError) as info:
        contact.full_clean()
    assert "email" in info.value.message_dict


def test_a_follow_up_cannot_precede_the_visit():
    customer = CustomerFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        ServiceVisit.objects.create(
            customer=customer, visited_on="2026-05-10", follow_up_on="2026-05-01", kind="routine"
        )


def test_important_users_are_flagged():
    assert CustomerFactory(importance="class_1").is_important
    assert CustomerFactory(importance="class_2").is_important
    assert not CustomerFactory(importance="normal").is_important


def test_a_region_cannot_be_its_own_ancestor():
    top = RegionFactory(kind="company")
    child = RegionFactory(parent=top)
    top.parent = child
    with pytest.raises(ValidationError):
        top.full_clean()
