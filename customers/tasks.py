"""Thin Celery tasks of the archive. `notification_*` tasks are routed to the `notify` queue."""

from celery import shared_task

from .notifications import notifications_send_due


@shared_task(name="customers.tasks.notification_send_due", acks_late=True)
def notification_send_due() -> dict[str, int]:
    """Drain the outbox (run every minute by beat). Safe to run twice at once: each message is
    claimed by one run only."""
    result = notifications_send_due()
    return {"reaped": result.reaped, **result.outcomes}
