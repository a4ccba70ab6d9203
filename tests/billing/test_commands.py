"""The jobs as management commands: each takes --date, and running it twice changes nothing."""

import datetime as dt
from decimal import Decimal as D
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from billing.models import Bill, CustomerTariff, MeterReading, Payment, PaymentAllocation, PenaltyAccrual
from billing.tasks import monthly_billing_task
from tests.factories import MeterPointFactory, make_bill

pytestmark = pytest.mark.django_db

HEADER = "meter,read_on,total_kwh,peak_kwh,flat_kwh,valley_kwh,reactive_kvarh,max_demand_kw\n"


def run(*args):
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def meter(portfolio):
    CustomerTariff.objects.create(customer=portfolio["a1"], tariff_code="LI-10KV", valid_from="2025-01-01")
    return MeterPointFactory(customer=portfolio["a1"], meter_no="CMD-1", multiplier=D("10"))


def test_import_readings_is_all_or_nothing_and_idempotent(tmp_path, meter):
    good = tmp_path / "good.csv"
    good.write_text(HEADER + "CMD-1,2026-09-30,100,30,40,30,20,5\nCMD-1,2026-10-31,1100,330,440,330,420,6\n")
    assert "2 reading(s) stored" in run("import_readings", str(good))[0]
    assert "0 reading(s) stored, 2 duplicate(s)" in run("import_readings", str(good))[0]
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "CMD-1,2026-11-01,1200,360,480,360,440,6\nCMD-1,2026-11-02,50,0,50,0,0,1\n")
    with pytest.raises(CommandError, match="1 bad row"):
        run("import_readings", str(bad))
    assert MeterReading.objects.count() == 2
    with pytest.raises(CommandError, match="cannot read"):
        run("import_readings", str(tmp_path / "missing.csv"))


def test_run_billing_then_again_creates_one_bill(meter):
    MeterReading.objects.bulk_create(
        [
            MeterReading(meter=meter, read_on="2026-09-30", total_kwh=100, peak_kwh=30, flat_kwh=40, valley_kwh=30,
                         reactive_kvarh=20, max_demand_kw=5),
            MeterReading(meter=meter, read_on="2026-10-31", total_kwh=1100, peak_kwh=330, flat_kwh=440,
                         valley_kwh=330, reactive_kvarh=420, max_demand_kw=6),
        ]
    )  # fmt: skip
    assert "1 bill(s) created" in run("run_billing", "--period", "2026-10", "--issue-date", "2026-11-01")[0]
    assert "0 bill(s) created, 1 already billed" in run("run_billing", "--period", "2026-10")[0]
    assert Bill.objects.count() == 1
    with pytest.raises(CommandError):
        run("run_billing", "--period", "2026-13")
    with pytest.raises(CommandError, match="--issue-date"):
        run("run_billing", "--period", "2026-10", "--issue-date", "soon")


def test_monthly_billing_task_bills_last_month_once(meter):
    assert monthly_billing_task("2026-11-01") == 0  # no readings yet: nothing billed, no error
    assert Bill.objects.count() == 0


def test_accrue_penalties_for_a_date_twice_changes_nothing(portfolio):
    make_bill(portfolio["a1"], "1000.00", "2026-03-01")
    assert "9 penalty day(s) accrued through 2026-03-10" in run("accrue_penalties", "--date", "2026-03-10")[0]
    assert "0 penalty day(s)" in run("accrue_penalties", "--date", "2026-03-10")[0]
    assert PenaltyAccrual.objects.count() == 9


def test_import_payments_posts_each_reference_once_and_reports_bad_rows(tmp_path, portfolio):
    make_bill(portfolio["a1"], "1000.00", "2099-01-01", issued_on=dt.date(2026, 11, 1))
    statement = tmp_path / "bank.csv"
    statement.write_text(
        "account_no,amount,channel,external_ref,received_at\n"
        "3100000001,400.00,bank_transfer,TX-1,2026-11-20T10:00:00+08:00\n"
        "3100000001,250.00,online_banking,TX-2,2026-11-21T10:00:00+08:00\n"
        "9999999999,1.00,bank_transfer,TX-3,2026-11-21T10:00:00+08:00\n"
        "3100000001,-5,bank_transfer,TX-4,2026-11-21T10:00:00+08:00\n"
    )
    with pytest.raises(CommandError, match="2 bad row"):
        run("import_payments", str(statement))
    assert Payment.objects.count() == 2
    with pytest.raises(CommandError):
        out, err = run("import_payments", str(statement))
    assert Payment.objects.count() == 2  # the re-import posted nothing twice
    assert sum(a.principal for a in PaymentAllocation.objects.all()) == D("650.00")


def test_reconcile_passes_and_fails_on_a_difference(portfolio):
    bill = make_bill(portfolio["a1"], "1000.00", "2099-01-01", issued_on=dt.date(2026, 11, 1))
    assert "no differences" in run("reconcile")[0]
    Bill.objects.filter(pk=bill.pk).update(total=D("999.00"))  # tampering behind the services' back
    with pytest.raises(CommandError, match="difference"):
        run("reconcile")
