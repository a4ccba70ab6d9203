"""Thin Celery tasks of remote prepaid control (imported by billing.tasks so Celery finds them).

`batch_*` tasks are routed to the `batch` queue. Each is safe to run twice."""

import datetime as dt

from celery import shared_task
from django.utils import timezone

from .services.control import control_send_due
from .services.prepaid import prepaid_run


@shared_task(name="billing.tasks.batch_prepaid_run", acks_late=True)
def batch_prepaid_run(date: str | None = None) -> dict:
    """Deduct day D (yesterday by default), check the thresholds, write trip commands; then
    send the new commands at once rather than waiting for the next sender run."""
    day = dt.date.fromisoformat(date) if date else timezone.localdate() - dt.timedelta(days=1)
    result = prepaid_run(day=day)
    control_send_due_task.delay()
    return {
        "day": day.isoformat(),
        "accounts": result.accounts,
        "deducted": result.deducted,
        "missing_usage": len(result.missing_usage),
        "warned_7": result.warned_7,
        "warned_3": result.warned_3,
        "exhausted": result.exhausted,
        "trips": result.trips,
        "escalations": result.escalations,
    }


@shared_task(name="billing.tasks.control_send_due", acks_late=True)
def control_send_due_task() -> dict:
    """Send due trip/restore commands (run every minute by beat). Two runs at once never send a
    command twice: each is claimed by one of them."""
    result = control_send_due()
    return {"reaped": result.reaped, "superseded": result.superseded, "polled": result.polled, **result.outcomes}
