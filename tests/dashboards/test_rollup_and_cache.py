"""The summary's rollups and the shared cache: a request sums the smallest grain that holds what
it filters, groups and is scoped by, and gets the figures the full summary gives; answers are
shared by users of one scope only, kept until the summary changes; the cut-off orders stay live;
a long breakdown shows its largest groups and the rest in one row, the full table a click away."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.http import QueryDict
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from billing.services.payments import payment_record
from collection.models import CutoffOrder
from customers.selectors import visibility
from dashboards import selectors as s
from dashboards.filtersets import ArrearsSummaryFilterSet
from dashboards.models import ArrearsPosition, ArrearsRollup, SummaryDate
from dashboards.summary import summary_rebuild, summary_refresh
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

FILTERS = [
    {},
    {"industry": ["steel", "hospital"]},
    {"grade": ["C", "none"]},
    {"importance": ["class_1"]},
    {"settlement_mode": ["monthly"], "industry": ["manufacturing"]},
    {"industry": ["steel", "chemical", "hospital"], "importance": ["normal", "class_1"], "grade": ["C", "B", "A"]},
    {"collector": ["none"]},
    {"region": ["a"]},
    {"region": ["district_a"], "industry": ["steel", "hospital"]},  # a district: its areas
]


def filtersets(user, params: dict, regions):
    """The dashboard's filterset for the user, and the same over the full summary only."""
    data = QueryDict(mutable=True)
    for name, values in params.items():
        data.setlist(name, [str(regions[v].pk) if name == "region" else v for v in values])
    request = RequestFactory().get("/")
    request.user = user
    rolled = s.dashboard_filterset(data, request)
    plain = ArrearsSummaryFilterSet(data, queryset=s.summary_visible_to(user), request=request)
    assert rolled.is_valid() and plain.is_valid(), (rolled.errors, plain.errors)
    return rolled, plain


@pytest.fixture
def leading_collector(regions):
    """Leads area B and collects area A's customers: sees both, which only grains with the
    collector can tell."""
    user = UserFactory(username="leader_b_collecting", role="area_leader")
    user.groups.add(Group.objects.get(name="collector"))
    regions["b"].leader = user
    regions["b"].save()
    return user


@pytest.mark.parametrize("persona", ["manager", "area_leader", "collector", "leading_collector"])
def test_the_rollups_give_the_summarys_figures_for_every_filter_and_breakdown(request, book, regions, persona):
    user = request.getfixturevalue(persona)
    if persona == "leading_collector":
        book["a1"].collector = user
        book["a1"].save()
        summary_refresh()
    for params in FILTERS:
        if persona != "manager" and "region" in params:
            continue
        rolled, plain = filtersets(user, params, regions)
        assert s.figures(rolled.rows()) == s.figures(plain.qs), params
        for dimension in s.DIMENSIONS:
            assert s.breakdown(rolled, dimension) == s.breakdown(plain, dimension), (params, dimension)
        assert s.trend(rolled, rolled.as_of_date) == s.trend(plain, plain.as_of_date), params


def test_a_request_sums_the_smallest_grain_that_holds_it(book, manager, collector, regions):
    def grain(rows):
        return set(rows.values_list("grain", flat=True)) if rows.model is ArrearsRollup else "summary"

    rolled, _ = filtersets(manager, {}, regions)
    assert grain(rolled.rows()) == {"region"}
    assert grain(rolled.rows(by="collector")) == {"region,collector"}
    assert grain(rolled.rows(by="grade")) == {"region,grade"}
    rolled, _ = filtersets(manager, {"industry": ["steel"]}, regions)
    assert grain(rolled.rows(by="industry")) == {"region,industry"}
    assert grain(rolled.rows(by="grade")) == {"region,grade,industry"}
    assert grain(rolled.rows(by="collector")) == {"region,industry,collector"}
    rolled, _ = filtersets(manager, {"industry": ["steel"], "importance": ["normal"]}, regions)
    assert grain(rolled.rows(by="grade")) == {"region,industry,grade,settlement_mode,importance"}
    assert grain(rolled.rows(by="collector")) == "summary"  # three dimensions with the collector: the summary
    # A collector's scope is their own customers: the area alone cannot tell them.
    rolled, _ = filtersets(collector, {}, regions)
    assert grain(rolled.rows()) == {"region,collector"}
    assert grain(rolled.rows(by="grade")) == {"region,grade,collector"}
    rolled, _ = filtersets(collector, {"industry": ["steel"]}, regions)
    assert grain(rolled.rows(by="grade")) == "summary"
    # Area A has a1, a2, a3, all in arrears; its row of the coarsest grain is their positions' sum.
    area_a = ArrearsRollup.objects.get(as_of=timezone.localdate(), grain="region", region=regions["a"])
    assert area_a.customers == 3 and area_a.overdue_customers == 3
    positions = ArrearsPosition.objects.filter(customer__in=[book["a1"], book["a2"], book["a3"]])
    assert area_a.arrears == sum(p.arrears for p in positions) > D("26000.00")


