"""The Messages page (the outbox): what a leader and a manager see, scoped like every page, with
the retrying and failed messages and "retry now" for the failed ones."""

import datetime as dt

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from customers.filtersets import NotificationFilterSet
from customers.models import Notification
from customers.notifications import LocmemBackend, notification_queue, notifications_send_due
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LOCMEM = dict.fromkeys(("sms", "wechat", "email"), "customers.notifications.LocmemBackend")
URL = reverse("customers:notifications")


@pytest.fixture(autouse=True)
def _locmem():
    LocmemBackend.reset()
    with override_settings(NOTIFICATION_BACKENDS=LOCMEM):
        yield
    LocmemBackend.reset()


@pytest.fixture
def outbox(portfolio, manager):
    """A retrying SMS of area A, a failed WeChat of area A, one of area B, a staff e-mail."""

    def make(key, customer, channel, recipient, kind="dunning_reminder", **state):
        notification, _ = notification_queue(
            channel=channel, recipient=recipient, kind=kind, body="text", customer=customer, dedupe_key=key,
            staff=manager if customer is None else None,
        )  # fmt: skip
        if state:
            Notification.objects.filter(pk=notification.pk).update(**state)
        return Notification.objects.get(pk=notification.pk)

    in_an_hour = timezone.now() + dt.timedelta(hours=1)
    return {
        "retrying": make(
            "o-1",
            portfolio["a1"],
            "sms",
            "13900000001",
            attempts=1,
            next_attempt_at=in_an_hour,
            last_error="Gateway timeout: no answer within 10 s.",
        ),  # fmt: skip
        "failed": make(
            "o-2",
            portfolio["a2"],
            "wechat",
            "wx-hospital",
            status="failed",
            attempts=5,
            last_error="Gateway error (HTTP 503): busy",
        ),  # fmt: skip
        "other_area": make("o-3", portfolio["b1"], "sms", "13900000003", status="failed", attempts=5),
        "staff": make("o-4", None, "email", "boss@example.com", kind="control_gave_up"),
    }


def _rows(html: str, outbox: dict) -> set[str]:
    return {name for name, n in outbox.items() if f'id="notification-{n.pk}"' in html}


def test_a_leader_sees_the_retrying_message_of_their_area_with_its_error_and_next_attempt(client, area_leader, outbox):
    client.force_login(area_leader)
    response = client.get(URL)
    html = response.content.decode()
    assert response.status_code == 200
    assert _rows(html, outbox) == {"retrying", "failed"}  # area B and staff messages are not theirs
    row = html[html.index(f'id="notification-{outbox["retrying"].pk}"') :].split("</tr>")[0]
    assert "Retrying" in row and "Gateway timeout" in row
    assert timezone.localtime(outbox["retrying"].next_attempt_at).strftime("%Y-%m-%d %H:%M") in row
    assert "Retry now" not in row  # only failed messages can be sent again
    assert html.index(f'notification-{outbox["failed"].pk}"') < html.index(f'notification-{outbox["retrying"].pk}"')
    assert "Messages" in html and 'href="/customers/messages/"' in html  # in the menu


def test_a_manager_also_sees_staff_messages_and_a_collector_is_refused(client, manager, collector, outbox):
    client.force_login(manager)
    assert _rows(client.get(URL).content.decode(), outbox) == set(outbox)
    client.force_login(collector)
    assert client.get(URL).status_code == 403
    assert 'href="/customers/messages/"' not in client.get(reverse("collection:worklist")).content.decode()


def test_the_page_filters_without_a_full_reload(client, manager, outbox):
    client.force_login(manager)
    cases = [
        ({"status": "retrying"}, {"retrying"}),
        ({"status": "queued"}, {"staff"}),
        ({"status": "failed", "channel": "sms"}, {"other_area"}),
        ({"kind": "dunning_"}, {"retrying", "failed", "other_area"}),
        ({"q": "3100000002"}, {"failed"}),
        ({"q": "boss@"}, {"staff"}),
        ({"created_after": "2000-01-01", "created_before": "2000-01-02"}, set()),
    ]
    for params, expected in cases:
        html = client.get(URL, params, HTTP_HX_REQUEST="true").content.decode()
        assert '<nav class="navbar' not in html
        assert _rows(html, outbox) == expected, params


def test_the_filterset_serves_an_api_list_too(manager, outbox):
    today = timezone.localdate().isoformat()
    filterset = NotificationFilterSet({"status": "failed", "created_after": today}, queryset=Notification.objects.all())
    assert filterset.is_valid()
    assert set(filterset.qs) == {outbox["failed"], outbox["other_area"]}


def test_a_leader_sends_a_failed_message_again_and_the_next_drain_sends_it_once(client, area_leader, outbox):
    client.force_login(area_leader)
    failed = outbox["failed"]
    back = f"{URL}?status=failed"
    before = timezone.now()
    response = client.post(reverse("customers:notification_retry", args=[failed.pk]), {"next": back})
    assert (response.status_code, response.url) == (302, back)
    failed.refresh_from_db()
    assert (failed.status, failed.retried_by, failed.attempts) == ("queued", area_leader, 5)
    assert before <= failed.next_attempt_at <= timezone.now() and failed.retried_at == failed.next_attempt_at
    assert "sent again by leader_a" in client.get(URL).content.decode()

    notifications_send_due()
    notifications_send_due()
    assert [m.recipient for m in LocmemBackend.outbox].count("wx-hospital") == 1
    failed.refresh_from_db()
    assert failed.status == "sent"

    # Only a failed message, only in scope, only for leaders and managers.
    again = client.post(reverse("customers:notification_retry", args=[failed.pk]), follow=True)
    assert "Only a failed message can be sent again." in again.content.decode()
    assert client.post(reverse("customers:notification_retry", args=[outbox["other_area"].pk])).status_code == 404
    client.force_login(UserFactory(username="collector_x", role="collector"))
    assert client.post(reverse("customers:notification_retry", args=[outbox["other_area"].pk])).status_code == 403
    outbox["other_area"].refresh_from_db()
    assert outbox["other_area"].status == "failed"


def test_retry_does_not_follow_a_next_to_another_site(client, manager, outbox):
    client.force_login(manager)
    response = client.post(
        reverse("customers:notification_retry", args=[outbox["failed"].pk]), {"next": "https://evil.example/"}
    )
    assert response.url == URL
