"""Billing runs from stored readings: the right bill once, however often the run is started."""

import datetime as dt
from decimal import Decimal as D

import pytest

from billing.models import Bill, BillingRun, CustomerTariff, MeterReading
from billing.services.bills import bill_adjust, billing_run_execute, billing_run_start, period_bounds
from billing.services.payments import payment_record
from billing.services.statements import reconcile
from tests.factories import CustomerFactory, MeterPointFactory

pytestmark = pytest.mark.django_db


def reading(meter, day, total, cp, peak, flat, valley, reactive, demand="10"):
    return MeterReading.objects.create(
        meter=meter,
        read_on=day,
        total_kwh=D(total),
        critical_peak_kwh=D(cp),
        peak_kwh=D(peak),
        flat_kwh=D(flat),
        valley_kwh=D(valley),
        reactive_kvarh=D(reactive),
        max_demand_kw=D(demand),
    )


@pytest.fixture
def steelworks():
    customer = CustomerFactory(account_no="4000000001", contracted_capacity_kva=2000, payment_terms_days=15)
    CustomerTariff.objects.create(customer=customer, tariff_code="LI-10KV", valid_from="2025-01-01")
    meter = MeterPointFactory(customer=customer, meter_no="M-STEEL-1", multiplier=D("100"))
    # Register deltas × 100: total 4000 → 400000 kWh; critical peak 200 → 20000; peak 1000 → 100000;
    # flat 1600 → 160000; valley 1200 → 120000; reactive 1310 → 131000 kvarh. The same usage as
    # the hand-computed capacity case in test_calculation.py, whose bill is 329208.58.
    reading(meter, "2026-09-30", "1000", "50", "250", "400", "300", "300")
    reading(meter, "2026-10-15", "3000", "150", "750", "1200", "900", "955", demand="9")
    reading(meter, "2026-10-31", "5000", "250", "1250", "2000", "1500", "1610", demand="11")
    return customer


def test_period_bounds_follow_the_reading_day():
    assert period_bounds("2026-10", 31) == (dt.date(2026, 9, 30), dt.date(2026, 10, 31))
    assert period_bounds("2026-03", 31) == (dt.date(2026, 2, 28), dt.date(2026, 3, 31))
    assert period_bounds("2026-01", 25) == (dt.date(2025, 12, 25), dt.date(2026, 1, 25))


def test_a_run_bills_from_readings_and_a_rerun_never_duplicates(steelworks):
    run = billing_run_start(period="2026-10", issue_date=dt.date(2026, 11, 1))
    run = billing_run_execute(run_id=run.pk)
    assert (run.status, run.customers_total, run.bills_created) == ("done", 1, 1)
    bill = Bill.objects.get(customer=steelworks, period="2026-10")
    assert bill.total == D("329208.58")
    assert bill.total_kwh == D("400000.000") and bill.power_factor == D("0.95")
    assert bill.max_demand_kw == D("1100.000")  # 11 kW register × 100
    assert bill.due_on == dt.date(2026, 11, 16)  # issued 1 Nov + 15 days' terms
    assert sum(line.amount for line in bill.lines.all()) == bill.total

    again = billing_run_execute(run_id=billing_run_start(period="2026-10", issue_date=dt.date(2026, 11, 2)).pk)
    assert (again.bills_created, again.already_billed) == (0, 1)
    assert Bill.objects.filter(customer=steelworks).count() == 1
    assert billing_run_execute(run_id=run.pk).bills_created == 1  # a finished run is not re-executed


def test_customers_without_tariff_or_readings_are_reported_not_billed(steelworks):
    CustomerFactory(account_no="4000000002")
    empty = CustomerFactory(account_no="4000000003")
    CustomerTariff.objects.create(customer=empty, tariff_code="LI-10KV", valid_from="2025-01-01")
    run = billing_run_execute(run_id=billing_run_start(period="2026-10", issue_date=dt.date(2026, 11, 1)).pk)
    assert run.bills_created == 1
    assert sorted((s["account_no"], s["reason"]) for s in run.skipped) == [
        ("4000000002", "no_tariff"),
        ("4000000003", "no_readings"),
    ]