def test_users_of_one_scope_share_an_answer_and_no_one_else_gets_it(client, manager, area_leader, book):
    cache.clear()
    other_manager = UserFactory(username="manager_2", role="manager")
    assert visibility(manager).key == visibility(other_manager).key != visibility(area_leader).key
    client.force_login(manager)
    first = client.get(reverse("dashboards:arrears"))
    assert first.context["totals"]["customers"] == 5  # computed
    client.force_login(other_manager)
    second = client.get(reverse("dashboards:arrears"))
    assert second.status_code == 200 and "totals" not in second.context  # from the first's cache
    assert 'id="tile-arrears"' in second.content.decode()
    body = first.content.decode().split('id="dashboard-filters"')[1].split('id="cutoff-title"')[0]
    assert body in second.content.decode()
    # The leader asks the same URL and gets their own area, computed for their scope.
    client.force_login(area_leader)
    assert client.get(reverse("dashboards:arrears")).context["totals"]["customers"] == 3


def test_the_key_is_what_is_asked_not_how_the_url_spells_it(client, manager, book, today, settings):
    cache.clear()
    client.force_login(manager)
    url = reverse("dashboards:arrears")
    assert "totals" in client.get(url, {"industry": ["steel", "hospital"]}).context  # computed
    # The same question: the latest date spelled out, the values in another order, a stray parameter.
    same = client.get(url, {"as_of": today.isoformat(), "industry": ["hospital", "steel"], "utm": "mail"})
    assert same.status_code == 200 and "totals" not in same.context
    assert "totals" in client.get(url, {"industry": "steel"}).context  # another question
    settings.DASHBOARD_CACHE_SECONDS = 0  # caching off: every request computes
    assert "totals" in client.get(url).context and "totals" in client.get(url).context


def test_answers_are_kept_until_the_summary_changes(client, manager, book, api_as):
    cache.clear()
    client.force_login(manager)
    url = reverse("dashboards:arrears")
    arrears = client.get(url).context["totals"]["arrears"]
    assert summary_refresh() == 0  # nothing changed: the same version, still cached
    assert "totals" not in client.get(url).context
    api = api_as(manager)
    before = api.get("/api/v1/dashboard/arrears/").json()
    # The API says when the summary was last brought up to date, even from the cache.
    summary_refresh()
    after = api.get("/api/v1/dashboard/arrears/").json()
    assert after["totals"] == before["totals"] and after["refreshed_at"] > before["refreshed_at"]
    payment_record(customer=book["a2"], amount=D("3000.00"), channel="counter", external_ref="RC-P1")
    assert summary_refresh() == 1  # a2's summary rows change, and with them the version
    # Recomputed: the payment went to a2's oldest bill (3,000, 91–180 days) and its penalty first.
    now = client.get(url).context["totals"]
    assert now["aged_91_180"] < D("100.00") and now["arrears"] < arrears - D("2900.00")
    assert now["arrears"] == sum(ArrearsPosition.objects.values_list("arrears", flat=True))


def test_a_month_end_rebuilt_shows_on_the_trend_at_once(client, manager, book, last_month_end):
    cache.clear()
    client.force_login(manager)
    url = reverse("dashboards:arrears")
    trend = {r["month_end"]: r for r in client.get(url).context["trend"]}
    assert trend[last_month_end]["arrears"] is not None
    built = SummaryDate.objects.get(as_of=last_month_end).built_at
    # Two months back had no summary; building it (the nightly job's history) shows it.
    earlier = last_month_end.replace(day=1) - dt.timedelta(days=1)
    assert trend[earlier]["arrears"] is None and not SummaryDate.objects.filter(as_of=earlier).exists()
    summary_rebuild(as_of=earlier)
    assert SummaryDate.objects.get(as_of=last_month_end).built_at == built
    trend = {r["month_end"]: r for r in client.get(url).context["trend"]}
    assert trend[earlier]["arrears"] is not None
    assert earlier in client.get(url).context["filterset"].available_dates


