"""Reading ingestion: the same tests run through the PostgreSQL COPY path and the Python path."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection

from billing.models import MeterReading
from billing.services.readings import ReadingBatchError, readings_ingest
from tests.factories import MeterPointFactory

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 11, 28)


@pytest.fixture(params=["sql", "python"])
def ingest(request):
    if request.param == "sql" and connection.vendor != "postgresql":
        pytest.skip("the COPY path needs PostgreSQL")

    def run(rows):
        return readings_ingest(rows=rows, today=TODAY, bulk_sql=request.param == "sql")

    return run


@pytest.fixture
def meters(db):
    return [MeterPointFactory(meter_no="M-1"), MeterPointFactory(meter_no="M-2")]


def row(meter="M-1", day="2026-11-01", total="1000", **changes):
    total = Decimal(total)
    values = {
        "meter": meter,
        "read_on": day,
        "total_kwh": str(total),
        "critical_peak_kwh": "0",
        "peak_kwh": str(total * Decimal("0.3")),
        "flat_kwh": str(total * Decimal("0.4")),
        "valley_kwh": str(total * Decimal("0.3")),
        "reactive_kvarh": str(total / 2),
        "max_demand_kw": "12.5",
        "source": "ami",
    }
    values.update(changes)
    return values


def errors_of(exc_info):
    return [(e.row, e.field) for e in exc_info.value.errors]


def test_a_batch_is_stored_and_a_resend_counts_as_duplicates(ingest, meters):
    batch = [row(day="2026-11-01", total="1000"), row(day="2026-11-02", total="1100"), row("M-2", "2026-11-01")]
    assert vars(ingest(batch)) == {"created": 3, "duplicates": 0}
    assert vars(ingest(batch)) == {"created": 0, "duplicates": 3}
    assert MeterReading.objects.count() == 3
    stored = MeterReading.objects.get(meter__meter_no="M-1", read_on="2026-11-02")
    assert stored.total_kwh == Decimal("1100.000") and stored.peak_kwh == Decimal("330.000")


def test_an_identical_row_twice_in_one_batch_is_one_reading(ingest, meters):
    assert vars(ingest([row(), row()])) == {"created": 1, "duplicates": 1}


def test_a_register_lower_than_the_previous_reading_is_rejected_with_row_and_field(ingest, meters):
    ingest([row(day="2026-11-01", total="1000")])
    with pytest.raises(ReadingBatchError) as info:
        ingest([row(day="2026-11-02", total="1100"), row(day="2026-11-03", total="1050")])
    assert errors_of(info) == [(1, "total_kwh")]
    assert "lower than the previous reading of 2026-11-02" in info.value.errors[0].message
    assert MeterReading.objects.count() == 1  # nothing of the batch was stored


def test_a_late_reading_must_fit_between_its_neighbours(ingest, meters):
    ingest([row(day="2026-11-01", total="1000"), row(day="2026-11-03", total="1200")])
    assert ingest([row(day="2026-11-02", total="1100")]).created == 1
    with pytest.raises(ReadingBatchError) as info:
        ingest([row(day="2026-10-31", total="1001")])
    assert errors_of(info) == [(0, "total_kwh")]
    assert "higher than the later reading of 2026-11-01" in info.value.errors[0].message


def test_a_changed_value_for_a_stored_date_is_rejected(ingest, meters):
    ingest([row()])
    with pytest.raises(ReadingBatchError) as info:
        ingest([row(reactive_kvarh="501")])
    assert errors_of(info) == [(0, "reactive_kvarh")]


def test_conflicting_rows_in_one_batch_are_rejected(ingest, meters):
    with pytest.raises(ReadingBatchError) as info:
        ingest([row(), row("M-2"), row(max_demand_kw="13")])
    assert errors_of(info) == [(2, "max_demand_kw")]
    assert "conflicts with row 0" in info.value.errors[0].message


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"meter": "NOPE"}, "meter"),
        ({"meter": ""}, "meter"),
        ({"read_on": "2026-11-29"}, "read_on"),
        ({"read_on": "2026-02-30"}, "read_on"),
        ({"read_on": "yesterday"}, "read_on"),
        ({"valley_kwh": None}, "valley_kwh"),
        ({"total_kwh": "-1"}, "total_kwh"),
        ({"total_kwh": "abc"}, "total_kwh"),
        ({"total_kwh": "1.2345"}, "total_kwh"),
        ({"total_kwh": "NaN"}, "total_kwh"),
        ({"peak_kwh": [1]}, "peak_kwh"),
        ({"source": "guess"}, "source"),
    ],
)
def test_bad_rows_name_their_row_and_field_and_nothing_is_stored(ingest, meters, changes, field):
    with pytest.raises(ReadingBatchError) as info:
        ingest([row("M-2"), row(**changes)])
    assert errors_of(info) == [(1, field)]
    assert not MeterReading.objects.exists()


def test_every_bad_row_is_reported_in_row_order(ingest, meters):
    ingest([row(day="2026-11-01", total="1000")])
    batch = [
        row(day="2026-11-02", total="900"),
        row(meter="X"),
        row("M-2", read_on="bad"),
        row(day="2026-11-01", total="5"),
    ]
    with pytest.raises(ReadingBatchError) as info:
        ingest(batch)
    assert errors_of(info) == [(0, "total_kwh"), (1, "meter"), (2, "read_on"), (3, "total_kwh")]


def test_a_replacement_meter_starts_from_its_own_register(ingest, meters):
    old = meters[0]
    ingest([row(day="2026-11-01", total="98000")])
    MeterPointFactory(meter_no="M-1B", customer=old.customer, replaces=old)
    assert ingest([row("M-1B", "2026-11-02", total="0"), row("M-1B", "2026-11-03", total="25")]).created == 2


def test_numbers_in_any_accepted_form_are_stored_the_same(ingest, meters):
    batch = [
        row(day="2026-11-01", total="1000"),
        {**row(day="2026-11-02", total="1100"), "total_kwh": 1100, "max_demand_kw": 12.5},  # JSON numbers
        {**row(day="2026-11-03", total="1200"), "total_kwh": " 1.2e3 ", "source": "MANUAL"},  # spaces, exponent, case
        {**row(day="2026-11-04", total="1300"), "critical_peak_kwh": None},  # optional register left out
    ]
    assert ingest(batch).created == 4
    stored = dict(MeterReading.objects.filter(meter__meter_no="M-1").values_list("read_on", "total_kwh"))
    assert [stored[dt.date(2026, 11, d)] for d in (1, 2, 3, 4)] == [
        Decimal("1000"),
        Decimal("1100"),
        Decimal("1200"),
        Decimal("1300"),
    ]
    assert MeterReading.objects.get(read_on="2026-11-03").source == "manual"
    with pytest.raises(ReadingBatchError) as info:
        ingest([{**row(day="2026-11-05", total="1400"), "total_kwh": 1400.0001}])
    assert errors_of(info) == [(0, "total_kwh")]
