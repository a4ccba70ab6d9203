"""Thin Celery tasks of the risk floor."""

import datetime as dt

from celery import shared_task

from .alerts import alerts_raise
from .services import score_run


@shared_task(name="risk.tasks.score_customers_task", acks_late=True)
def score_customers_task(date: str | None = None) -> int:
    """Nightly scoring of every customer (chunked; resumable: a rerun scores only the rest)."""
    from django.utils import timezone

    day = dt.date.fromisoformat(date) if date else timezone.localdate()
    return score_run(as_of=day).done


@shared_task(name="risk.tasks.alerts_raise_task")
def alerts_raise_task(date: str | None = None) -> int:
    return alerts_raise(day=dt.date.fromisoformat(date) if date else None)
