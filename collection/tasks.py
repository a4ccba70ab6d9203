"""Thin Celery tasks of the collections floor."""

import datetime as dt

from celery import shared_task

from .cutoff import cutoff_propose_due, cutoff_restore_due
from .services import arrangements_check, dunning_run, guarantees_expiry_warn, promises_check


@shared_task(name="collection.tasks.dunning_run_task")
def dunning_run_task(date: str | None = None) -> int:
    """The daily dunning run (beat, in working hours). Idempotent for a day."""
    day = dt.date.fromisoformat(date) if date else None
    promises_check(day=day)  # a promise kept is not dunned as broken; one broken shows on the worklist
    guarantees_expiry_warn(day=day)
    arrangements_check(day=day)  # a broken arrangement lets dunning resume the same morning
    proposed = dunning_run(day=day).proposed
    # Last, after arrangements_check: a customer whose arrangement broke this morning is proposed today.
    cutoff_propose_due(day=day)
    return proposed


@shared_task(name="collection.tasks.cutoff_restore_task")
def cutoff_restore_task() -> int:
    """Restore supply where the cause of a cut-off is cleared (beat, every few minutes: ≤ 3 days)."""
    return cutoff_restore_due()
