"""Every dashboard figure links to the customer or bill list that makes it up, and the rows of
that list add up to the figure: the tiles, each group of every breakdown (area, industry,
grade, collector, settlement mode), each aging bucket, the month's and year's bills due, the
trend — today and on a past month-end."""

from decimal import Decimal as D

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

DIMENSIONS = ["region", "industry", "grade", "collector", "settlement_mode"]


def dashboard(client, **params):
    response = client.get(reverse("dashboards:arrears"), params)
    assert response.status_code == 200, response.content[:500]
    return response.context


def bills(client, url):
    """(rows, Σ amount due, Σ total) of the bill list behind a link, from its footer."""
    response = client.get(url)
    assert response.status_code == 200
    context = response.context
    assert not context["filterset"].errors, context["filterset"].errors
    totals = context["totals"]
    return context["page"].paginator.count, totals["amount_due"], totals["total"]


def customers(client, url):
    """(rows, Σ arrears on the day when the list has one) of the customer list behind a link."""
    response = client.get(url)
    assert response.status_code == 200
    context = response.context
    assert not context["filterset"].errors, context["filterset"].errors
    return context["page"].paginator.count, context["arrears_total"]


def test_the_tiles_equal_the_sums_of_their_lists(client, manager, book):
    client.force_login(manager)
    page = dashboard(client)
    totals, drill = page["totals"], page["drill"]
    # 7,000 + 10,000 + 2,000 + 3,000 + 4,000 + 1,000 (1,500 less 500) + what b1 still owes, plus penalties.
    assert totals["arrears"] > D("27000") and totals["penalty_overdue"] > 0
    rows, amount_due, _ = bills(client, drill["arrears"])
    # Every bill but b2's (not yet due) and b1's 800 (its payment settled the oldest bill first).
    assert amount_due == totals["arrears"] and rows == 7
    count, arrears = customers(client, drill["in_arrears"])
    assert (count, arrears) == (totals["overdue_customers"], totals["arrears"]) == (4, totals["arrears"])
    assert customers(client, drill["customers"])[0] == totals["customers"] == 5
    assert customers(client, drill["clear"])[0] == totals["customers"] - totals["overdue_customers"] == 1
    assert bills(client, drill["due_month"])[2] == totals["due_month"]
    assert bills(client, drill["due_ytd"])[2] == totals["due_ytd"]
    assert bills(client, drill["billed"])[2] == totals["billed_month"]


@pytest.mark.parametrize("dimension", DIMENSIONS)
def test_each_group_of_a_breakdown_equals_its_lists(client, manager, book, dimension):
    client.force_login(manager)
    page = dashboard(client)
    groups = next(b["groups"] for b in page["breakdowns"] if b["dimension"] == dimension)
    assert len(groups) >= 2
    assert sum(g["arrears"] for g in groups) == page["totals"]["arrears"]
    for group in groups:
        links = group["links"]
        assert bills(client, links["arrears"])[1] == group["arrears"], (dimension, group["label"])
        assert customers(client, links["in_arrears"]) == (group["overdue_customers"], group["arrears"])
        assert customers(client, links["customers"])[0] == group["customers"]
        assert customers(client, links["clear"])[0] == group["customers"] - group["overdue_customers"]
        assert bills(client, links["due_month"])[2] == group["due_month"]
        for cell in group["aging_cells"]:
            assert bills(client, cell["link"])[1] == cell["amount"], (dimension, group["label"], cell["bucket"])


def test_the_unassigned_and_ungraded_groups_have_their_own_lists(client, manager, book):
    client.force_login(manager)
    page = dashboard(client)
    by = {b["dimension"]: {g["key"]: g for g in b["groups"]} for b in page["breakdowns"]}
    assert by["collector"]["none"]["label"] == "No collector" and by["collector"]["none"]["customers"] == 1
    assert by["grade"]["none"]["customers"] == 1
    assert "collector=none" in by["collector"]["none"]["links"]["arrears"]


def test_each_aging_bucket_equals_its_bill_list(client, manager, book):
    client.force_login(manager)
    page = dashboard(client)
    amounts = {}
    for bucket in page["aging"]:
        rows, amount_due, _ = bills(client, bucket["link"])
        assert amount_due == bucket["amount"], bucket["bucket"]
        amounts[bucket["bucket"]] = rows
    # Over 180 days a1's 7,000; 91–180 a2's 3,000; 61–90 a2's 4,000 (b1's 800 is paid); 31–60 a1's
    # 10,000; up to 30 a1's 2,000, a3's rest and b1's rest.
    assert amounts == {"aged_over_180": 1, "aged_91_180": 1, "aged_61_90": 1, "aged_31_60": 1, "aged_0_30": 3}
    assert sum(b["amount"] for b in page["aging"]) == page["totals"]["arrears"]


def test_a_past_month_end_drills_down_to_that_days_arrears(client, manager, book, last_month_end):
    client.force_login(manager)
    page = dashboard(client, as_of=last_month_end.isoformat())
    assert page["as_of"] == last_month_end and not page["current"]
    # Today's payments had not happened then: the list shows what was unpaid that day.
    rows, amount_due, _ = bills(client, page["drill"]["arrears"])
    assert amount_due == page["totals"]["arrears"] and rows > 0
    for bucket in page["aging"]:
        assert bills(client, bucket["link"])[1] == bucket["amount"]
    groups = next(b["groups"] for b in page["breakdowns"] if b["dimension"] == "region")
    for group in groups:
        assert customers(client, group["links"]["in_arrears"]) == (group["overdue_customers"], group["arrears"])


def test_the_trend_links_to_each_month_ends_arrears_and_bills(client, manager, book, last_month_end):
    client.force_login(manager)
    trend = dashboard(client)["trend"]
    assert len(trend) == 13
    built = [row for row in trend if row["arrears"] is not None]
    assert [row["month_end"] for row in built][-2] == last_month_end
    for row in built:
        assert bills(client, row["links"]["arrears"])[1] == row["arrears"]
        assert bills(client, row["links"]["billed"])[2] == row["billed"]


def test_the_drill_down_keeps_the_dashboards_filters(client, manager, book, regions):
    client.force_login(manager)
    page = dashboard(client, region=regions["a"].pk, industry="steel")
    assert page["totals"]["customers"] == 1
    link = page["drill"]["arrears"]
    assert f"region={regions['a'].pk}" in link and "industry=steel" in link
    assert bills(client, link)[1] == page["totals"]["arrears"]
    html = client.get(link).content.decode()
    assert 'id="drill-filters"' in html and 'name="overdue_on"' in html  # shown, and kept by the form
