"""Notices to many customers at once (planned outage, tariff change): chosen with the customer
list's filters within the sender's scope, one message per reachable contact on its channel (the
short text by SMS and WeChat, the full text by e-mail), refused with the field named and nothing
stored, never sent twice by a double click, and followed on its page as the messages go out."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from customers.announcements import announcement_send
from customers.models import Announcement, Notification
from customers.notifications import notifications_send_due
from tests.factories import ContactFactory, CustomerFactory

pytestmark = pytest.mark.django_db
NEW = reverse("customers:announcement_new")
NOON = timezone.make_aware(dt.datetime.combine(timezone.localdate(), dt.time(12, 0)))


@pytest.fixture
def contacts(portfolio):
    """Area A: a1's finance manager by SMS and its electrician by e-mail (no payment notices),
    a2's contact by WeChat, and a new works with no contact at all; area B: b1's contact by SMS."""
    CustomerFactory(account_no="3100000009", name="Works A9", region=portfolio["a1"].region)
    return {
        "a1_finance": ContactFactory(customer=portfolio["a1"], mobile="13900000001", preferred_channel="sms"),
        "a1_electrician": ContactFactory(customer=portfolio["a1"], mobile="", email="dian@a1.example.cn",
                                         preferred_channel="email", receives_dunning=False),
        "a2_wechat": ContactFactory(customer=portfolio["a2"], mobile="13900000002", wechat_id="wx-a2",
                                    preferred_channel="wechat"),
        "b1": ContactFactory(customer=portfolio["b1"], mobile="13900000003", preferred_channel="sms"),
    }  # fmt: skip


def body(regions, **changes):
    data = {
        "kind": "planned_outage",
        "subject": "Planned outage 12 December",
        "short_text": "12月12日8:00-16:00东湖变电站检修停电，请提前安排生产。",
        "body": "Dear customer,\n\nThe Donghu substation is maintained on 12 December from 8:00 to 16:00.",
        "all_contacts": "1",
        "send_after": "",
        "audience": f"region={regions['a'].pk}",
        "confirm": "on",
    }
    return {**data, **changes}


def test_a_leader_notifies_the_chosen_customers_on_each_contacts_channel(client, area_leader, regions, contacts):
    client.force_login(area_leader)
    page = client.get(NEW, {"region": regions["a"].pk})
    html = page.content.decode()
    # Area A: a1, a2 and the new works; three contacts, all of a1 and a2; the works has none.
    assert page.status_code == 200
    assert page.context["figures"] == {"customers": 3, "contacts": 3, "without_contact": 1}
    assert "3 customers, 3 contacts" in html
    assert "Area A" in html and "1 customer has no contact and is not reached" in html

    response = client.post(NEW, body(regions))
    announcement = Announcement.objects.get()
    assert response.status_code == 302 and response.url == reverse("customers:announcement_detail",
                                                                   args=[announcement.pk])  # fmt: skip
    assert (announcement.customers, announcement.messages) == (2, 3)
    sent = {n.contact_id: n for n in Notification.objects.filter(announcement=announcement)}
    assert set(sent) == {contacts["a1_finance"].pk, contacts["a1_electrician"].pk, contacts["a2_wechat"].pk}
    finance, electrician, wechat = (sent[contacts[k].pk] for k in ("a1_finance", "a1_electrician", "a2_wechat"))
    assert (finance.channel, finance.recipient, finance.body) == ("sms", "13900000001", body(regions)["short_text"])
    assert (wechat.channel, wechat.recipient) == ("wechat", "wx-a2")
    assert electrician.channel == "email" and electrician.body.startswith("Dear customer,")
    assert {n.kind for n in sent.values()} == {"announcement_planned_outage"}
    assert not Notification.objects.filter(customer=contacts["b1"].customer).exists()  # area B is not chosen


def test_only_the_payment_contacts_when_asked(client, manager, regions, contacts):
    client.force_login(manager)
    assert client.post(NEW, body(regions, all_contacts="0", audience="")).status_code == 302
    reached = set(Notification.objects.values_list("contact_id", flat=True))
    # Every area for the manager; the electrician (no payment notices) left out.
    assert reached == {contacts["a1_finance"].pk, contacts["a2_wechat"].pk, contacts["b1"].pk}


def test_collectors_may_read_but_not_send_and_a_leader_stays_in_their_area(client, collector, area_leader,
                                                                              regions, contacts):  # fmt: skip
    client.force_login(collector)
    assert client.get(NEW).status_code == 403 and client.post(NEW, body(regions)).status_code == 403
    client.force_login(area_leader)
    outside = client.post(NEW, body(regions, audience=f"region={regions['b'].pk}"))
    assert outside.status_code == 400 and "region" in outside.context["filterset"].errors
    # Without a filter: everyone the leader may see, which is area A only.
    assert client.post(NEW, body(regions, audience="")).status_code == 302
    assert not Notification.objects.filter(customer__region=regions["b"]).exists()
    assert Notification.objects.count() == 3


def test_bad_input_is_refused_naming_the_field_and_nothing_is_stored(client, area_leader, regions, contacts):
    client.force_login(area_leader)
    for changes, message in (
        ({"subject": " "}, "This field is required."),
        ({"short_text": "x" * 201}, "Ensure this value has at most 200 characters"),
        ({"send_after": "2020-01-01T08:00"}, "A notice cannot be scheduled in the past."),
        ({"confirm": ""}, "Confirm the sending."),
        ({"kind": "party"}, "Select a valid choice."),
    ):
        response = client.post(NEW, body(regions, **changes))
        assert response.status_code == 400 and message in response.content.decode(), changes
    bad_filter = client.post(NEW, body(regions, audience="importance=royal"))
    assert bad_filter.status_code == 400 and "importance" in bad_filter.context["filterset"].errors
    assert not Announcement.objects.exists() and not Notification.objects.exists()


def test_a_notice_without_reachable_contacts_is_refused(area_leader, contacts, portfolio):
    from django.core.exceptions import ValidationError

    # a2's one contact, taken out of payment notices: nobody is left to reach with "payment contacts only".
    contacts["a2_wechat"].receives_dunning = False
    contacts["a2_wechat"].save()
    with pytest.raises(ValidationError) as error:
        announcement_send(
            kind="tariff_change", subject="New tariff", short_text="1月1日起执行新电价。", body="",
            audience=f"q={portfolio['a2'].account_no}", all_contacts=False, send_after=None, by=area_leader,
        )  # fmt: skip
    assert "customers" in error.value.message_dict
    assert not Announcement.objects.exists() and not Notification.objects.exists()


def test_a_double_click_does_not_send_twice(client, area_leader, regions, contacts):
    client.force_login(area_leader)
    assert client.post(NEW, body(regions)).status_code == 302
    again = client.post(NEW, body(regions))
    assert again.status_code == 400 and "it is not sent twice" in again.content.decode()
    assert Announcement.objects.count() == 1 and Notification.objects.count() == 3


def test_a_scheduled_notice_waits_and_its_page_follows_the_delivery(client, area_leader, regions, contacts):
    tomorrow_ten = timezone.localtime(NOON + dt.timedelta(days=1)).replace(hour=10)
    announcement = announcement_send(
        kind="planned_outage", subject="Outage", short_text="明日检修停电。", body="",
        audience=f"region={regions['a'].pk}", all_contacts=True, send_after=tomorrow_ten,
        by=area_leader,
    )  # fmt: skip
    assert set(announcement.notifications.values_list("next_attempt_at", flat=True)) == {tomorrow_ten}
    assert notifications_send_due(now=tomorrow_ten - dt.timedelta(hours=1)).outcomes == {}  # not yet
    notifications_send_due(now=tomorrow_ten + dt.timedelta(minutes=1))
    client.force_login(area_leader)
    page = client.get(reverse("customers:announcement_detail", args=[announcement.pk]))
    assert page.status_code == 200 and page.context["delivery"] == {"sent": 3, "pending": 0, "failed": 0}
    html = page.content.decode()
    assert "明日检修停电。" in html and "Area A" in html and html.count("badge bg-success") == 3
    listing = client.get(reverse("customers:announcement_list")).content.decode()
    assert "Outage" in listing and reverse("customers:announcement_detail", args=[announcement.pk]) in listing
    messages = client.get(reverse("customers:notifications"), {"announcement": announcement.pk})
    assert messages.context["page"].paginator.count == 3


def test_the_customer_list_offers_the_notice_for_its_filtered_rows(client, area_leader, collector, regions, portfolio):
    client.force_login(area_leader)
    html = client.get(reverse("customers:list"), {"region": regions["a"].pk}).content.decode()
    assert f'href="{NEW}?region={regions["a"].pk}"' in html
    # No customer matches: nothing to send a notice to.
    assert 'id="announce-link"' not in client.get(reverse("customers:list"), {"industry": "railway"}).content.decode()
    client.force_login(collector)
    assert 'id="announce-link"' not in client.get(reverse("customers:list")).content.decode()


def test_the_api_sends_within_the_scope_and_names_a_bad_filter(api_as, area_leader, collector, regions, contacts):
    url = "/api/v1/announcements/"
    payload = {"kind": "tariff_change", "subject": "New tariff from 1 January", "short_text": "1月1日起执行新电价。",
               "audience": f"region={regions['a'].pk}", "all_contacts": False}  # fmt: skip
    assert api_as(collector).post(url, payload, format="json").status_code == 403
    leader = api_as(area_leader)
    bad = leader.post(url, {**payload, "audience": "importance=royal"}, format="json")
    assert bad.status_code == 400 and bad.json()["audience"][0].startswith("importance: ")
    blank = leader.post(url, {**payload, "short_text": ""}, format="json")
    assert blank.status_code == 400 and "short_text" in blank.json()
    assert not Announcement.objects.exists()
    created = leader.post(url, payload, format="json")
    assert created.status_code == 201, created.content
    # Area A's payment contacts: a1's finance manager and a2's WeChat contact (not the electrician).
    assert (created.json()["customers"], created.json()["messages"]) == (2, 2)
    assert created.json()["delivery"] == {"sent": 0, "pending": 2, "failed": 0}
    listed = api_as(collector).get(url).json()  # collector_a's customers got it: they may read it
    assert [a["subject"] for a in listed["results"]] == ["New tariff from 1 January"]


def test_a_large_notice_is_written_by_the_worker_in_chunks_and_resumes_after_a_crash(
    client, area_leader, regions, contacts, monkeypatch, django_capture_on_commit_callbacks
):
    from customers import announcements

    monkeypatch.setattr(announcements, "IN_REQUEST_LIMIT", 1)  # three contacts: "large"
    client.force_login(area_leader)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(NEW, body(regions))
    announcement = Announcement.objects.get()
    assert response.status_code == 302 and len(callbacks) == 1  # the worker's task, after the commit
    assert (announcement.status, announcement.expected, announcement.messages) == ("queuing", 3, 0)
    page = client.get(reverse("customers:announcement_detail", args=[announcement.pk]))
    assert "Preparing the messages: 0 of 3 written." in page.content.decode()
    # The worker dies after its first chunk of one contact: that message stays, the notice is not done.
    real = announcements.notifications_queue_many
    calls = []

    def dies_on_the_second_chunk(rows):
        calls.append(len(rows))
        if len(calls) == 2:
            raise RuntimeError("worker killed")
        return real(rows)

    monkeypatch.setattr(announcements, "notifications_queue_many", dies_on_the_second_chunk)
    with pytest.raises(RuntimeError):
        announcements.announcement_fan_out(announcement.pk, chunk=1)
    announcement.refresh_from_db()
    assert announcement.status == "queuing" and Notification.objects.count() == 1
    # Run again (the task is acks_late: redelivered): only what is missing is written.
    monkeypatch.setattr(announcements, "notifications_queue_many", real)
    callbacks[0]()  # the queued task itself, run eagerly
    announcement.refresh_from_db()
    assert (announcement.status, announcement.messages, announcement.customers) == ("queued", 3, 2)
    assert Notification.objects.count() == 3
    announcements.announcement_fan_out(announcement.pk)  # done: nothing more
    assert Notification.objects.count() == 3
    assert (
        "Preparing the messages"
        not in client.get(reverse("customers:announcement_detail", args=[announcement.pk])).content.decode()
    )


def test_a_notice_is_read_by_those_whose_customers_got_it(client, api_as, area_leader, collector, other_collector,
                                                          regions, contacts):  # fmt: skip
    client.force_login(area_leader)
    client.post(NEW, body(regions))  # area A: collector_a's customers, not collector_b's
    announcement = Announcement.objects.get()
    detail = reverse("customers:announcement_detail", args=[announcement.pk])
    client.force_login(collector)
    assert "Planned outage 12 December" in client.get(reverse("customers:announcement_list")).content.decode()
    page = client.get(detail)
    assert page.status_code == 200 and page.context["page"].paginator.count == 3
    assert "Area A" in page.content.decode()  # the sender's filter, named
    client.force_login(other_collector)
    assert "Planned outage 12 December" not in client.get(reverse("customers:announcement_list")).content.decode()
    assert client.get(detail).status_code == 404
    assert api_as(other_collector).get("/api/v1/announcements/").json()["count"] == 0
    assert api_as(other_collector).get(f"/api/v1/announcements/{announcement.pk}/").status_code == 404


def test_an_audience_too_long_for_the_record_is_refused_not_a_server_error(client, area_leader, regions, contacts):
    client.force_login(area_leader)
    long_query = "&".join(["q=" + "东湖" * 40] * 3)  # percent-encoded: over 1,000 characters
    page = client.get(f"{NEW}?{long_query}")
    assert page.status_code == 400 and "Too many filters" in page.content.decode()
    response = client.post(NEW, body(regions, audience=long_query))
    assert response.status_code == 400 and not Announcement.objects.exists()


def test_the_messages_page_says_what_each_message_is(client, area_leader, regions, contacts):
    client.force_login(area_leader)
    client.post(NEW, body(regions))
    html = client.get(reverse("customers:notifications")).content.decode()
    assert 'title="announcement_planned_outage">Notice: planned outage</td>' in html
    client.cookies.load({"django_language": "zh-hans"})
    assert ">通知：计划停电</td>" in client.get(reverse("customers:notifications")).content.decode()


def test_the_customer_page_shows_what_its_contacts_were_sent(client, area_leader, collector, other_collector, regions,
                                                             contacts, portfolio):  # fmt: skip
    client.force_login(area_leader)
    client.post(NEW, body(regions))
    panel = reverse("customers:messages_panel", args=[portfolio["a1"].account_no])
    client.force_login(collector)  # a1 is collector_a's customer
    html = client.get(panel).content.decode()
    assert html.count("Notice: planned outage") == 2 and "2 messages in all" in html
    assert "All of them on the Messages page" not in html  # the Messages page is for leaders and managers
    client.force_login(other_collector)
    assert client.get(panel).status_code == 404
    client.force_login(area_leader)
    assert f"?customer={portfolio['a1'].account_no}" in client.get(panel).content.decode()
    empty = client.get(reverse("customers:messages_panel", args=[portfolio["b1"].account_no]))
    assert empty.status_code == 404  # area B is not the leader's
