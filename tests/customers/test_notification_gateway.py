"""The HTTP SMS/WeChat gateway backend against a fake gateway on a local port: a timeout, no
connection or a 5xx leaves the message queued for a later attempt with the error; a refusal
(4xx) fails it at once; the retry carries the same Idempotency-Key, so the gateway delivers once."""

import datetime as dt
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from customers.notifications import HttpGatewayBackend, notification_queue, notifications_send_due
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 11, 2, 0, tzinfo=dt.UTC)  # 10:00 in Shanghai: no quiet hours
MINUTE = dt.timedelta(minutes=1)
TIMEOUT = 0.3  # seconds; the slow answers below take longer


class FakeGateway:
    """An SMS provider's gateway: answers each request with the next scripted reply ("ok",
    "slow" = answers only after the client's timeout, or an HTTP status), and de-duplicates by
    Idempotency-Key on arrival as the contract asks (a repeat is answered 409 with the first ref)."""

    def __init__(self):
        self.script: list[str] = []
        self.requests: list[dict] = []
        self.delivered: dict[str, str] = {}  # Idempotency-Key → ref
        self.lock = threading.Lock()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the name http.server calls
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                key = self.headers["Idempotency-Key"]
                with gateway.lock:
                    gateway.requests.append({"body": body, "key": key, "auth": self.headers["Authorization"]})
                    reply = gateway.script.pop(0) if gateway.script else "ok"
                    first_ref = gateway.delivered.get(key)
                    if reply in ("ok", "slow") and first_ref is None:
                        gateway.delivered[key] = f"GW-{len(gateway.delivered) + 1}"
                if reply == "slow":
                    time.sleep(TIMEOUT * 4)
                if first_ref is not None:
                    self._answer(409, {"ref": first_ref})
                elif reply in ("ok", "slow"):
                    self._answer(200, {"ref": gateway.delivered[key]})
                else:
                    self._answer(int(reply), {"error": f"scripted {reply}"})

            def _answer(self, status, data):
                try:
                    raw = json.dumps(data).encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (the timeout under test)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gateway():
    with (
        FakeGateway() as fake,
        override_settings(
            NOTIFICATION_BACKENDS={"sms": "customers.notifications.HttpGatewayBackend"},
            NOTIFICATION_GATEWAY_URLS={"sms": fake.url},
            NOTIFICATION_GATEWAY_TOKEN="gw-token",
            NOTIFICATION_GATEWAY_TIMEOUT=TIMEOUT,
        ),
    ):
        yield fake


@pytest.fixture
def message(db):
    notification, _ = notification_queue(
        channel="sms", recipient="13900000001", kind="dunning_reminder", body="您的电费已逾期。",
        customer=CustomerFactory(), dedupe_key="gw-1",
    )  # fmt: skip
    return notification


def test_a_gateway_that_times_out_leaves_the_message_queued_and_a_later_attempt_sends_it_once(gateway, message):
    gateway.script = ["slow"]
    started = time.monotonic()
    assert notifications_send_due(now=T0).count("retry") == 1
    assert time.monotonic() - started < TIMEOUT * 3  # the sender gave up at the timeout
    message.refresh_from_db()
    assert (message.status, message.attempts, message.next_attempt_at) == ("queued", 1, T0 + MINUTE)
    assert "timeout" in message.last_error.lower() and message.sent_at is None

    assert notifications_send_due(now=T0 + MINUTE / 2).outcomes == {}  # backing off
    assert notifications_send_due(now=T0 + MINUTE).count("sent") == 1
    notifications_send_due(now=T0 + 10 * MINUTE)  # nothing left to send
    message.refresh_from_db()
    assert (message.status, message.attempts, message.last_error) == ("sent", 2, "")
    # The slow answer may have been accepted after all: the retry carried the same key, so the
    # gateway delivered the text once and named its first reference.
    assert [r["key"] for r in gateway.requests] == [f"notification-{message.pk}"] * 2
    assert gateway.delivered == {f"notification-{message.pk}": "GW-1"} and message.provider_ref == "GW-1"
    assert gateway.requests[0]["body"] == {
        "message_id": message.pk, "channel": "sms", "to": "13900000001", "subject": "", "text": "您的电费已逾期。",
    }  # fmt: skip
    assert gateway.requests[0]["auth"] == "Bearer gw-token"


@pytest.mark.parametrize(
    ("reply", "error"), [("503", "HTTP 503"), ("500", "HTTP 500"), ("429", "HTTP 429")], ids=["503", "500", "429"]
)
def test_a_server_error_is_retried_with_backoff(gateway, message, reply, error):
    gateway.script = [reply, reply]
    notifications_send_due(now=T0)
    notifications_send_due(now=T0 + MINUTE)
    message.refresh_from_db()
    assert (message.status, message.attempts, message.next_attempt_at) == ("queued", 2, T0 + 3 * MINUTE)
    assert error in message.last_error
    assert notifications_send_due(now=T0 + 3 * MINUTE).count("sent") == 1


def test_no_connection_is_retried(message):
    with FakeGateway() as closed:
        url = closed.url  # a port that was listening a moment ago and no longer is
    with override_settings(
        NOTIFICATION_BACKENDS={"sms": "customers.notifications.HttpGatewayBackend"},
        NOTIFICATION_GATEWAY_URLS={"sms": url},
        NOTIFICATION_GATEWAY_TIMEOUT=TIMEOUT,
    ):
        assert notifications_send_due(now=T0).count("retry") == 1
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("queued", 1)
    assert "unreachable" in message.last_error


def test_a_refusal_fails_at_once_without_using_up_the_attempts(gateway, message):
    gateway.script = ["400"]
    assert notifications_send_due(now=T0).count("failed") == 1
    message.refresh_from_db()
    assert (message.status, message.attempts, message.next_attempt_at) == ("failed", 1, None)
    assert "refused" in message.last_error and "scripted 400" in message.last_error
    notifications_send_due(now=T0 + 60 * MINUTE)
    assert len(gateway.requests) == 1


def test_a_timeout_that_could_outlast_the_stuck_time_is_a_configuration_error(gateway, message):
    with override_settings(NOTIFICATION_GATEWAY_TIMEOUT=400, NOTIFICATION_STUCK_AFTER_SECONDS=600):
        with pytest.raises(ImproperlyConfigured, match="NOTIFICATION_GATEWAY_TIMEOUT"):
            HttpGatewayBackend()
        # In the sender it is a failed attempt with the reason, never a lost message.
        assert notifications_send_due(now=T0).count("retry") == 1
    message.refresh_from_db()
    assert (message.status, gateway.requests) == ("queued", [])
    assert "NOTIFICATION_GATEWAY_TIMEOUT" in message.last_error