def test_credit_is_used_by_the_new_bill(steelworks):
    payment_record(customer=steelworks, amount=D("9208.58"), channel="counter", external_ref="ADV-1")
    billing_run_execute(run_id=billing_run_start(period="2026-10", issue_date=dt.date(2026, 11, 1)).pk)
    bill = Bill.objects.get(customer=steelworks, period="2026-10")
    # 329208.58 − 9208.58 of credit = 320000.00 left
    assert sum(a.principal for a in bill.allocations.all()) == D("9208.58")
    assert bill.status == "partly_paid"
    assert reconcile() == []


def test_a_replaced_meter_and_its_successor_are_both_billed(steelworks):
    old = steelworks.meter_points.get()
    old.removed_on = dt.date(2026, 10, 15)
    old.active = False
    old.save()
    new = MeterPointFactory(customer=steelworks, meter_no="M-STEEL-2", multiplier=D("100"), replaces=old)
    MeterReading.objects.filter(meter=old, read_on="2026-10-31").delete()
    # New meter from its own register: 0 → 2000 (× 100 = 200000 kWh), the rest proportional.
    reading(new, "2026-10-15", "0", "0", "0", "0", "0", "0")
    reading(new, "2026-10-31", "2000", "100", "500", "800", "600", "655")
    billing_run_execute(run_id=billing_run_start(period="2026-10", issue_date=dt.date(2026, 11, 1)).pk)
    bill = Bill.objects.get(customer=steelworks, period="2026-10")
    # old 1000 → 3000 (2000) + new 0 → 2000 (2000) = 4000 × 100: the same 400000 kWh
    assert bill.total_kwh == D("400000.000")
    assert bill.total == D("329208.58")


def test_an_issued_bill_is_corrected_by_a_note_not_edited(steelworks, manager):
    billing_run_execute(run_id=billing_run_start(period="2026-10", issue_date=dt.date(2026, 11, 1)).pk)
    bill = Bill.objects.get(customer=steelworks)
    bill_adjust(bill=bill, amount=D("-208.58"), reason="meter multiplier read wrong on 15 Oct", created_by=manager)
    bill.refresh_from_db()
    assert bill.total == D("329208.58")  # unchanged
    assert bill.adjustments.get().amount == D("-208.58")
    assert reconcile() == []


def test_one_run_per_period_at_a_time(steelworks):
    first = billing_run_start(period="2026-10", issue_date=dt.date(2026, 11, 1))
    assert billing_run_start(period="2026-10", issue_date=dt.date(2026, 11, 1)).pk == first.pk
    assert BillingRun.objects.count() == 1


def test_a_stale_end_reading_is_not_billed_as_the_month(steelworks):
    # The last reading is 15 Oct, not near the period end (31 Oct): billing it would charge half a
    # month as a whole one, so the customer is reported instead.
    MeterReading.objects.filter(read_on="2026-10-31").delete()
    run = billing_run_execute(run_id=billing_run_start(period="2026-10", issue_date=dt.date(2026, 11, 1)).pk)
    assert run.bills_created == 0
    assert [(s["account_no"], s["reason"]) for s in run.skipped] == [("4000000001", "no_readings")]


def test_a_reading_a_day_or_two_early_still_closes_the_period(steelworks):
    MeterReading.objects.filter(read_on="2026-10-31").update(read_on="2026-10-30")
    run = billing_run_execute(run_id=billing_run_start(period="2026-10", issue_date=dt.date(2026, 11, 1)).pk)
    assert run.bills_created == 1


def test_a_failed_run_executed_again_reports_its_bills_once(steelworks):
    run = billing_run_start(period="2026-10", issue_date=dt.date(2026, 11, 1))
    billing_run_execute(run_id=run.pk)
    BillingRun.objects.filter(pk=run.pk).update(status="failed")  # as if a worker had died after the chunk
    again = billing_run_execute(run_id=run.pk)
    assert (again.status, again.bills_created, again.already_billed, again.skipped) == ("done", 1, 0, [])
    assert Bill.objects.count() == 1
