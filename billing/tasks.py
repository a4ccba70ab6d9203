"""Thin Celery tasks: load ids, call one service. Each is safe to run twice."""

import datetime as dt

from celery import shared_task
from django.utils import timezone

from .services.bills import billing_run_execute
from .services.penalties import penalties_accrue


@shared_task(name="billing.tasks.billing_run_task", acks_late=True)
def billing_run_task(run_id: int) -> int:
    """Routed to the `batch` queue. A re-delivered message finds the run claimed or done."""
    return billing_run_execute(run_id=run_id).bills_created


@shared_task(name="billing.tasks.batch_accrue_penalties")
def accrue_penalties_task(date: str | None = None) -> int:
    day = dt.date.fromisoformat(date) if date else timezone.localdate() - dt.timedelta(days=1)
    return penalties_accrue(through=day)
