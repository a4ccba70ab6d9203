"""The collection benchmarks (bench/collection.py) at a tiny size: their data builders and measuring
code run and produce what the sections report. No timing is asserted."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from bench.collection import BLOCK, arrears_prepare, dunning_measure, worklist_measure, worklist_prepare
from collection.models import CollectionCase, DunningNotice
from collection.services import dunning_run
from customers.models import Notification

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_portfolio():
    call_command("seed_demo", customers=BLOCK + 10, seed=3, no_history=True, stdout=StringIO())


def test_the_dunning_benchmark_produces_every_step_and_undoes_its_runs(demo_portfolio):
    day = timezone.localdate()
    arrears = arrears_prepare(customers=BLOCK, day=day, seed=1)
    assert arrears.bills == 5 * BLOCK and arrears.penalty_rows > 0 and arrears.contacts > 0
    before = (DunningNotice.objects.count(), Notification.objects.count(), CollectionCase.objects.count())

    figures = dunning_measure(day=day, runs=1, budget=60)

    assert len(figures.first) == len(figures.second) == 1
    # One block of the mix: 10 newly overdue, 10 with a reminder served, 6 with a demand served.
    assert figures.notices == {("reminder", "sent"): 10, ("demand", "sent"): 10, ("suspension", "proposed"): 6}
    assert figures.result.cases_opened == 10 and figures.result.cancelled == figures.result.cases_closed == 1
    assert figures.messages > 0
    assert figures.queries_first > figures.queries_second > 0 and not figures.capped
    # Every repetition was undone: the state is the one the builder left, and a run proposes the same again.
    assert (DunningNotice.objects.count(), Notification.objects.count(), CollectionCase.objects.count()) == before
    assert dunning_run(day=day).proposed == 26


def test_the_worklist_benchmark_shows_every_kind_of_row(demo_portfolio):
    day = timezone.localdate()
    arrears_prepare(customers=BLOCK, day=day, seed=1)
    dunning_run(day=day)

    worklist = worklist_prepare(customers=BLOCK, day=day, seed=1)  # raises when a kind of row is missing
    figures = worklist_measure(user=worklist.collector, requests=3, warm_up=1, budget=60)

    assert worklist.customers == BLOCK and worklist.total_rows == sum(worklist.rows.values())
    assert figures.latencies.count == 3 and figures.queries > 0
    assert figures.selector_ms >= figures.overdue_ms > 0  # timed inside the requests
    assert figures.page_rows == min(50, worklist.total_rows)
