"""The dashboard page as people use it: the tiles, charts with their tables, the short lists,
the summary's freshness with "refresh now" for managers, the empty state, the navigation."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.urls import reverse
from django.utils import timezone

from billing.services.payments import payment_record
from dashboards.models import ArrearsPosition, ArrearsSummary, SummaryState

pytestmark = pytest.mark.django_db


def test_the_page_shows_tiles_charts_tables_and_lists(client, manager, book):
    client.force_login(manager)
    response = client.get(reverse("dashboards:arrears"))
    html = response.content.decode()
    context = response.context
    assert 'id="tile-arrears"' in html and f">¥{context['totals']['arrears']:,.2f}<" in html
    for chart in ["aging", "trend", "by_region", "by_industry", "by_grade", "by_collector", "by_settlement_mode"]:
        assert f'data-chart="dashboard-chart-{chart}"' in html and f'id="dashboard-chart-{chart}"' in html
    for table in ["aging", "trend", "by-region", "by-industry", "by-grade", "by-collector", "by-settlement_mode"]:
        assert f'id="{table}"' in html  # every chart has its table of the same figures
    top = context["top"]
    assert [p.customer.account_no for p in top] == ["3200000001", "3200000002", "3200000004", "3200000003"]
    assert top[0].last_action["label"] == "Call" and top[1].last_action is None
    assert [p.customer.account_no for p in context["important_rows"]] == ["3200000002"]
    assert context["important"]["overdue_customers"] == 1
    assert (context["cutoffs"]["open_count"], context["cutoffs"]["executed_count"]) == (1, 1)
    assert "Hospital A2" in html and 'id="cutoff-orders"' in html
    assert "last refreshed" in html and 'id="refresh-now"' in html


def test_a_collector_may_open_it_for_their_own_figures_without_refreshing(client, collector, book):
    client.force_login(collector)
    response = client.get(reverse("dashboards:arrears"))
    assert response.status_code == 200 and response.context["totals"]["customers"] == 2
    assert 'id="refresh-now"' not in response.content.decode()
    assert {p.customer.account_no for p in response.context["top"]} == {"3200000001", "3200000002"}
    assert client.post(reverse("dashboards:refresh")).status_code == 403


def test_a_past_date_leaves_out_todays_debtor_lists(client, manager, book, last_month_end):
    client.force_login(manager)
    context = client.get(reverse("dashboards:arrears"), {"as_of": last_month_end.isoformat()}).context
    assert not context["current"] and context["top"] == [] and context["important_rows"] == []


def test_refresh_now_counts_todays_payments(client, manager, book):
    client.force_login(manager)
    before = client.get(reverse("dashboards:arrears")).context["totals"]["arrears"]
    payment_record(customer=book["a1"], amount=D("1000.00"), channel="counter", external_ref="DB-P9")
    response = client.post(reverse("dashboards:refresh"), {"query": "importance=normal"})
    assert response.status_code == 302 and response.url.endswith("?importance=normal")
    page = client.get(reverse("dashboards:arrears")).context
    # Less the payment, plus today's penalty the payment accrues first (DESIGN.md "Penalties").
    after = page["totals"]["arrears"]
    assert before - D("1000.00") < after < before
    assert client.get(page["drill"]["arrears"]).context["totals"]["amount_due"] == after
    assert SummaryState.objects.get().customers_refreshed == 1


def test_refresh_after_the_day_turned_queues_a_full_rebuild(client, manager, book, django_capture_on_commit_callbacks):
    SummaryState.objects.update(as_of=timezone.localdate() - dt.timedelta(days=1))
    client.force_login(manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("dashboards:refresh"))
    assert response.status_code == 302
    assert SummaryState.objects.get().as_of == timezone.localdate()  # the (eager) task rebuilt today


def test_without_a_summary_the_page_says_how_to_build_one(client, manager, collector, portfolio):
    ArrearsSummary.objects.all().delete()
    ArrearsPosition.objects.all().delete()
    client.force_login(collector)
    html = client.get(reverse("dashboards:arrears")).content.decode()
    assert 'id="no-summary"' in html and "manage.py dashboard_summary" in html and "refresh-now" not in html
    client.force_login(manager)
    html = client.get(reverse("dashboards:arrears")).content.decode()
    assert 'id="no-summary"' in html and 'id="refresh-now"' in html


def test_the_navigation_offers_the_dashboard_to_leaders_and_managers(client, manager, area_leader, collector):
    url = reverse("dashboards:arrears")
    for user, shown in ((manager, True), (area_leader, True), (collector, False)):
        client.force_login(user)
        html = client.get(reverse("customers:list")).content.decode()
        assert (f'href="{url}"' in html) is shown, user
        # Grouped under dropdowns, every page stays reachable.
        assert reverse("customers:list") in html and reverse("billing:bill_list") in html
    client.force_login(manager)
    html = client.get(reverse("billing:bill_list")).content.decode()
    assert 'class="nav-link dropdown-toggle text-nowrap active"' in html  # the open page's group is marked


def test_the_page_renders_in_chinese(client, manager, book):
    client.force_login(manager)
    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    response = client.get(reverse("dashboards:arrears"))
    assert response.status_code == 200 and 'lang="zh-hans"' in response.content.decode()