def test_the_cut_off_orders_are_live_while_the_figures_are_cached(client, manager, book):
    cache.clear()
    client.force_login(manager)
    url = reverse("dashboards:arrears")
    assert client.get(url).context["cutoffs"]["open_count"] == 1
    CutoffOrder.objects.create(customer=book["a2"], status="proposed", reason="Arrears over 30 days",
                               planned_at=timezone.now() + dt.timedelta(days=3))  # fmt: skip
    response = client.get(url)
    assert "totals" not in response.context  # the figures from the cache…
    assert response.context["cutoffs"]["open_count"] == 2  # …the orders from the database
    assert ">2 open</a>" in response.content.decode()


def test_a_long_breakdown_shows_its_largest_groups_and_sums_the_rest(client, manager, book, monkeypatch):
    cache.clear()
    monkeypatch.setattr(s, "BREAKDOWN_SHOWN", 1)
    client.force_login(manager)
    response = client.get(reverse("dashboards:arrears"))
    page = response.context
    by_collector = next(b for b in page["breakdowns"] if b["dimension"] == "collector")
    # collector_a (a1, a2: 26,000 and more) first; collector_b's b1 and a3 (no collector) in the rest.
    assert [g["label"] for g in by_collector["groups"]] == [book["a1"].collector.get_full_name()]
    assert by_collector["count"] == 3 and by_collector["others_count"] == 2
    shown, others = by_collector["groups"][0], by_collector["others"]
    assert shown["arrears"] + others["arrears"] == page["totals"]["arrears"]
    assert shown["customers"] + others["customers"] == 5
    html = response.content.decode()
    assert 'id="by-collector-others"' in html and "2 more" in html
    # The full table: every collector, with its drill-down links, under the same filters.
    full = client.get(by_collector["all_url"])
    assert full.status_code == 200
    keys = [g["key"] for g in full.context["b"]["groups"]]
    assert sorted(keys) == sorted([str(book["a1"].collector_id), str(book["b1"].collector_id), "none"])
    assert full.context["b"]["others"] is None
    assert full.content.decode().count('class="group-arrears"') == 3


def test_the_full_breakdown_is_scoped_and_checks_its_dimension(client, area_leader, book):
    client.force_login(area_leader)
    response = client.get(reverse("dashboards:breakdown", args=["collector"]))
    assert response.status_code == 200
    assert {g["key"] for g in response.context["b"]["groups"]} == {str(book["a1"].collector_id), "none"}
    assert client.get(reverse("dashboards:breakdown", args=["nonsense"])).status_code == 404
    response = client.get(reverse("dashboards:breakdown", args=["grade"]), {"as_of": "1999-01-01"})
    assert response.status_code == 400 and "as_of" in response.context["filterset"].errors


def test_the_api_answer_is_shared_by_scope_but_kept_per_language(api_as, manager, book):
    cache.clear()
    other_manager = UserFactory(username="manager_3", role="manager")
    chinese = api_as(manager).get("/api/v1/dashboard/arrears/", {"group_by": "aging"}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    english = api_as(other_manager).get("/api/v1/dashboard/arrears/", {"group_by": "aging"},
                                        HTTP_ACCEPT_LANGUAGE="en")  # fmt: skip
    assert chinese.status_code == english.status_code == 200
    assert chinese.json()["totals"]["arrears"] == english.json()["totals"]["arrears"]  # the same figures…
    assert [g["arrears"] for g in chinese.json()["groups"]] == [g["arrears"] for g in english.json()["groups"]]
    # …in each reader's language (a Chinese answer cached first is not served to the English reader).
    assert (english.json()["groups"][0]["label"], chinese.json()["groups"][0]["label"]) == ("0–30 days", "0–30 天")


def test_scope_keys_differ_wherever_the_rows_differ(manager, area_leader, collector, leading_collector, regions):
    leaderless = UserFactory(username="leader_of_nothing", role="area_leader")
    keys = {
        "manager": visibility(manager).key,
        "superuser": visibility(UserFactory(username="root", is_superuser=True)).key,
        "leader": visibility(area_leader).key,
        "leader of nothing": visibility(leaderless).key,
        "collector": visibility(collector).key,
        "leading collector": visibility(leading_collector).key,
    }
    assert keys["manager"] == keys["superuser"] == "all"
    others = [keys[k] for k in ("leader", "leader of nothing", "collector", "leading collector")]
    assert len(set(others)) == 4 and "all" not in others
    regions["b"].leader = area_leader  # a second area: the leader's rows, and key, change
    regions["b"].save()
    area_leader = type(area_leader).objects.get(pk=area_leader.pk)  # a new request: nothing kept on the user
    assert visibility(area_leader).key != keys["leader"]
