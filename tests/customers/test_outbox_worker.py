"""The outbox with real Celery worker processes on the real Redis and PostgreSQL: a worker killed
(kill -9) while a provider holds a message leaves that message for a person to check instead of
sending it twice, and two drain tasks running at once send each message once.

The backend (tests/customers/outbox_backends.py) appends every delivery to a file in tmp_path,
so what "the provider" received survives the killed process.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from config.celery import app
from customers.models import Notification
from customers.notifications import notification_queue
from tests.customers.outbox_backends import deliveries
from tests.factories import CustomerFactory

BROKER = os.environ.get("CELERY_BROKER_URL", "")
REQUIRED = os.environ.get("GRIDCOLLECT_REQUIRE_SERVICES") == "1"
STUCK_SECONDS = 2  # the workers' stuck time, so the reaper's turn comes within the test

pytestmark = [
    pytest.mark.worker,
    pytest.mark.skipif(not BROKER.startswith("redis://") and not REQUIRED, reason="needs Redis (make test starts it)"),
]


def _database_url() -> str:
    """The URL of the test database this test's rows are committed to, for the worker."""
    db = connection.settings_dict
    credentials = quote(db["USER"] or "", safe="") + (f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else "")
    return f"postgres://{credentials}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"


class Workers:
    """Starts worker processes on a queue of their own (so no other test's worker takes the
    tasks), each in its own process group, and stops whatever is left at the end."""

    def __init__(self, tmp_path):
        self.queue = f"outbox-test-{uuid.uuid4().hex[:8]}"
        self.log = tmp_path / "deliveries.log"
        self.processes: list[subprocess.Popen] = []

    def start(self, *, pool: str, concurrency: int, **extra_env: str) -> subprocess.Popen:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.base",
            "DEBUG": "0",
            "DATABASE_URL": _database_url(),
            "NOTIFICATION_SMS_BACKEND": "tests.customers.outbox_backends.FileRecordingBackend",
            "NOTIFICATION_STUCK_AFTER_SECONDS": str(STUCK_SECONDS),
            "GRIDCOLLECT_TEST_DELIVERY_LOG": str(self.log),
            **extra_env,
        }
        command = [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", self.queue, "--pool", pool,
                   "-c", str(concurrency), "--without-heartbeat", "--without-mingle", "--without-gossip",
                   "-l", "WARNING"]  # fmt: skip
        process = subprocess.Popen(command, cwd=settings.BASE_DIR, env=env, start_new_session=True)
        self.processes.append(process)
        return process

    def drain(self):
        return app.send_task("customers.tasks.notification_send_due", queue=self.queue)

    @staticmethod
    def kill(process: subprocess.Popen, sig=signal.SIGKILL) -> None:
        try:
            os.killpg(process.pid, sig)  # the worker and its pool children: the whole group
        except ProcessLookupError:
            return
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                self.kill(process, signal.SIGTERM)


@pytest.fixture
def workers(tmp_path):
    if connection.vendor != "postgresql":
        if REQUIRED:
            pytest.fail("the worker test needs PostgreSQL under CI")
        pytest.skip("a worker process cannot see the SQLite test database")
    previous = app.conf.task_always_eager, app.conf.broker_url, app.conf.result_backend
    app.conf.task_always_eager = False
    app.conf.broker_url = BROKER
    app.conf.result_backend = BROKER
    pool = Workers(tmp_path)
    try:
        yield pool
    finally:
        pool.stop_all()
        app.conf.task_always_eager, app.conf.broker_url, app.conf.result_backend = previous


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def _queue(customer, n: int) -> Notification:
    notification, _ = notification_queue(
        channel="sms", recipient=f"139{n:08d}", kind="dunning_reminder", body=f"message {n}", customer=customer,
        dedupe_key=f"worker-test-{n}",
    )  # fmt: skip
    return notification


# Committed rows, so the worker processes see them. serialized_rollback, like the browser tests:
# a plain flush afterwards would recreate content types under new ids and break their restore.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_killed_worker_and_two_drains_at_once_never_send_a_message_twice(workers):
    customer = CustomerFactory()
    first = [_queue(customer, n) for n in range(5)]
    in_flight = first[2]

    # Worker 1 sends the first two, then hangs inside the provider call for the third: the
    # provider has it, the worker never stores the answer.
    worker_1 = workers.start(pool="solo", concurrency=1, GRIDCOLLECT_TEST_HANG_ON=in_flight.recipient)
    workers.drain()
    hanging = workers.log.with_suffix(".hanging")
    _wait_for(hanging.exists, 30, "worker 1 to hang in the backend")
    assert int(hanging.read_text()) == in_flight.pk
    states = dict(Notification.objects.values_list("pk", "status"))
    assert [states[n.pk] for n in first] == ["sent", "sent", "sending", "queued", "queued"]

    workers.kill(worker_1)  # kill -9 of the worker's process group, mid-send
    assert worker_1.returncode == -signal.SIGKILL

    # More work arrives; a new worker with two pool processes runs two drains at once after
    # the in-flight row's stuck time has passed, so its reaper sees it.
    second = [_queue(customer, n) for n in range(5, 15)]
    stuck_at = Notification.objects.get(pk=in_flight.pk).next_attempt_at
    _wait_for(lambda: timezone.now() > stuck_at, STUCK_SECONDS + 5, "the stuck time")
    workers.start(pool="prefork", concurrency=2, GRIDCOLLECT_TEST_SEND_DELAY="0.1")
    results = [workers.drain(), workers.drain()]
    outcomes = [r.get(timeout=30) for r in results]

    delivered = deliveries(workers.log)
    everything = [n.pk for n in first + second]
    assert sorted(delivered) == everything  # each message reached the provider exactly once
    assert sum(o.get("sent", 0) for o in outcomes) == 12  # 2 before the kill, 1 in flight, 12 after
    assert sum(o.get("reaped", 0) for o in outcomes) == 1
    pids = {line.split()[2] for line in workers.log.read_text().splitlines()[3:]}
    assert len(pids) == 2, "both drains sent messages, at the same time, from two processes"

    rows = {n.pk: n for n in Notification.objects.all()}
    died = rows.pop(in_flight.pk)
    # At most once: the message the dead worker held is not sent again by the machine; it
    # waits, failed, for a person to check with the provider and press "retry now".
    assert (died.status, died.attempts, died.next_attempt_at) == ("failed", 1, None)
    assert "may or may not have gone out" in died.last_error
    assert {(n.status, n.attempts) for n in rows.values()} == {("sent", 1)}

    # Another drain later (a redelivered task, the next beat) changes nothing.
    assert workers.drain().get(timeout=30) == {"reaped": 0}
    assert sorted(deliveries(workers.log)) == everything
