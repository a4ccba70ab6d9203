"""An area leader filters the customer list, sends a planned-outage notice to those customers
from there (confirming in the browser's dialog) and follows it on its page, in a real Chromium."""

import pytest

from customers.models import Notification
from tests.browser.conftest import ARTIFACTS, PASSWORD, login, needs_chromium
from tests.factories import ContactFactory, CustomerFactory, RegionFactory, UserFactory

pytestmark = [pytest.mark.browser, needs_chromium]


@pytest.fixture
def leader_and_area():
    leader = UserFactory(username="leader_sun", role="area_leader")
    leader.set_password(PASSWORD)
    leader.save()
    area = RegionFactory(code="DH", name="Donghu", leader=leader)
    steel = CustomerFactory(account_no="3400000001", name="Donghu Steel", industry="steel", region=area)
    works = CustomerFactory(account_no="3400000002", name="Donghu Works", industry="manufacturing", region=area)
    ContactFactory(customer=steel, mobile="13800000001", preferred_channel="sms")
    ContactFactory(customer=steel, mobile="", email="dian@steel.example.cn", preferred_channel="email",
                   receives_dunning=False)  # fmt: skip
    ContactFactory(customer=works, mobile="13800000002", preferred_channel="sms")
    return leader, area


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_leader_sends_a_planned_outage_notice_to_the_filtered_customers(browser_page, live_server, leader_and_area):
    leader, area = leader_and_area
    page = browser_page
    login(page, live_server, leader.username)
    page.goto(f"{live_server.url}/customers/?industry=steel")
    page.locator("#announce-link").click()
    page.locator("#announcement-form").wait_for()
    # The steel works alone, with both its contacts.
    assert "1 customer, 2 contacts" in page.inner_text("#audience-figures")
    assert "Industry" in page.inner_text("#audience")
    page.select_option("#id_kind", "planned_outage")
    page.fill("#id_subject", "Donghu substation maintenance")
    page.fill("#id_short_text", "12月12日8:00-16:00东湖变电站检修停电。")
    page.fill("#id_body", "The Donghu substation is maintained on 12 December, 8:00 to 16:00.")
    page.check("#id_confirm")
    page.screenshot(path=str(ARTIFACTS / "notice-01-form.png"), full_page=True)
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#announcement-form button[type=submit]").click()
    page.locator("#announcement-delivery").wait_for()
    assert "The notice is queued: 2 messages to 1 customer." in page.inner_text("body")
    assert page.inner_text("#delivery-pending").strip() == "2"
    assert page.locator("#announcement-messages tbody tr").count() == 2
    page.screenshot(path=str(ARTIFACTS / "notice-02-sent.png"), full_page=True)
    sent = Notification.objects.filter(announcement__isnull=False)
    assert sorted(sent.values_list("channel", flat=True)) == ["email", "sms"]
    assert not sent.filter(customer__account_no="3400000002").exists()  # not a steel works
