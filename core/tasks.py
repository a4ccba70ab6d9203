from celery import shared_task


@shared_task(name="core.tasks.ping")
def ping(value: str = "pong") -> str:
    """A task with no side effects, for health checks and the worker integration test."""
    return value
