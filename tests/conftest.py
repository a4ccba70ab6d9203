"""Personas and a small portfolio shared by the tests.

Two districts with one area each; a collector in each area; a leader for area A; a manager;
a system (API) account. Customers: two of collector A's, one of collector B's.
"""

import os

import pytest
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import CustomerFactory, RegionFactory, UserFactory


def pytest_configure(config):
    config.addinivalue_line("markers", "postgres: needs PostgreSQL")


@pytest.fixture(autouse=True)
def _services_required(request, django_db_setup):
    """Under CI the suite must really run on PostgreSQL."""
    if os.environ.get("GRIDCOLLECT_REQUIRE_SERVICES") == "1":
        assert connection.vendor == "postgresql", "CI must run on PostgreSQL, not the SQLite fallback"


@pytest.fixture
def regions(db):
    company = RegionFactory(code="CO", name="Company", kind="company")
    district_a = RegionFactory(code="DA", name="District A", kind="district", parent=company)
    district_b = RegionFactory(code="DB", name="District B", kind="district", parent=company)
    area_a = RegionFactory(code="AA", name="Area A", kind="area", parent=district_a)
    area_b = RegionFactory(code="AB", name="Area B", kind="area", parent=district_b)
    return {"company": company, "district_a": district_a, "district_b": district_b, "a": area_a, "b": area_b}


@pytest.fixture
def collector(db):
    return UserFactory(username="collector_a", role="collector")


@pytest.fixture
def other_collector(db):
    return UserFactory(username="collector_b", role="collector")


@pytest.fixture
def area_leader(db, regions):
    leader = UserFactory(username="leader_a", role="area_leader")
    regions["a"].leader = leader
    regions["a"].save()
    return leader


@pytest.fixture
def manager(db):
    return UserFactory(username="manager", role="manager")


@pytest.fixture
def system_user(db):
    return UserFactory(username="metering", role="system")


@pytest.fixture
def portfolio(regions, collector, other_collector):
    return {
        "a1": CustomerFactory(account_no="3100000001", name="Steel A1", region=regions["a"], collector=collector),
        "a2": CustomerFactory(account_no="3100000002", name="Hospital A2", region=regions["a"], collector=collector),
        "b1": CustomerFactory(account_no="3100000003", name="Chem B1", region=regions["b"], collector=other_collector),
    }


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def api_as():
    """An API client authenticated with the given user's token (as another system would)."""

    def make(user):
        client = APIClient()
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return make
