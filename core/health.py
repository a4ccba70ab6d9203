"""Health of the parts the application needs: the database and the Celery broker."""

from django.conf import settings
from django.db import connection


def database_status() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return True, connection.vendor
    except Exception as exc:  # any failure means "not healthy"; the message goes to the operator
        return False, f"{type(exc).__name__}: {exc}"


def broker_status() -> tuple[bool, str]:
    url = settings.CELERY_BROKER_URL
    if not url or url.startswith("memory://") or settings.CELERY_TASK_ALWAYS_EAGER and not url:
        return True, "in-process (no broker configured)"
    try:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        client.ping()
        return True, "redis"
    except Exception as exc:  # unreachable or refusing broker
        return False, f"{type(exc).__name__}: {exc}"
