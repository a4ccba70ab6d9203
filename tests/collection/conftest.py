"""Fixtures shared by the cut-off tests: a normal and an important customer of collector A,
each with a remote switch, a signed agreement and the notices served."""

import datetime as dt

import pytest

from tests.collection.cutoff_helpers import at_ten, serve_notices
from tests.factories import ContactFactory, MeterPointFactory


@pytest.fixture
def steel(portfolio, area_leader):
    """Collector A's normal customer with a remote switch and a signed agreement, noticed."""
    customer = portfolio["a1"]
    customer.remote_control_agreement = True
    customer.save()
    ContactFactory(customer=customer, mobile="13900000011", preferred_channel="sms")
    MeterPointFactory(customer=customer, meter_no="CUT-1", remote_switch=True, meter_type="remote")
    serve_notices(customer, area_leader, suspension_sent_at=at_ten(2) - dt.timedelta(days=5))
    return customer


@pytest.fixture
def hospital(portfolio, area_leader):
    """Collector A's important user (class 1), with a remote switch too, noticed."""
    customer = portfolio["a2"]
    customer.importance = "class_1"
    customer.remote_control_agreement = True
    customer.save()
    MeterPointFactory(customer=customer, meter_no="HOSP-1", remote_switch=True, meter_type="remote")
    serve_notices(customer, area_leader, suspension_sent_at=at_ten(2) - dt.timedelta(days=5))
    return customer
