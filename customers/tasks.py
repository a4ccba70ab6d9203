"""Thin Celery tasks of the archive. `notification_*` tasks are routed to the `notify` queue."""

from celery import shared_task

from .notifications import notifications_send_due


@shared_task(name="customers.tasks.notification_send_due", acks_late=True)
def notification_send_due() -> dict[str, int]:
    """Drain the outbox (run every minute by beat). Safe to run twice at once: each message is
    claimed by one run only."""
    result = notifications_send_due()
    return {"reaped": result.reaped, **result.outcomes}


@shared_task(
    name="customers.tasks.announcement_fan_out_task",
    acks_late=True,
    autoretry_for=(Exception,),
    retry_backoff=30,
    max_retries=5,
)
def announcement_fan_out_task(announcement_id: int) -> int:
    """Write a large notice's messages (see customers.announcements). Safe to run again, so an
    error (the database away a moment) is retried rather than leaving the notice half written."""
    from .announcements import announcement_fan_out

    return announcement_fan_out(announcement_id).messages
