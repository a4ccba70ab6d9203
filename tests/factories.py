"""factory_boy factories for the archive. Valid credit codes are computed, not hard-coded."""

import itertools
from decimal import Decimal

import factory
from django.contrib.auth.models import Group, User

from customers.models import Contact, Customer, MeterPoint, Region, ServiceVisit
from customers.validators import uscc_check_char

_uscc_counter = itertools.count(1)


def make_uscc(n: int | None = None) -> str:
    n = next(_uscc_counter) if n is None else n
    body = f"91310115{n:09d}"  # 9=enterprise registration, 1=company, 310115=Pudong, 9-digit org code
    return body + uscc_check_char(body)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if create and extracted:
            self.groups.add(Group.objects.get(name=extracted))


class RegionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Region

    code = factory.Sequence(lambda n: f"R{n:04d}")
    name = factory.Sequence(lambda n: f"Area {n}")
    kind = "area"


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    account_no = factory.Sequence(lambda n: f"31{n:08d}")
    name = factory.Sequence(lambda n: f"Customer {n} Co., Ltd.")
    uscc = factory.LazyFunction(make_uscc)
    industry = "manufacturing"
    voltage_kv = Decimal("10")
    contracted_capacity_kva = 2000
    region = factory.SubFactory(RegionFactory)


class MeterPointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MeterPoint

    customer = factory.SubFactory(CustomerFactory)
    meter_no = factory.Sequence(lambda n: f"M{n:010d}")
    multiplier = Decimal("100")


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    customer = factory.SubFactory(CustomerFactory)
    name = factory.Sequence(lambda n: f"Contact {n}")
    mobile = factory.Sequence(lambda n: f"139{n:08d}")


class ServiceVisitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ServiceVisit

    customer = factory.SubFactory(CustomerFactory)
    visited_on = factory.Faker("date_this_year")
    kind = "routine"


def make_bill(customer, total, due_on, *, issued_on=None, period=None, number=None):
    """An issued bill with one line of `total` (for ledger tests that do not need readings)."""
    import datetime as dt

    from billing.models import Bill, BillLine

    due = dt.date.fromisoformat(due_on) if isinstance(due_on, str) else due_on
    issued = issued_on or due - dt.timedelta(days=15)
    period = period or f"{issued.year}-{issued.month:02d}"
    bill = Bill.objects.create(
        customer=customer,
        period=period,
        kind="imported",
        number=number or f"T-{customer.account_no}-{due.isoformat()}",
        issued_on=issued,
        due_on=due,
        total=Decimal(total),
    )
    BillLine.objects.create(bill=bill, kind="other", amount=Decimal(total))
    return bill
