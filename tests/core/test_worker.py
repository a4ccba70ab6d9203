"""A real Celery worker process, on the real Redis broker, completes a task."""

import os
import subprocess
import sys
import time

import pytest
from django.conf import settings

from config.celery import app

BROKER = os.environ.get("CELERY_BROKER_URL", "")

pytestmark = pytest.mark.worker


@pytest.mark.skipif(not BROKER.startswith("redis://"), reason="needs a Redis broker (make test starts one)")
def test_a_real_worker_completes_a_task_from_each_queue():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.base", "DEBUG": "0"}
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            "default,notify,batch",
            "-c",
            "1",
            "--pool",
            "solo",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
            "-l",
            "WARNING",
        ],
        cwd=settings.BASE_DIR,
        env=env,
    )
    previous = app.conf.task_always_eager, app.conf.broker_url, app.conf.result_backend
    app.conf.task_always_eager = False
    app.conf.broker_url = BROKER
    app.conf.result_backend = BROKER
    try:
        results = [
            app.send_task("core.tasks.ping", args=[f"pong-{queue}"], queue=queue)
            for queue in ("default", "notify", "batch")
        ]
        deadline = time.monotonic() + 60
        values = [r.get(timeout=max(1.0, deadline - time.monotonic())) for r in results]
        assert values == ["pong-default", "pong-notify", "pong-batch"]
    finally:
        app.conf.task_always_eager, app.conf.broker_url, app.conf.result_backend = previous
        worker.terminate()
        worker.wait(20)


def test_tasks_are_routed_to_named_queues():
    routes = settings.CELERY_TASK_ROUTES
    assert {"default", "notify", "batch"} >= {r["queue"] for r in routes.values()} | {
        settings.CELERY_TASK_DEFAULT_QUEUE
    }
    assert {r["queue"] for r in routes.values()} == {"notify", "batch"}
